"""Rules for the discrete events that are bad news on their own.

A listing (dishonest debtor, consumption restriction, abnormal operation)
stays active until the record says it was removed or lifted; the detection
then disappears and the alert resolves. One-off facts (tax arrears announced,
a new legal representative, a capital cut) are findings on the period they
happened; the recency window decides whether they are still news.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from detectors.base import checked_identity
from detectors.exceptions import BadParameter
from detectors.peers import PeerBaseline
from detectors.records import Detection, DiscreteEvent, Evidence, History
from detectors.severity import Severity

__all__ = ["ListingRule", "OneOffRule"]


def _event_dict(e: DiscreteEvent) -> dict:
    return {"period": e.period, "occurred_at": e.occurred_at, "type": e.type, **e.data}


@dataclass(frozen=True, kw_only=True)
class ListingRule:
    """Active while the latest record for the same key says it is on.

    Parameters
    ----------
    signal, family
        Reported name and evidence family (empty: its own).
    event_type
        Discrete event type read (``dishonest_debtor``).
    on, off
        The ``status`` values that start and end a listing.
    key_field
        Field that identifies one listing (a case number), so removing one
        case does not end another; None: one listing per enterprise.
    severity
        Severity of an active listing.

    Example
    -------
    >>> ev = [DiscreteEvent("dishonest_debtor", "2024-05-02T10:00:00+08:00", "2024-05",
    ...                     {"status": "listed", "case_no": "(2024)粤03执123号"})]
    >>> [d.signal + ":" + d.severity.label for d in ListingRule(
    ...     signal="dishonest_debtor_listed", event_type="dishonest_debtor", on="listed",
    ...     off="removed", key_field="case_no", severity=Severity.CRITICAL).detect(History("X", discrete=ev))]
    ['dishonest_debtor_listed:critical']

    References
    ----------
    Supreme People's Court (2013, rev. 2017), Provisions on publishing the list of dishonest judgment
    debtors (最高人民法院关于公布失信被执行人名单信息的若干规定).
    """

    #: Reads discrete events only.
    inputs: ClassVar[None] = None
    #: A listing's start is the listing itself: it never moves.
    same_change_months: ClassVar[int] = 0

    signal: str
    family: str = ""
    event_type: str
    on: str
    off: str
    key_field: str | None
    severity: Severity

    def __post_init__(self) -> None:
        _check_identity(self)
        if self.on == self.off:
            raise BadParameter("on and off must be different statuses")
        if not isinstance(self.severity, Severity):
            raise BadParameter(f"severity must be a Severity; got {self.severity!r}")

    def detect(self, history: History, *, shared: dict | None = None,
               peers: PeerBaseline | None = None) -> list[Detection]:
        latest: dict[str, list[DiscreteEvent]] = {}
        for e in sorted(history.discrete, key=lambda e: e.occurred_at):
            if e.type != self.event_type or e.data.get("status") not in (self.on, self.off):
                continue
            key = str(e.data.get(self.key_field, "")) if self.key_field else ""
            spell = latest.setdefault(key, [])
            if e.data["status"] == self.off:
                spell.clear()
            else:
                spell.append(e)
        out: dict[str, Detection] = {}
        for spell in latest.values():
            if not spell:
                continue
            start = spell[0]
            if start.period in out:  # two cases listed the same month: one finding with both
                prev = out[start.period]
                events = prev.evidence.events + tuple(_event_dict(e) for e in spell)
                out[start.period] = _finding(history.enterprise_id, self.signal, start.period, self.severity, events)
            else:
                out[start.period] = _finding(history.enterprise_id, self.signal, start.period, self.severity,
                                             tuple(_event_dict(e) for e in spell))
        return list(out.values())


def _check_identity(rule: ListingRule | OneOffRule) -> None:
    signal, family = checked_identity(rule.signal, rule.family)
    object.__setattr__(rule, "family", family)  # frozen: the default family is the signal's own


def _finding(eid: str, signal: str, period: str, severity: Severity, events: tuple[dict, ...]) -> Detection:
    return Detection(eid, signal, period, "event", severity,
                     Evidence(None, None, None, "event", events=events))


@dataclass(frozen=True, kw_only=True)
class OneOffRule:
    """A finding per period in which a matching event happened.

    ``field`` / ``value`` select registration changes (e.g. field ==
    "legal_representative"); ``amount_high`` raises the severity to high for
    amounts at or above it; ``amount_low`` reports amounts below it as low
    (immaterial: a late filing, a small surcharge); ``capital_cut`` turns the
    rule into "registered capital went down", graded by the size of the cut.

    Parameters
    ----------
    signal, family
        Reported name and evidence family (empty: its own).
    event_type
        Discrete event type read (``tax_arrears``, ``registration_change``).
    severity
        Severity of a matching event (before ``amount_*`` grade it); for ``capital_cut``, the most a cut is
        graded (a half or more is high, a fifth medium, less low): since the 2024 Company Law many healthy
        firms cut capital they never paid in, so the default is low, context for the evidence score.

    Example
    -------
    >>> ev = [DiscreteEvent("tax_arrears", "2024-05-02T10:00:00+08:00", "2024-05", {"amount": 2_000_000})]
    >>> rule = OneOffRule(signal="tax_arrears", event_type="tax_arrears", severity=Severity.HIGH,
    ...                   amount_low=50_000.0, amount_high=1_000_000.0)
    >>> [(d.start_period, d.severity.label) for d in rule.detect(History("X", discrete=ev))]
    [('2024-05', 'high')]

    References
    ----------
    State Administration of Taxation (2004, rev. 2018), Measures for announcing tax arrears
    (欠税公告办法（试行）).
    """

    #: Reads discrete events only.
    inputs: ClassVar[None] = None
    #: A one-off finding is the event's own period: it never moves.
    same_change_months: ClassVar[int] = 0

    signal: str
    family: str = ""
    event_type: str
    severity: Severity
    field: str | None = None
    value: str | None = None
    amount_high: float | None = None
    amount_low: float | None = None
    capital_cut: bool = False

    def __post_init__(self) -> None:
        _check_identity(self)
        if not isinstance(self.severity, Severity):
            raise BadParameter(f"severity must be a Severity; got {self.severity!r}")
        if self.amount_low is not None and self.amount_high is not None and self.amount_low > self.amount_high:
            raise BadParameter("amount_low must not be above amount_high")
        if self.capital_cut and self.event_type != "registration_change":
            raise BadParameter("capital_cut applies to registration_change events only")

    def _grade(self, e: DiscreteEvent) -> Severity | None:
        if self.capital_cut:
            try:
                before, after = float(e.data["before"]), float(e.data["after"])
            except (KeyError, TypeError, ValueError):
                return None
            if before <= 0 or after >= before:
                return None
            cut = 1.0 - after / before
            graded = Severity.HIGH if cut >= 0.5 else Severity.MEDIUM if cut >= 0.2 else Severity.LOW
            return min(graded, self.severity)
        amount = float(e.data.get("amount", 0) or 0)
        if self.amount_high is not None and amount >= self.amount_high:
            return max(self.severity, Severity.HIGH)
        if self.amount_low is not None and amount < self.amount_low:
            return Severity.LOW
        return self.severity

    def detect(self, history: History, *, shared: dict | None = None,
               peers: PeerBaseline | None = None) -> list[Detection]:
        by_period: dict[str, list[DiscreteEvent]] = {}
        grades: dict[str, Severity] = {}
        for e in sorted(history.discrete, key=lambda e: e.occurred_at):
            if e.type != self.event_type:
                continue
            if self.field is not None and e.data.get(self.field) != self.value:
                continue
            grade = self._grade(e)
            if grade is None:
                continue
            by_period.setdefault(e.period, []).append(e)
            grades[e.period] = max(grades.get(e.period, grade), grade)
        return [_finding(history.enterprise_id, self.signal, p, grades[p], tuple(_event_dict(e) for e in evs))
                for p, evs in by_period.items()]
