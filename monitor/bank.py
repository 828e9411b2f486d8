"""Everything one bank does, and nothing that reaches another bank's rows.

``Loanwatch.bank("bank_a")`` hands out a ``BankService`` bound to one
configured bank: its watchlist, its alerts and what its risk managers do
with them, its silences, its digest and its audit trail. Every query and
every change is filtered by that bank, so an interface that has
authenticated a bank (the CLI's ``BANK`` argument, an HTTP API's
credentials) can only ever pass this object on: another bank's alert or
silence id is answered with ``NotFound``, exactly as an id that does not
exist.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from alerts import actions
from alerts.digest import build_digest, queue_digest, render_digest
from alerts.exceptions import InvalidAction
from alerts.exceptions import NotFound as AlertsNotFound
from alerts.policy import BankPolicy
from alerts.queries import alert_detail
from alerts.records import AlertDetail, AlertState, AlertSummary, AuditRecord
from alerts.silences import SilenceView, add_silence, end_silence, list_silences
from alerts.watchlist import LoanRow, add_entries, list_entries, remove_entries
from detectors.periods import as_utc
from monitor.exceptions import InvalidRequest, NotFound
from monitor.listings import alerts_page, audit_page
from monitor.paging import Page, check_limit, decode_cursor, encode_cursor
from monitor.results import DigestReport, WatchlistUpdate
from monitor.watchlist_csv import check_row, parse_watchlist_csv

__all__ = ["BankService", "translated"]


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """The alerts package's errors as the library's own (``NotFound``, ``InvalidRequest``)."""
    try:
        yield
    except AlertsNotFound as exc:
        raise NotFound(str(exc)) from None
    except InvalidAction as exc:
        raise InvalidRequest(str(exc)) from None


class BankService:
    """The actions of one bank. Get one from ``Loanwatch.bank(bank_id)``."""

    def __init__(self, policy: BankPolicy, sessions: sessionmaker[Session], *, clock: Callable[[], datetime],
                 recent_window_months: int) -> None:
        self.policy = policy
        self._sessions = sessions
        self._clock = clock
        self._recent_window = recent_window_months

    @property
    def id(self) -> str:
        return self.policy.id

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        with translated(), self._sessions.begin() as session:
            yield session

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        with translated(), self._sessions() as session:
            yield session

    # -- watchlist -------------------------------------------------------------------------
    def watch(self, rows: Iterable[LoanRow], *, replace: bool = False) -> WatchlistUpdate:
        """Add or update loans (``replace``: the bank's other loans are removed).

        Current findings on enterprises the bank did not watch before are
        alerted to it now, as a detection pass would.
        """
        rows = tuple(rows)
        with self._write() as s:
            _, changes = add_entries(s, self.policy, rows, now=self._clock(),
                                     recent_window=self._recent_window, replace=replace)
        return WatchlistUpdate(self.id, rows, tuple(c.view for c in changes))

    def import_watchlist(self, text: str, *, source: str = "watchlist.csv", replace: bool = False) -> WatchlistUpdate:
        """Load a watchlist CSV; every bad row is reported (``BadWatchlist``) and then nothing is imported."""
        return self.watch(parse_watchlist_csv(text, source=source), replace=replace)

    def add_loan(self, enterprise_id: str, *, loan_id: str, exposure: float | str, due_date: date | str,
                 relationship_manager: str | None = None, name: str | None = None) -> WatchlistUpdate:
        """One loan, checked like a CSV row (``InvalidRequest`` naming every bad field)."""
        row, errors = check_row({"enterprise_id": enterprise_id, "loan_id": loan_id, "exposure": str(exposure),
                                 "due_date": str(due_date), "relationship_manager": relationship_manager or "",
                                 "name": name or ""}, "arguments")
        if errors:
            raise InvalidRequest("; ".join(errors))
        return self.watch([row])

    def unwatch(self, *, enterprise_id: str | None = None, loan_id: str | None = None) -> int:
        """Remove the bank's loans to ``enterprise_id`` (all, or only ``loan_id``); returns how many."""
        if not enterprise_id and not loan_id:
            raise InvalidRequest("name an enterprise or a loan to remove")
        with self._write() as s:
            n = remove_entries(s, self.id, enterprise_id=enterprise_id, loan_id=loan_id)
        if n == 0:
            raise NotFound("nothing matched: no such loan on this bank's watchlist")
        return n

    def watchlist(self, *, cursor: str | None = None, limit: int = 1000) -> Page[LoanRow]:
        """The bank's loans, by enterprise and loan id."""
        after = decode_cursor(cursor, 2) if cursor else None
        with self._read() as s:
            rows = list_entries(s, self.id, after=after, limit=check_limit(limit) + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(tuple(rows), encode_cursor((rows[-1].enterprise_id, rows[-1].loan_id)) if more else None)

    # -- alerts ----------------------------------------------------------------------------
    def alerts(self, *, status: str | None = None, failed_only: bool = False, cursor: str | None = None,
               limit: int = 200) -> Page[AlertSummary]:
        """The bank's alerts, most recently changed first, with each channel's delivery status."""
        return alerts_page(self._sessions, bank_id=self.id, status=status, failed_only=failed_only, cursor=cursor,
                           limit=limit)

    def alert(self, alert_id: str) -> AlertDetail:
        """One alert with its evidence and audit trail."""
        with self._read() as s:
            return alert_detail(s, self.id, alert_id)

    def ack(self, alert_id: str, *, by: str) -> AlertState:
        """Acknowledge: someone has seen it."""
        return self._act(actions.acknowledge, alert_id, by=by)

    def assign(self, alert_id: str, *, to: str, by: str) -> AlertState:
        return self._act(actions.assign, alert_id, to=to, by=by)

    def comment(self, alert_id: str, text: str, *, by: str) -> AlertState:
        """A comment, kept in the audit trail."""
        return self._act(actions.comment, alert_id, text=text, by=by)

    def resolve(self, alert_id: str, *, code: str, by: str, note: str | None = None) -> AlertState:
        """Resolve with one of ``alerts.actions.RESOLUTION_CODES``."""
        return self._act(actions.resolve, alert_id, code=code, by=by, note=note)

    def feedback(self, alert_id: str, *, verdict: str, by: str, note: str | None = None) -> AlertState:
        """Mark the alert ``true_positive`` or ``false_positive`` (feeds threshold tuning)."""
        return self._act(actions.feedback, alert_id, verdict=verdict, by=by, note=note)

    def _act(self, action, alert_id: str, **kwargs) -> AlertState:
        with self._write() as s:
            return AlertState.of(action(s, self.id, alert_id, now=self._clock(), **kwargs))

    # -- silences --------------------------------------------------------------------------
    def silence(self, *, enterprise_id: str | None = None, signal: str | None = None, reason: str, author: str,
                expires_at: datetime | None = None, duration: timedelta | None = None) -> SilenceView:
        """Hold back the bank's alerts on an enterprise and/or a signal until ``expires_at`` (or for
        ``duration``); the bank is told when it expires."""
        if (expires_at is None) == (duration is None):
            raise InvalidRequest("give exactly one of expires_at and duration")
        if expires_at is not None and expires_at.tzinfo is None:
            raise InvalidRequest("expires_at needs a UTC offset, e.g. 2025-03-01T00:00:00+08:00")
        now = self._clock()
        until = as_utc(expires_at if expires_at is not None else now + duration)
        with self._write() as s:
            sil = add_silence(s, self.id, enterprise_id=enterprise_id, signal=signal, reason=reason, author=author,
                              expires_at=until, now=now)
            return SilenceView.of(sil, now)

    def silences(self, *, include_old: bool = False) -> list[SilenceView]:
        """Active silences (``include_old``: expired and ended ones too)."""
        with self._read() as s:
            return list_silences(s, self.id, self._clock(), include_old=include_old)

    def end_silence(self, silence_id: int, *, by: str) -> SilenceView:
        """End a silence now; who ended it is recorded."""
        now = self._clock()
        with self._write() as s:
            return SilenceView.of(end_silence(s, self.id, silence_id, by=by, now=now), now)

    # -- digest and audit ------------------------------------------------------------------
    def digest(self, *, hours: float = 24, send: bool = False) -> DigestReport:
        """The bank's alerts of the last ``hours``, ranked by its exposure, then severity.

        ``send`` queues it to the bank's digest receivers (delivered by the
        next delivery pass, ``Loanwatch.deliver``).
        """
        now = self._clock()
        since = now - timedelta(hours=hours)
        with self._write() as s:
            payload = (queue_digest(s, self.policy, now=now, since=since) if send
                       else build_digest(s, self.policy, since=since, now=now))
        return DigestReport(payload, render_digest(payload), queued=send)

    def audit(self, *, alert_id: str | None = None, enterprise_id: str | None = None, actor: str | None = None,
              action: str | None = None, since: datetime | None = None, cursor: str | None = None,
              limit: int = 200) -> Page[AuditRecord]:
        """The bank's audit trail: the latest ``limit`` entries, oldest first; ``next_cursor`` goes further back."""
        return audit_page(self._sessions, bank_id=self.id, alert_id=alert_id, enterprise_id=enterprise_id,
                          actor=actor, action=action, since=since, cursor=cursor, limit=limit)
