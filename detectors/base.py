"""The one shape every detector has: what ``DetectorSet``, corroboration and reconciliation rely on.

A detector is a pure function of an enterprise's history with a few facts
about itself declared next to it, so no other module has to guess them from
its output:

* ``signal``: the name its findings carry;
* ``family``: the evidence family it belongs to (findings of one family do not
  corroborate each other: a headcount drop and a housing-fund drop are the
  same people);
* ``inputs``: the monthly tables it reads, so its findings can be reused while
  those tables are unchanged; None when it reads discrete events (or the
  latest period of every table), and so must run on every change;
* ``same_change_months``: how far the start period it reports may move as
  data accrues and still be the same change (a level shift's start can move
  by a quarter, a rate change's by two months; a rule's never moves), which
  is what keeps an alert's identity stable;
* ``detect(history, *, shared=None, peers=None)``: the findings. ``shared`` is
  one dict per history per run, in which detectors reading the same stream
  may share arithmetic; a detector that shares nothing ignores it. ``peers``
  is what the rest of the portfolio did in the same months
  (``detectors.peers.PeerBaseline``), for detectors that judge a firm against
  its peers; the others ignore it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from detectors.exceptions import BadParameter
from detectors.peers import PeerBaseline
from detectors.records import Detection, History

__all__ = ["Detector", "checked_identity"]


@runtime_checkable
class Detector(Protocol):
    """What ``DetectorSet`` runs (see the module docstring for each member's meaning)."""

    @property
    def signal(self) -> str: ...

    @property
    def family(self) -> str: ...

    @property
    def inputs(self) -> tuple[str, ...] | None: ...

    @property
    def same_change_months(self) -> int: ...

    def detect(self, history: History, *, shared: dict | None = None,
               peers: PeerBaseline | None = None) -> list[Detection]: ...


def checked_identity(signal: str, family: str) -> tuple[str, str]:
    """(signal, family) as a detector's ``__init__`` keeps them; an empty family is the signal's own."""
    if not isinstance(signal, str) or not signal:
        raise BadParameter(f"signal must be a non-empty name; got {signal!r}")
    if not isinstance(family, str):
        raise BadParameter(f"family must be a name; got {family!r}")
    return signal, family or signal
