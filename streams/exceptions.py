"""Errors raised by streams, named after the failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.records import Rejection

__all__ = ["StreamError", "EventRejected", "ContractViolation"]


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


class ContractViolation(StreamError, ValueError):
    """One contract failure found while checking an event, before location and raw are attached.

    Raised and caught inside the contract only (``streams.contract`` turns it
    into a ``Rejection``); an exception rather than a return value because the
    valid path then pays nothing for the checks that did not fail.
    """

    __slots__ = ("reason", "detail", "field")

    def __init__(self, reason: str, detail: str, field: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.field = field
