"""Tables of the Loanwatch store.

One schema for SQLite (embedded) and PostgreSQL (distributed). Monthly
records are keyed by (enterprise, kind, period) so a correction replaces the
value in place; discrete events are appended. Detections and alerts carry
their identities as unique constraints, so a replayed input or a second worker
cannot create a second row for the same change.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base", "Enterprise", "MonthlyRecord", "DiscreteRecord", "SeenEvent", "RejectedEvent", "Bank",
    "WatchlistEntry", "DetectionRow", "AlertRow", "Delivery", "PipelineState", "Silence", "AuditEntry",
]

USCC = String(18)
PERIOD = String(7)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Enterprise(Base):
    """One monitored enterprise. ``pending_detection`` is set in the same
    transaction that stores new records for it and cleared by the detection
    pass that looks at them, so a crash in between cannot skip detection."""

    __tablename__ = "enterprises"
    __table_args__ = (Index("ix_enterprise_pending", "pending_detection"),)
    id: Mapped[str] = mapped_column(USCC, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    last_period: Mapped[str | None] = mapped_column(PERIOD)
    risk_level: Mapped[int] = mapped_column(Integer, default=0)
    #: the enterprise's evidence score (``detectors.evidence``) at its last detection: the next detection
    #: counts the levels it crossed, which is how the portfolio calibrates its own threshold
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    pending_detection: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime | None]


class MonthlyRecord(Base):
    __tablename__ = "monthly_records"
    enterprise_id: Mapped[str] = mapped_column(USCC, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(PERIOD, primary_key=True)
    data: Mapped[dict] = mapped_column(JSON)
    event_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]


class DiscreteRecord(Base):
    __tablename__ = "discrete_records"
    __table_args__ = (Index("ix_discrete_enterprise_period", "enterprise_id", "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enterprise_id: Mapped[str] = mapped_column(USCC)
    type: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(PERIOD)
    occurred_at: Mapped[datetime]
    data: Mapped[dict] = mapped_column(JSON)
    event_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]


class SeenEvent(Base):
    """Every accepted (source, event_id): a repeat is a duplicate and changes nothing."""

    __tablename__ = "seen_events"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)


class RejectedEvent(Base):
    """Dead-letter store: the raw input and why it was refused, kept for fix-and-replay.

    One row per rejected line, identified by ``fingerprint`` (a hash of its
    location and raw text): the same line ingested again only counts up
    ``received_count``.
    """

    __tablename__ = "rejected_events"
    __table_args__ = (
        Index("ix_rejected_reason", "reason"),
        UniqueConstraint("fingerprint", name="uq_rejected_fingerprint"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(32))
    received_count: Mapped[int] = mapped_column(Integer, default=1)
    received_at: Mapped[datetime]
    location: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    field: Mapped[str | None] = mapped_column(String(100))
    event_id: Mapped[str | None] = mapped_column(String(200))
    enterprise_id: Mapped[str | None] = mapped_column(String(64))
    raw: Mapped[str] = mapped_column(Text)
    replayed_at: Mapped[datetime | None]


class Bank(Base):
    """Mirror of the banks in config, so watchlists and alerts can reference them."""

    __tablename__ = "banks"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(8))
    min_severity: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime | None]


class WatchlistEntry(Base):
    __tablename__ = "watchlist_entries"
    __table_args__ = (
        UniqueConstraint("bank_id", "loan_id", name="uq_watchlist_bank_loan"),
        Index("ix_watchlist_enterprise", "enterprise_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bank_id: Mapped[str] = mapped_column(String(64), ForeignKey("banks.id"))
    enterprise_id: Mapped[str] = mapped_column(USCC)
    loan_id: Mapped[str] = mapped_column(String(100))
    exposure: Mapped[float] = mapped_column(Float)
    due_date: Mapped[date | None] = mapped_column(Date)
    relationship_manager: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    added_at: Mapped[datetime]


class DetectionRow(Base):
    """A change found on an enterprise, computed once whoever watches it.

    status: ``active`` (current, alerts may follow), ``historical`` (too old
    when first seen: kept as context, never alerted), ``resolved`` (the series
    went back to normal or the listing was lifted).
    """

    __tablename__ = "detections"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "signal", "start_period", name="uq_detection_identity"),
        Index("ix_detection_enterprise_status", "enterprise_id", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enterprise_id: Mapped[str] = mapped_column(USCC)
    signal: Mapped[str] = mapped_column(String(64))
    start_period: Mapped[str] = mapped_column(PERIOD)
    direction: Mapped[str] = mapped_column(String(8))
    severity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[dict] = mapped_column(JSON)
    as_of_period: Mapped[str] = mapped_column(PERIOD)
    first_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class AlertRow(Base):
    """A detection as one bank sees it. ``id`` is derived from the identity
    (bank, enterprise, signal, change period), so every worker and every replay
    names the same alert the same way and receivers can drop duplicates."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("bank_id", "enterprise_id", "signal", "change_period", name="uq_alert_identity"),
        Index("ix_alert_bank_status", "bank_id", "status"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bank_id: Mapped[str] = mapped_column(String(64), ForeignKey("banks.id"))
    enterprise_id: Mapped[str] = mapped_column(USCC)
    signal: Mapped[str] = mapped_column(String(64))
    change_period: Mapped[str] = mapped_column(PERIOD)
    detection_id: Mapped[int] = mapped_column(Integer, ForeignKey("detections.id"))
    severity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # open | resolved
    transitions: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # what a risk manager did with it
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None]
    assignee: Mapped[str | None] = mapped_column(String(100))
    resolution_code: Mapped[str | None] = mapped_column(String(32))
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    feedback: Mapped[str | None] = mapped_column(String(16))  # true_positive | false_positive
    # why it was not sent on its own
    silenced_by: Mapped[int | None] = mapped_column(Integer)
    inhibited_by: Mapped[str | None] = mapped_column(String(32))


