"""What one bank wants to hear, and how: its policy, read top to bottom like Alertmanager's.

Detection is computed once per enterprise; each bank's policy then decides
whether a finding is news to it (signals of interest, a minimum size of
change per signal, a minimum severity), how severe it is *for this bank*
(raised a level for a large exposure or a loan falling due soon), and where
it goes: the first route whose severity and signals match names the
receivers (``continue`` lets later routes add more), and a route marked
``digest`` holds the alert for the daily digest instead of sending it now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from detectors.severity import Severity

__all__ = ["Route", "Escalation", "DigestSettings", "InhibitRule", "BankPolicy", "Routing", "DEFAULT_INHIBIT"]


@dataclass(frozen=True)
class Route:
    min_severity: Severity = Severity.LOW
    signals: tuple[str, ...] = ()  # empty: any signal
    receivers: tuple[str, ...] = ()
    digest: bool = False
    continue_: bool = False

    def matches(self, severity: Severity, signal: str) -> bool:
        return severity >= self.min_severity and (not self.signals or signal in self.signals)


@dataclass(frozen=True)
class Escalation:
    """Raise a finding one level when the bank's exposure is large or a loan is due soon."""

    exposure_at_least: float | None = None  # CNY, over all the bank's loans to the enterprise
    due_within_days: int | None = None

    def applies(self, loans: Sequence[tuple[float, date | None]], today: date) -> bool:
        if self.exposure_at_least is not None and sum(e for e, _ in loans) >= self.exposure_at_least:
            return True
        if self.due_within_days is not None:
            horizon = today + timedelta(days=self.due_within_days)
            return any(d is not None and today <= d <= horizon for _, d in loans)
        return False


@dataclass(frozen=True)
class DigestSettings:
    enabled: bool = False
    receivers: tuple[str, ...] = ()
    hour: int = 8  # local hour (China time) at which the daily digest goes out


@dataclass(frozen=True)
class InhibitRule:
    """While a source alert is open for a bank and an enterprise, lesser alerts there are
    not sent on their own; they travel inside the source alert's message."""

    source_signals: tuple[str, ...]
    target_max_severity: Severity = Severity.HIGH  # targets at or below this are inhibited


DEFAULT_INHIBIT = (InhibitRule(("dishonest_debtor_listed", "consumption_restriction")),)


@dataclass(frozen=True)
class Routing:
    """Where one alert goes: receiver names to send to now, and whether the digest holds it."""

    now: tuple[str, ...]
    digest: bool

    @property
    def routed(self) -> bool:
        return bool(self.now) or self.digest


@dataclass(frozen=True)
class BankPolicy:
    """One ``[[banks]]`` table of the configuration, parsed straight into this.

    ``receivers`` names the bank's apprise URLs (the short form ``channels =
    [...]`` becomes ``channel-1``, ``channel-2``, ...); without ``routes``
    every alert at or above ``min_severity`` goes to every receiver.
    ``inhibit_rules`` are the configuration's ``[[inhibit_rules]]``: part of
    the policy so that every path that alerts a bank (a detection pass, an
    enterprise added to its watchlist) holds back the same alerts.
    """

    id: str
    name: str
    locale: str = "zh-CN"
    min_severity: Severity = Severity.MEDIUM  # findings below are recorded, never sent
    receivers: Mapping[str, str] = field(default_factory=dict)  # name -> apprise URL
    routes: tuple[Route, ...] = ()
    signals: tuple[str, ...] = ()  # of interest; empty: all
    thresholds: Mapping[str, float] = field(default_factory=dict)  # signal -> min |relative change|
    escalation: Escalation = field(default_factory=Escalation)
    digest: DigestSettings = field(default_factory=DigestSettings)
    group_wait_seconds: float = 0.0
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT

    @property
    def channels(self) -> tuple[str, ...]:
        """Every receiver URL of this bank: the sender looks a delivery's channel up here."""
        return tuple(self.receivers.values())

    @property
    def inhibiting_signals(self) -> frozenset[str]:
        """Signals whose open alerts hold lesser ones back (sources of the inhibit rules)."""
        return frozenset(s for r in self.inhibit_rules for s in r.source_signals)

    def severity_for(self, signal: str, severity: Severity, relative_change: float | None,
                     loans: Sequence[tuple[float, date | None]], today: date) -> Severity | None:
        """This bank's severity for a finding, or None when the bank does not want it.

        >>> p = BankPolicy("b", "B", "en", thresholds={"departure_rate_rise": 0.3},
        ...                escalation=Escalation(exposure_at_least=5e7))
        >>> p.severity_for("departure_rate_rise", Severity.MEDIUM, 0.2, [(1e6, None)], date(2025, 1, 1)) is None
        True
        >>> p.severity_for("departure_rate_rise", Severity.MEDIUM, 0.5, [(6e7, None)], date(2025, 1, 1)).label
        'high'
        """
        if self.signals and signal not in self.signals:
            return None
        threshold = self.thresholds.get(signal)
        if threshold is not None and relative_change is not None and abs(relative_change) < threshold:
            return None
        if self.escalation.applies(loans, today):
            severity = severity.raised(1)
        return severity if severity >= self.min_severity else None

    def route(self, severity: Severity, signal: str) -> Routing:
        if not self.routes:  # no routes: every receiver, right away
            return Routing(tuple(self.receivers), False)
        now: list[str] = []
        digest = False
        for r in self.routes:
            if not r.matches(severity, signal):
                continue
            if r.digest:
                digest = True
            else:
                now.extend(x for x in r.receivers if x not in now)
            if not r.continue_:
                break
        return Routing(tuple(now), digest)

    def digest_receivers(self) -> tuple[str, ...]:
        if self.digest.receivers:
            return self.digest.receivers
        named = [x for r in self.routes if r.digest for x in r.receivers]
        return tuple(dict.fromkeys(named)) or tuple(self.receivers)
