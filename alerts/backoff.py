"""When to try a failed delivery again.

Exponential backoff, so a receiver that is down for an hour is not hammered,
with a cap, so a long outage is still retried at a steady pace, and with
jitter, so the alerts that queued up during an outage do not all hit the
receiver in the same second when it comes back.
"""

from __future__ import annotations

import random
from typing import Protocol

__all__ = ["MAX_ATTEMPTS", "next_attempt_delay"]

#: Attempts per delivery before it is marked failed. With the defaults the
#: waits are 30 s, 1, 2, 4, 8, 16 and 32 min: about an hour of trying, long
#: enough to ride out a receiver restart, short enough that a failure is
#: visible the same morning.
MAX_ATTEMPTS = 8


class _Random(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


def next_attempt_delay(
    attempt: int,
    *,
    base: float = 30.0,
    factor: float = 2.0,
    cap: float = 3600.0,
    jitter: float = 0.1,
    rng: _Random | None = None,
) -> float:
    """Seconds to wait after the ``attempt``-th failed attempt (1-based).

    Parameters
    ----------
    attempt
        How many attempts have failed so far; 1 after the first failure.
    base
        Wait after the first failure.
    factor
        Growth of the wait per further failure.
    cap
        Longest wait, jitter included.
    jitter
        Relative spread: the wait is multiplied by a uniform factor in
        ``[1 - jitter, 1 + jitter]``.
    rng
        Source of randomness (anything with ``uniform``); seed it for
        reproducible schedules.

    Examples
    --------
    >>> [next_attempt_delay(n, jitter=0) for n in (1, 2, 3)]
    [30.0, 60.0, 120.0]
    >>> next_attempt_delay(50, jitter=0)
    3600.0
    >>> round(next_attempt_delay(2, rng=random.Random(7)), 2)
    57.89
    """
    if not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"attempt must be an integer >= 1, got {attempt!r}")
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor!r}")
    if not 0 <= jitter < 1:
        raise ValueError(f"jitter must be in [0, 1), got {jitter!r}")
    try:
        delay = base * factor ** (attempt - 1)
    except OverflowError:
        delay = cap
    delay = min(delay, cap)
    if jitter:
        delay *= (rng or random).uniform(1 - jitter, 1 + jitter)
    return min(delay, cap)