class Delivery(Base):
    """Outbox row: one message to one channel.

    Most rows are one alert transition (``alert_id``, ``transition``); a
    digest or a silence-expiry notice has no single alert. ``dedupe_key``
    names what the message is about, so the same thing is never queued twice
    for a channel. Written in the same transaction as the state change that
    caused it; the message content is frozen in ``payload`` at that moment;
    the channel is referenced by a hash of its URL, so no secret is copied
    into the database. Rows of one bank and enterprise that fall due together
    go out as one grouped message.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("dedupe_key", "channel_key", name="uq_delivery_once"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_alert", "alert_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    alert_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("alerts.id"))
    bank_id: Mapped[str] = mapped_column(String(64))
    enterprise_id: Mapped[str | None] = mapped_column(USCC)
    transition: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))  # new | escalated | resolved | digest | silence_expired
    channel_key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(500))  # redacted URL, for people
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Silence(Base):
    """A bank's decision not to be told, for a while, about an enterprise and/or a signal.

    Runtime state rather than configuration (as in Alertmanager): risk
    managers create them. The bank is told when one expires, with the alerts
    it held back that are still open.
    """

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silence_bank_expiry", "bank_id", "expires_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bank_id: Mapped[str] = mapped_column(String(64), ForeignKey("banks.id"))
    enterprise_id: Mapped[str | None] = mapped_column(USCC)
    signal: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    expired_notified_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(100))


class AuditEntry(Base):
    """Append-only trail: every alert state change, delivery attempt and human action.

    The store refuses UPDATE and DELETE on this table (triggers created by the
    migration), so the trail a regulator reads is the trail that was written.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_bank_at", "bank_id", "at"),
        Index("ix_audit_alert", "alert_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    bank_id: Mapped[str | None] = mapped_column(String(64))
    alert_id: Mapped[str | None] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(18))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict] = mapped_column(JSON)


class PipelineState(Base):
    """Small key/value state, e.g. the event-time watermark (latest period seen)."""

    __tablename__ = "pipeline_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class PeerSum(Base):
    """Additive sums of what the portfolio did per month (``detectors.peers``), one row per cell.

    Every batch adds the difference its events made to the firms it touched, in
    the batch's transaction, so the sums are as durable as the events and two
    workers can add to one cell without reading it first.
    """

    __tablename__ = "peer_sums"
    segment: Mapped[str] = mapped_column(String(64), primary_key=True)
    tbl: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    c0: Mapped[float] = mapped_column(Float, default=0.0)
    c1: Mapped[float] = mapped_column(Float, default=0.0)
    c2: Mapped[float] = mapped_column(Float, default=0.0)
    c3: Mapped[float] = mapped_column(Float, default=0.0)
    c4: Mapped[float] = mapped_column(Float, default=0.0)
    c5: Mapped[float] = mapped_column(Float, default=0.0)
    c6: Mapped[float] = mapped_column(Float, default=0.0)
    c7: Mapped[float] = mapped_column(Float, default=0.0)
    c8: Mapped[float] = mapped_column(Float, default=0.0)
