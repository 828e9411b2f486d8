"""A state change of a stored detection: what ``monitor.reconcile`` hands the fan-out in ``alerts``.

Defined here, beside the detection rows it refers to, because both sides may
import ``store`` while ``alerts`` may not import ``monitor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from store.models import DetectionRow

__all__ = ["Transition", "TransitionKind"]

TransitionKind = Literal["new", "escalated", "deescalated", "resolved", "updated"]


@dataclass(frozen=True)
class Transition:
    """``new``, ``escalated``, ``deescalated`` or ``resolved``; ``updated`` is evidence only.

    ``previous_severity`` is the detection's severity before the change (for
    escalations, de-escalations and resolutions).
    """

    kind: TransitionKind
    row: DetectionRow
    previous_severity: int | None = None
