"""The default detector set and how configuration overrides it.

Each signal has a detector class and default settings; ``[detectors.<signal>]``
in config.toml may override any constructor keyword (and ``enabled``). The
defaults are written here once, so the daemon, the backtest and the
``changepoints`` command run the very same detectors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from detectors.changepoint import ChangePointEngine
from detectors.corroboration import corroborate
from detectors.drift import DriftDetector
from detectors.level_shift import LevelShiftDetector
from detectors.rate_change import RateChangeDetector
from detectors.records import Detection, History
from detectors.rules import ListingRule, OneOffRule
from detectors.severity import Severity

__all__ = ["DEFAULTS", "DetectorSet", "build_detectors", "validate_settings", "SIGNALS"]

_LEVEL = LevelShiftDetector
_RATE = RateChangeDetector
_LIST = ListingRule
_ONE = OneOffRule
_DRIFT = DriftDetector

# Why these defaults (tuned on simulated portfolios, seeds 11 and 12; see bench/replay_detectors.py):
# - workforce_attrition is the main early signal: leavers per head up (tuned to twice the usual),
#   joiners per head down (to half), housing-fund coverage down (a tenth of the covered staff), tested
#   jointly against the firm's own 24 months before the change (the banks' two-year view, both festival
#   seasons), after 9 in-control months. Its evidence is graded from a log-likelihood ratio of 3 (low,
#   context for corroboration) to 4 (medium) and 5 (high: reported even without corroboration).
# - departure_rate_rise and housing_fund_drop test one flow alone and only report strong evidence
#   (8 and 6): the joint test already covers modest moves, and a second alert on the same people
#   would double-count them.
# - usage is tested on the log scale, tuned to a fifth less; healthy firms drift 15-25% (summer
#   cooling, slow shrinking), so a drop is low from 15% and medium from 25%.
# - headcount_drop is a lagging consequence of the flows: it looks at the 24-month view banks use and
#   reports cuts of 30% and more, which steady, managed shrinking rarely reaches.
# - tax arrears of 50,000 CNY and more mean the firm is out of cash (tax is paid before suppliers and
#   banks, and the tax office can freeze accounts): high on their own. Smaller ones are slips (a late
#   filing, a surcharge). A new legal representative is routine on its own (low); it counts when two
#   other families agree.
DEFAULTS: dict[str, tuple[type, dict[str, Any]]] = {
    "headcount_drop": (_LEVEL, dict(metric="insured", direction="down", severity_steps=(0.3, 0.4, 0.55, 0.75),
                                    min_absolute_change=3.0, history_months=24,
                                    engine=ChangePointEngine(model="constant"))),
    "departure_rate_rise": (_DRIFT, dict(metrics=("departures",), ratios=(2.0,), strength_steps=(8.0, 10.0, 14.0, 20.0),
                                         severity_steps=(0.3, 0.5, 1.0, 2.0), baseline_points=24, min_baseline=9)),
    "workforce_attrition": (_DRIFT, dict(metrics=("departures", "hires", "hf_coverage"), ratios=(2.0, 0.5, 0.9),
                                         strength_steps=(3.0, 4.0, 5.0, 8.0), severity_steps=(0.03, 0.06, 0.12, 0.25),
                                         baseline_points=24, min_baseline=9)),
    "electricity_drop": (_DRIFT, dict(metrics=("electricity",), ratios=(0.8,), strength_steps=(4.0, 8.0, 12.0, 20.0),
                                      severity_steps=(0.15, 0.25, 0.35, 0.5))),
    "water_drop": (_DRIFT, dict(metrics=("water",), ratios=(0.8,), strength_steps=(4.0, 8.0, 12.0, 20.0),
                                severity_steps=(0.15, 0.25, 0.35, 0.5))),
    "gas_drop": (_DRIFT, dict(metrics=("gas",), ratios=(0.8,), strength_steps=(4.0, 8.0, 12.0, 20.0),
                              severity_steps=(0.15, 0.25, 0.35, 0.5))),
    "housing_fund_drop": (_DRIFT, dict(metrics=("hf_coverage",), ratios=(0.9,), strength_steps=(6.0, 8.0, 11.0, 16.0),
                                       severity_steps=(0.05, 0.1, 0.2, 0.4), baseline_points=24, min_baseline=9)),
    "lawsuit_surge": (_RATE, dict(event_type="lawsuit", role="defendant", key_field="case_no",
                                  severity_counts=(3, 4, 5, 8))),
    "penalty_surge": (_RATE, dict(event_type="penalty", key_field="decision_no", severity_counts=(3, 5, 8, 12))),
    "dishonest_debtor_listed": (_LIST, dict(event_type="dishonest_debtor", on="listed", off="removed",
                                            key_field="case_no", severity=Severity.CRITICAL)),
    "consumption_restriction": (_LIST, dict(event_type="consumption_restriction", on="issued", off="lifted",
                                            key_field="case_no", severity=Severity.CRITICAL)),
    "abnormal_operation_listed": (_LIST, dict(event_type="abnormal_operation", on="listed", off="removed",
                                              key_field=None, severity=Severity.MEDIUM)),
    "tax_arrears": (_ONE, dict(event_type="tax_arrears", severity=Severity.HIGH, amount_low=50_000.0,
                               amount_high=1_000_000.0)),
    "legal_representative_change": (_ONE, dict(event_type="registration_change", severity=Severity.LOW,
                                               field="field", value="legal_representative")),
    "registered_capital_cut": (_ONE, dict(event_type="registration_change", severity=Severity.MEDIUM,
                                          field="field", value="registered_capital", capital_cut=True)),
}
SIGNALS = tuple(DEFAULTS)

# Structural settings an operator must not change: they define what the signal is.
_FIXED = {"metric", "metrics", "direction", "event_type", "role", "key_field", "on", "off", "field", "value", "capital_cut",
          "engine"}


def _tunable(cls: type) -> set[str]:
    import inspect

    if hasattr(cls, "__dataclass_fields__"):
        names = set(cls.__dataclass_fields__)
    else:
        names = {p for p in inspect.signature(cls.__init__).parameters if p != "self"}
    return names - _FIXED - {"signal"}


def _coerce(key: str, value: Any) -> Any:
    if key == "severity":
        return Severity.parse(value)
    if isinstance(value, list):
        return tuple(value)
    return value


def _make(signal: str, overrides: Mapping[str, Any]):
    cls, defaults = DEFAULTS[signal]
    kwargs = dict(defaults)
    for key, value in overrides.items():
        if key == "enabled":
            continue
        kwargs[key] = _coerce(key, value)
    try:
        return cls(signal=signal, **kwargs)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def validate_settings(signal: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Check one ``[detectors.<signal>]`` table by building the detector from it."""
    if signal not in DEFAULTS:
        raise ValueError(f"unknown signal {signal!r}; valid: {', '.join(SIGNALS)}")
    allowed = _tunable(DEFAULTS[signal][0]) | {"enabled"}
    for key in settings:
        if key not in allowed:
            raise ValueError(f"unknown setting {key!r}; valid: {', '.join(sorted(allowed))}")
    if "enabled" in settings and not isinstance(settings["enabled"], bool):
        raise ValueError("enabled must be true or false")
    _make(signal, settings)
    return dict(settings)


