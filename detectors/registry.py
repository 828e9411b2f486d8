"""The detector set that runs on every enterprise, built from the signal catalogue and configuration.

Each signal's detector class and defaults are written once, in
``detectors.signals``; ``[detectors.<signal>]`` in config.toml may override
any tunable constructor keyword (and ``enabled``). So the daemon, the
backtest and the ``changepoints`` command run the very same detectors.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from detectors.base import Detector
from detectors.corroboration import corroborate
from detectors.peers import PeerBaseline
from detectors.records import Detection, History
from detectors.severity import Severity
from detectors.signals import CATALOGUE, signal_names

__all__ = ["DetectorSet", "build_detectors", "validate_settings", "tunable_settings"]

# Structural settings an operator must not change: they define what the signal is.
_FIXED = {"signal", "family", "metric", "metrics", "direction", "event_type", "role", "key_field", "on", "off",
          "field", "value", "capital_cut"}


def tunable_settings(signal: str) -> set[str]:
    """The keys ``[detectors.<signal>]`` may set (besides ``enabled``)."""
    cls = CATALOGUE[signal].detector
    return {p for p in inspect.signature(cls).parameters if p != "self"} - _FIXED


def _coerce(key: str, value: Any) -> Any:
    if key == "severity":
        return Severity.parse(value)
    if isinstance(value, list):
        return tuple(value)
    return value


def _make(signal: str, overrides: Mapping[str, Any]) -> Detector:
    kwargs = {key: _coerce(key, value) for key, value in overrides.items() if key != "enabled"}
    try:
        return CATALOGUE[signal].build(**kwargs)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def validate_settings(signal: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Check one ``[detectors.<signal>]`` table by building the detector from it."""
    if signal not in CATALOGUE:
        raise ValueError(f"unknown signal {signal!r}; valid: {', '.join(signal_names())}")
    allowed = tunable_settings(signal) | {"enabled"}
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
    ``standalone``: signals corroboration never lowers (court listings).
    """

    detectors: dict[str, Detector]
    corroboration_months: int = 12
    corroboration_min_backing: Severity = Severity.MEDIUM
    standalone: frozenset[str] = frozenset()
    #: scores built from the other findings' evidence (neither backing nor backed)
    aggregate: frozenset[str] = frozenset()
    _token: object = field(default_factory=object, init=False, repr=False, compare=False)

    @property
    def signals(self) -> tuple[str, ...]:
        return tuple(self.detectors)

    @property
    def families(self) -> dict[str, str]:
        """Each detector's signal and the evidence family it declares."""
        return {d.signal: d.family for d in self.detectors.values()}

    @property
    def same_change_months(self) -> dict[str, int]:
        """Per signal, how far a reported change may move and still be the same change (for reconciling)."""
        return {d.signal: d.same_change_months for d in self.detectors.values()}

    def run(self, history: History, *, peers: PeerBaseline | None = None) -> list[Detection]:
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
            inputs = det.inputs
            if inputs is None:
                out.extend(det.detect(history, shared=shared, peers=peers))
                continue
            key = tuple(t.fingerprint() if (t := history.monthly.get(k)) is not None else None for k in inputs)
            seen = memo.get(signal)
            if seen is not None and seen[0] == key:
                out.extend(seen[1])
                continue
            found = det.detect(history, shared=shared, peers=peers)
            memo[signal] = (key, tuple(found))
            out.extend(found)
        if self.corroboration_months and out:
            out = corroborate(out, as_of=history.last_period(), families=self.families, standalone=self.standalone,
                              aggregate=self.aggregate,
                              window_months=self.corroboration_months, min_backing=self.corroboration_min_backing)
        return out


def build_detectors(settings: Mapping[str, Mapping[str, Any]] | None = None,
                    only: Iterable[str] | None = None, corroboration_months: int = 12) -> DetectorSet:
    """A new detector set: every catalogue signal that is on (or ``only`` these, on or off by default), with
    ``settings`` per signal on top (``enabled`` turns a signal on or off)."""
    settings = settings or {}
    chosen = list(only) if only is not None else list(signal_names())
    dets = {}
    for signal in chosen:
        s = settings.get(signal, {})
        if s.get("enabled", only is not None or CATALOGUE[signal].enabled) is False:
            continue
        dets[signal] = _make(signal, s)
    standalone = frozenset(s for s in dets if CATALOGUE[s].standalone)
    aggregate = frozenset(s for s in dets if CATALOGUE[s].aggregate)
    return DetectorSet(dets, corroboration_months, standalone=standalone, aggregate=aggregate)
