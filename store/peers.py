"""Reading and adding to the peer sums (``detectors.peers``) in the store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from detectors.peers import cell_width
from store.models import PeerSum
from store.upsert import insert_for

__all__ = ["read_peer_sums", "add_peer_sums", "replace_peer_sums"]

_COLUMNS = tuple(f"c{i}" for i in range(9))
Key = tuple[str, str, int]


def read_peer_sums(session: Session) -> dict[Key, np.ndarray]:
    out: dict[Key, np.ndarray] = {}
    cols = [getattr(PeerSum, c) for c in _COLUMNS]
    for row in session.execute(select(PeerSum.segment, PeerSum.tbl, PeerSum.period, *cols)):
        seg, tbl, period, *values = row
        out[(seg, tbl, int(period))] = np.array(values[:cell_width(tbl)], dtype=float)
    return out


def _rows(cells: Iterable[tuple[Key, np.ndarray]]) -> list[dict]:
    rows = []
    for (seg, tbl, period), cell in cells:
        values = np.zeros(len(_COLUMNS))
        values[:len(cell)] = cell
        rows.append({"segment": seg, "tbl": tbl, "period": int(period),
                     **{c: float(v) for c, v in zip(_COLUMNS, values)}})
    return rows


def add_peer_sums(session: Session, delta: Mapping[Key, np.ndarray]) -> None:
    """Add ``delta`` cell by cell, in key order (two workers adding at once lock rows in the same order).

    Run it last in a batch's transaction: on PostgreSQL the rows stay locked until the commit.
    """
    if not delta:
        return
    table = PeerSum.__table__
    stmt = insert_for(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["segment", "tbl", "period"],
        set_={c: getattr(table.c, c) + getattr(stmt.excluded, c) for c in _COLUMNS})
    session.connection().execute(stmt, _rows(sorted(delta.items())))


def replace_peer_sums(session: Session, sums: Mapping[Key, np.ndarray]) -> None:
    """Write ``sums`` as the whole table (a rebuild from the histories)."""
    session.execute(delete(PeerSum))
    if sums:
        session.connection().execute(PeerSum.__table__.insert(), _rows(sorted(sums.items())))
