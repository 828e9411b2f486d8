"""The signal catalogue: every signal Loanwatch reports, each written down once.

An entry holds everything the rest of the system needs to know about a
signal: its name, its evidence family (for corroboration), its display names
in the banks' two languages (for messages), the detector class that finds it
and that class's default settings (``[detectors.<signal>]`` in config.toml
overrides any tunable one). ``DetectorSet`` builds its detectors from here,
corroboration reads the families through them, reconciliation reads each
detector's ``same_change_months``, and messages name the signal from here.
Adding a signal is adding one entry below.

Defaults are immutable values (numbers, strings, tuples, severities), never
objects with state: every detector set builds detectors of its own from them.

Why these defaults (tuned on simulated portfolios, seeds 11 and 12; see bench/replay_detectors.py):

- workforce_attrition is the main early signal: leavers per head up (tuned to twice the usual),
  joiners per head down (to half), housing-fund coverage down (a tenth of the covered staff), tested
  jointly against the firm's own 24 months before the change (the banks' two-year view, both festival
  seasons), after 9 in-control months. Its evidence is graded from a log-likelihood ratio of 3 (low,
  context for corroboration) to 4 (medium) and 5 (high: reported even without corroboration).
- departure_rate_rise and housing_fund_drop test one flow alone and only report strong evidence
  (8 and 6): the joint test already covers modest moves, and a second alert on the same people
  would double-count them.
- usage is tested on the log scale, tuned to a fifth less; healthy firms drift 15-25% (summer
  cooling, slow shrinking), so a drop is low from 15% and medium from 25%.
- headcount_drop is a lagging consequence of the flows: it looks at the 24-month view banks use and
  reports cuts of 30% and more, which steady, managed shrinking rarely reaches.
- tax arrears of 50,000 CNY and more mean the firm is out of cash (tax is paid before suppliers and
  banks, and the tax office can freeze accounts): high on their own. Smaller ones are slips (a late
  filing, a surcharge). A new legal representative is routine on its own (low); it counts when two
  other families agree.
- a court's dishonest-debtor listing or consumption restriction stands on its own (``standalone``):
  corroboration never lowers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from detectors.base import Detector
from detectors.drift import DriftDetector
from detectors.evidence import EvidenceScore
from detectors.exceptions import BadParameter
from detectors.level_shift import LevelShiftDetector
from detectors.rate_change import RateChangeDetector
from detectors.rules import ListingRule, OneOffRule
from detectors.severity import Severity

__all__ = ["Signal", "CATALOGUE", "signal_names", "display_name"]


@dataclass(frozen=True)
class Signal:
    """One signal: what it is called, what family of evidence it is, what finds it and with which defaults.

    Parameters
    ----------
    name
        The code findings and alerts carry (``departure_rate_rise``).
    family
        Evidence family: findings of one family do not corroborate each other.
    name_zh, name_en
        What a bank reads, in zh-CN and in en.
    detector
        The detector class; it is built as ``detector(signal=name, family=family, **defaults)``.
    defaults
        The class's settings for this signal (immutable values only).
    standalone
        Corroboration never lowers it (a court's own listing).

    Example
    -------
    >>> s = Signal("lawsuit_surge", "litigation", "被诉案件增多", "More lawsuits against the company",
    ...            RateChangeDetector, {"event_type": "lawsuit", "role": "defendant", "key_field": "case_no"})
    >>> d = s.build()
    >>> d.signal, d.family, d.same_change_months, s.display_name("zh-CN")
    ('lawsuit_surge', 'litigation', 2, '被诉案件增多')
    """

    name: str
    family: str
    name_zh: str
    name_en: str
    detector: type
    defaults: Mapping[str, Any] = field(default_factory=dict)
    standalone: bool = False
    #: Built from the other families' evidence itself: it neither backs other findings nor is backed by them.
    aggregate: bool = False
    #: Runs unless config says ``enabled = false``; a signal off by default runs when config says ``true``.
    enabled: bool = True

    def __post_init__(self) -> None:
        for key, value in self.defaults.items():
            try:
                hash(value)
            except TypeError:
                raise BadParameter(f"{self.name}: default {key} must be an immutable value; got {value!r}") from None
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    def build(self, **overrides: Any) -> Detector:
        """A new detector for this signal: the defaults, with ``overrides`` on top."""
        return self.detector(signal=self.name, family=self.family, **{**self.defaults, **overrides})

    def display_name(self, locale: str) -> str:
        """The name in ``locale`` (``zh-CN`` or ``en``); the code for any other."""
        return {"zh-CN": self.name_zh, "en": self.name_en}.get(locale, self.name)


_USAGE = dict(ratios=(0.8,), strength_steps=(4.0, 8.0, 12.0, 20.0), severity_steps=(0.15, 0.25, 0.35, 0.5))

#: The catalogue, in the order detectors run and are listed.
CATALOGUE: dict[str, Signal] = {s.name: s for s in (
    Signal("distress_score", "enterprise", "多维风险证据累积", "Distress evidence building up", EvidenceScore,
           dict(threshold=5.0), aggregate=True),
    Signal("headcount_drop", "workforce", "参保人数下降", "Insured headcount falling", LevelShiftDetector,
           dict(metric="insured", direction="down", severity_steps=(0.3, 0.4, 0.55, 0.75), min_absolute_change=3.0,
                history_months=24, segment_model="constant"), enabled=False),
    Signal("departure_rate_rise", "workforce", "离职率上升", "Departure rate rising", DriftDetector,
           dict(metrics=("departures",), ratios=(2.0,), strength_steps=(8.0, 10.0, 14.0, 20.0),
                severity_steps=(0.3, 0.5, 1.0, 2.0), baseline_points=24, min_baseline=9), enabled=False),
    Signal("workforce_attrition", "workforce", "员工流失加剧", "Workforce attrition rising", DriftDetector,
           dict(metrics=("departures", "hires", "hf_coverage"), ratios=(2.0, 0.5, 0.9),
                strength_steps=(3.0, 4.0, 5.0, 8.0), severity_steps=(0.03, 0.06, 0.12, 0.25),
                baseline_points=24, min_baseline=9), enabled=False),
    Signal("electricity_drop", "utilities", "用电量下降", "Electricity use falling", DriftDetector,
           dict(metrics=("electricity",), **_USAGE), enabled=False),
    Signal("water_drop", "utilities", "用水量下降", "Water use falling", DriftDetector,
           dict(metrics=("water",), **_USAGE), enabled=False),
    Signal("gas_drop", "utilities", "用气量下降", "Gas use falling", DriftDetector,
           dict(metrics=("gas",), **_USAGE), enabled=False),
    Signal("housing_fund_drop", "workforce", "公积金缴存人数下降", "Housing-fund contributors falling", DriftDetector,
           dict(metrics=("hf_coverage",), ratios=(0.9,), strength_steps=(6.0, 8.0, 11.0, 16.0),
                severity_steps=(0.05, 0.1, 0.2, 0.4), baseline_points=24, min_baseline=9), enabled=False),
    Signal("lawsuit_surge", "litigation", "被诉案件增多", "More lawsuits against the company", RateChangeDetector,
           dict(event_type="lawsuit", role="defendant", key_field="case_no", severity_counts=(3, 4, 5, 8)),
           enabled=False),
    Signal("penalty_surge", "administrative", "行政处罚增多", "More administrative penalties", RateChangeDetector,
           dict(event_type="penalty", key_field="decision_no", severity_counts=(3, 5, 8, 12)), enabled=False),
    Signal("dishonest_debtor_listed", "litigation", "列入失信被执行人", "Listed as a dishonest judgment debtor",
           ListingRule, dict(event_type="dishonest_debtor", on="listed", off="removed", key_field="case_no",
                             severity=Severity.CRITICAL), standalone=True),
    Signal("consumption_restriction", "litigation", "限制高消费令", "Consumption restriction order", ListingRule,
           dict(event_type="consumption_restriction", on="issued", off="lifted", key_field="case_no",
                severity=Severity.CRITICAL), standalone=True),
    Signal("abnormal_operation_listed", "administrative", "列入经营异常名录", "Listed for abnormal operation",
           ListingRule, dict(event_type="abnormal_operation", on="listed", off="removed", key_field=None,
                             severity=Severity.LOW)),
    Signal("tax_arrears", "administrative", "欠税公告", "Tax arrears announced", OneOffRule,
           dict(event_type="tax_arrears", severity=Severity.HIGH, amount_low=50_000.0, amount_high=1_000_000.0)),
    Signal("legal_representative_change", "registration", "法定代表人变更", "Legal representative changed", OneOffRule,
           dict(event_type="registration_change", severity=Severity.LOW, field="field", value="legal_representative")),
    Signal("registered_capital_cut", "registration", "注册资本减少", "Registered capital reduced", OneOffRule,
           dict(event_type="registration_change", severity=Severity.LOW, field="field", value="registered_capital",
                capital_cut=True)),
)}


def signal_names() -> tuple[str, ...]:
    """Every signal in the catalogue, in catalogue order."""
    return tuple(CATALOGUE)


def display_name(signal: str, locale: str) -> str:
    """``signal`` in the bank's language; a code the catalogue does not know is shown as is."""
    entry = CATALOGUE.get(signal)
    return entry.display_name(locale) if entry is not None else signal