@dataclass
class DetectorSet:
    """The detectors that run on every enterprise whose history changed.

    ``corroboration_months``: findings that started within this many months
    of the latest data corroborate each other (see ``detectors.corroboration``);
    0 turns corroboration off and severities follow the size of each change alone.
    ``corroboration_min_backing``: the least severity a finding needs to back another.
    """

    detectors: dict[str, Any]
    corroboration_months: int = 12
    corroboration_min_backing: Severity = Severity.MEDIUM
    _token: object = field(default_factory=object, init=False, repr=False, compare=False)

    @property
    def signals(self) -> tuple[str, ...]:
        return tuple(self.detectors)

    def run(self, history: History) -> list[Detection]:
        """Every detector's findings on ``history``, corroborated.

        A detector that declares the monthly tables it reads (``inputs``) and
        whose tables hold the same contents as at its last run on this
        history is not run again: its findings are a function of those tables
        alone, and a live stream changes one or two of an enterprise's tables
        at a time. The findings are kept in ``history.memo``, so they go when
        the history leaves the cache, and they belong to this set of
        detectors (another set, e.g. after a reload, starts afresh).
        """
        memo = history.memo
        if memo.get("detectors") is not self._token:
            memo.clear()
            memo["detectors"] = self._token
        out: list[Detection] = []
        shared: dict = {}  # detectors reading the same stream share its arithmetic within one run
        for signal, det in self.detectors.items():
            inputs = getattr(det, "inputs", None)
            if inputs is None:
                out.extend(det.detect(history))
                continue
            key = tuple(t.fingerprint() if (t := history.monthly.get(k)) is not None else None for k in inputs)
            seen = memo.get(signal)
            if seen is not None and seen[0] == key:
                out.extend(seen[1])
                continue
            found = det.detect(history, shared) if isinstance(det, DriftDetector) else det.detect(history)
            memo[signal] = (key, tuple(found))
            out.extend(found)
        if self.corroboration_months and out:
            out = corroborate(out, as_of=history.last_period(), window_months=self.corroboration_months,
                              min_backing=self.corroboration_min_backing)
        return out


def build_detectors(settings: Mapping[str, Mapping[str, Any]] | None = None,
                    only: Iterable[str] | None = None, corroboration_months: int = 12) -> DetectorSet:
    settings = settings or {}
    chosen = list(only) if only is not None else list(SIGNALS)
    dets = {}
    for signal in chosen:
        s = settings.get(signal, {})
        if s.get("enabled", True) is False:
            continue
        dets[signal] = _make(signal, s)
    return DetectorSet(dets, corroboration_months)
