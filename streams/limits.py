"""The stated limits of the event contract, in one place.

Each limit is here because something downstream cannot hold more: the store's
columns, SQLite's and PostgreSQL's integers, a float64 detector series, the
Python stack. An event over a limit is rejected with a reason naming it, so no
stage after the contract ever meets a value it cannot store or compute with.
``README.md`` "Event format" states the same numbers to senders.
"""

from __future__ import annotations

from datetime import timedelta

__all__ = [
    "MAX_RAW_BYTES",
    "MAX_ID_CHARS",
    "MAX_DEPTH",
    "MAX_COUNT",
    "MAX_AMOUNT",
    "MAX_INT",
    "FUTURE_SKEW",
    "MIN_YEAR",
    "MAX_YEAR",
]

#: One event's raw text, in UTF-8 bytes.
MAX_RAW_BYTES = 64 * 1024
#: ``event_id`` and ``source``, in characters: the store's key columns are VARCHAR(200).
MAX_ID_CHARS = 200
#: Nesting of objects and arrays, the event object itself being level 1 and ``data`` level 2.
#: Far below where any JSON library or the store's JSON functions run out of stack.
MAX_DEPTH = 32
#: Headcounts, joiners, leavers and housing-fund contributors: more people than work for
#: any enterprise on earth (the largest employers have about 2-3 million).
MAX_COUNT = 10_000_000
#: Amounts (CNY, or metered units for utilities) and registered capital: a thousand
#: trillion, above China's yearly GDP, and still exact in a float64 to the cent.
MAX_AMOUNT = 1e15
#: Any other integer must fit a signed 64-bit column (SQLite INTEGER, PostgreSQL bigint).
MAX_INT = 2**63 - 1
#: Clocks of the platform and of this host disagree a little; more than this is a bad timestamp.
FUTURE_SKEW = timedelta(minutes=5)
MIN_YEAR = 1990
MAX_YEAR = 2100
