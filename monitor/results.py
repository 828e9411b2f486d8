"""What the service object's actions return, beside the alerts package's own records.

Plain, frozen data: an interface prints it (the CLI), dumps it as JSON, or
serialises it for HTTP. Nothing here holds a session or an ORM row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts.message import AlertView, Message
from alerts.watchlist import LoanRow
from monitor.paging import Page
from store.dead_letters import RejectedInput

__all__ = ["WatchlistUpdate", "DigestReport", "RejectedReport"]


@dataclass(frozen=True)
class WatchlistUpdate:
    """Loans added or updated for one bank, and the current findings that became news to it."""

    bank_id: str
    loans: tuple[LoanRow, ...]
    alerted: tuple[AlertView, ...] = ()


@dataclass(frozen=True)
class DigestReport:
    """A bank's digest: the document its digest receivers get, and the same rendered for people.

    ``queued`` says whether it was put in the outbox for the bank's digest
    receivers (it is then sent by the next delivery pass).
    """

    payload: dict[str, Any]
    message: Message
    queued: bool = False


@dataclass(frozen=True)
class RejectedReport:
    """The dead-letter store: counts per reason over the whole store, and a page of rejected inputs."""

    counts: dict[str, int]
    page: Page[RejectedInput]
