"""Errors raised by streams, named after the failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.records import Rejection

__all__ = ["StreamError", "EventRejected"]


class StreamError(Exception):
    """Base for streams errors."""


class EventRejected(StreamError, ValueError):
    """A raw event failed the contract.

    It carries the full ``Rejection`` so the caller can dead-letter it without
    re-parsing; ``str()`` is the one line an operator reads in a log, e.g.
    "events.jsonl:17: future_period: data.period 2031-01 is after the current
    month 2026-11".
    """

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(str(rejection))
        self.rejection = rejection

    @property
    def reason(self) -> str:
        return self.rejection.reason

    def __reduce__(self):  # keep it picklable across process pools
        return (type(self), (self.rejection,))
