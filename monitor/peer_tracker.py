"""Keeping the portfolio's peer sums in step with the histories, batch by batch.

The sums are the total of every enterprise's contribution
(``detectors.peers.firm_sums``). A batch changes the contribution of the
firms it touches; the tracker adds the difference, computed from each touched
firm's history before and after the batch. That needs the history before the
batch, which the pipeline has when the firm is in its cache (the cache is
warmed before the batch's writes). A batch too large for the cache leaves the
sums stale; the next detection pass then rebuilds them from every history in
the store, as a backfill's single detection pass reads them all anyway.

Nothing is applied in memory until the batch's transaction commits, and the
store's copy is added to in that transaction: the sums are exactly as durable
as the events.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from detectors.peers import PeerBaseline, Sums, add_sums, crossings, diff_sums, firm_sums
from detectors.records import History
from store.models import Enterprise
from store.peers import add_peer_sums, read_peer_sums, replace_peer_sums

__all__ = ["PeerTracker"]

_MEMO = "peer_sums"


class PeerTracker:
    """``refresh_seconds``: re-read the store's sums this often (other workers add to them); None: never,
    this process is the only writer (the embedded daemon)."""

    def __init__(self, *, min_firms: int = 30, refresh_seconds: float | None = None) -> None:
        self.min_firms = min_firms
        self.refresh_seconds = refresh_seconds
        self.sums: Sums = {}
        self.stale = False
        self._pending: Sums = {}
        self._baseline: PeerBaseline | None = None
        self._loaded_at: float | None = None

    # -- loading ----------------------------------------------------------------
    def load(self, session: Session) -> None:
        self.sums = read_peer_sums(session)
        self._baseline = None
        self._loaded_at = time.monotonic()
        if not self.sums and session.execute(select(Enterprise.id).limit(1)).first() is not None:
            self.stale = True  # a store from before peer sums existed

    def maybe_refresh(self, session: Session) -> None:
        if self._loaded_at is None or self.refresh_seconds is not None and time.monotonic() - self._loaded_at >= self.refresh_seconds:
            self.load(session)

    # -- one batch --------------------------------------------------------------------
    @staticmethod
    def contribution(history: History) -> Sums:
        """The firm's current contribution, remembered with its history until its tables change."""
        key = (tuple((k, t.fingerprint()) for k, t in sorted(history.monthly.items())), len(history.discrete))
        memo = history.memo.get(_MEMO)
        if memo is not None and memo[0] == key:
            return memo[1]
        sums = firm_sums(history)
        history.memo[_MEMO] = (key, sums)
        return sums

    def record(self, before: dict[str, Sums], after: Iterable[History], missing: bool) -> None:
        """Stage the difference the batch made: ``before`` is each cached firm's contribution before it."""
        if missing:
            self.stale = True
        for h in after:
            b = before.get(h.enterprise_id)
            if b is None:
                continue
            add_sums(self._pending, diff_sums(b, self.contribution(h)))

    def record_score(self, month: int, before: float, after: float) -> None:
        """Stage the calibration levels one enterprise's score crossed in ``month``."""
        cell = crossings(before, after)
        if cell.any():
            add_sums(self._pending, {("", "cal", month): cell})

    def write(self, session: Session) -> None:
        """Last statement of the batch's transaction: add the staged difference to the store's sums."""
        if not self.stale:
            add_peer_sums(session, {k: v for k, v in self._pending.items() if np.any(v)})

    def commit(self) -> None:
        if self._pending:
            add_sums(self.sums, self._pending)
            self._baseline = None
        self._pending = {}

    def rollback(self) -> None:
        self._pending = {}

    # -- rebuild and read ---------------------------------------------------------------
    def rebuild(self, session: Session, histories: Callable[[list[str]], dict[str, History]],
                chunk: int = 2000) -> None:
        """Sum every enterprise's contribution from the store and make that the sums."""
        ids = list(session.scalars(select(Enterprise.id).order_by(Enterprise.id)))
        # score crossings are counted as they happen, not derived from histories: they survive a rebuild
        total: Sums = {k: v for k, v in self.sums.items() if k[1] == "cal"}
        add_sums(total, {k: v for k, v in self._pending.items() if k[1] == "cal"})
        for i in range(0, len(ids), chunk):
            for h in histories(ids[i:i + chunk]).values():
                add_sums(total, self.contribution(h))
        replace_peer_sums(session, total)
        self.sums = total
        self.stale = False
        self._baseline = None
        self._pending = {}

    def baseline(self) -> PeerBaseline:
        if self._baseline is None:
            self._baseline = PeerBaseline.from_sums(self.sums, min_firms=self.min_firms)
        return self._baseline
