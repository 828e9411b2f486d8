"""Alert identity: (bank, enterprise, signal, change period).

The id is a hash of the identity rather than a database sequence, so the
embedded daemon, every Kafka worker and every replay name the same alert the
same way, and a webhook receiver can drop a duplicate by id alone.
"""

from __future__ import annotations

import hashlib

__all__ = ["alert_id", "channel_key"]


def alert_id(bank_id: str, enterprise_id: str, signal: str, change_period: str) -> str:
    """
    >>> alert_id("bank_a", "91350100M000100Y43", "headcount_drop", "2024-03")
    'lw-d4072baf9dc663a77a25'
    """
    digest = hashlib.sha256(f"{bank_id}|{enterprise_id}|{signal}|{change_period}".encode()).hexdigest()
    return "lw-" + digest[:20]


def channel_key(url: str) -> str:
    """Stable reference to a channel URL that does not store its secrets."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]
