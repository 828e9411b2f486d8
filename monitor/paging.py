"""Pages of a listing, and the opaque cursor that fetches the next one.

Listings page by key (the sort columns of the last row), not by offset: a
page fetched while the daemon writes new rows never repeats or skips one.
The cursor is that key, encoded so that callers treat it as a token; an HTTP
API passes it through as a query parameter.

>>> c = encode_cursor(("2025-01-20T00:00:00", "lw-1"))
>>> decode_cursor(c, 2)
('2025-01-20T00:00:00', 'lw-1')
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from monitor.exceptions import BadCursor, InvalidRequest

__all__ = ["Page", "encode_cursor", "decode_cursor", "check_limit"]

T = TypeVar("T")

@dataclass(frozen=True)
class Page(Generic[T]):
    """Up to ``limit`` items; ``next_cursor`` fetches the rest, None when there is no more."""

    items: tuple[T, ...]
    next_cursor: str | None = None


def encode_cursor(key: Sequence[str | int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> tuple:
    """The key in ``cursor``; ``BadCursor`` when it is not one this listing handed out."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        key = None
    if not isinstance(key, list) or len(key) != size or not all(isinstance(k, str | int) for k in key):
        raise BadCursor(cursor)
    return tuple(key)


def check_limit(limit: int) -> int:
    """``limit`` if it is a page size at all; an interface that serves many callers caps it further."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidRequest(f"limit must be a whole number of at least 1, got {limit!r}")
    return limit
