"""INSERT ... ON CONFLICT for the two dialects the store runs on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

__all__ = ["insert_for"]


def insert_for(session: Session, table: Any):
    """The dialect's ``insert`` construct, which has ``on_conflict_do_update/nothing``."""
    name = session.get_bind().dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:  # pragma: no cover - only the two supported stores reach here
        raise RuntimeError(f"unsupported database dialect {name!r}")
    return insert(table)
