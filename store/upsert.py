"""INSERT ... ON CONFLICT for the two dialects the store runs on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

__all__ = ["insert_for"]

_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def insert_for(session: Session, table: Any):
    """The dialect's ``insert`` construct, which has ``on_conflict_do_update/nothing``."""
    name = session.get_bind().dialect.name
    if name not in _INSERT:  # pragma: no cover - only the two supported stores reach here
        raise RuntimeError(f"unsupported database dialect {name!r}")
    return _INSERT[name](table)
