"""Configuration: one TOML file read top to bottom.

Process settings live in ``[global]`` and ``[delivery]``; what the detectors
look for in ``[detectors.<signal>]``; who is told what in ``[[banks]]``.
Every error names the key it is about, so ``loanwatch config check`` can point
an operator at the line to fix. A file that fails to load never replaces a
running configuration.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.policy import DEFAULT_INHIBIT, BankPolicy, DigestSettings, Escalation, InhibitRule, Route
from detectors.severity import Severity

__all__ = ["Config", "BankConfig", "DeliveryConfig", "ConfigError", "load_config", "parse_config", "default_config_path"]

LOCALES = ("zh-CN", "en")
_BANK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ConfigError(ValueError):
    """The configuration file is wrong; the message names the key and the problem."""


@dataclass(frozen=True)
class BankConfig:
    """One ``[[banks]]`` table. ``channels`` (a plain list of URLs, every alert to every one)
    is the short form; ``receivers`` + ``routes`` is the full one."""

    id: str
    name: str
    locale: str = "zh-CN"
    min_severity: Severity = Severity.MEDIUM
    receivers: Mapping[str, str] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    signals: tuple[str, ...] = ()
    thresholds: Mapping[str, float] = field(default_factory=dict)
    escalation: Escalation = field(default_factory=Escalation)
    digest: DigestSettings = field(default_factory=DigestSettings)
    group_wait_seconds: float = 0.0

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.receivers.values())

    @property
    def policy(self) -> BankPolicy:
        return BankPolicy(self.id, self.name, self.locale, self.min_severity, dict(self.receivers), self.routes,
                          self.signals, dict(self.thresholds), self.escalation, self.digest,
                          self.group_wait_seconds)


@dataclass(frozen=True)
class DeliveryConfig:
    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Config:
    store: str = "sqlite:///var/loanwatch.db"
    spool_dir: str = "var/spool"
    poll_interval_seconds: float = 2.0
    batch_size: int = 20000
    detect_every_events: int = 20000
    recent_window_months: int = 12
    history_months: int = 48
    cache_enterprises: int = 20000
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    banks: tuple[BankConfig, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT
    path: str | None = None

    def bank(self, bank_id: str) -> BankConfig | None:
        return next((b for b in self.banks if b.id == bank_id), None)


def default_config_path() -> str:
    return os.environ.get("LOANWATCH_CONFIG") or "config.toml"


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a config file; relative paths in it are relative to the file."""
    p = Path(path or default_config_path())
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found (set --config or LOANWATCH_CONFIG)") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse_config(raw, base_dir=p.resolve().parent, path=str(p))


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(allowed))}")


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any, where: str) -> Any:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got a boolean")
    if kind is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}.{key}: expected {name}, got {type(value).__name__} {value!r}")
    return value


def _positive(value: float, where: str) -> float:
    if value <= 0:
        raise ConfigError(f"{where}: must be > 0, got {value}")
    return value


def _non_negative(value: int, where: str) -> int:
    if value < 0:
        raise ConfigError(f"{where}: must be >= 0, got {value}")
    return value


def _resolve_store(url: str, base_dir: Path | None) -> str:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and base_dir is not None:
        rel = url[len("sqlite:///"):]
        if rel and rel != ":memory:":
            return "sqlite:///" + str((base_dir / rel).resolve())
    return url


def parse_config(raw: dict[str, Any], *, base_dir: Path | None = None, path: str | None = None) -> Config:
    # [kafka] is read by the Kafka commands themselves (streams.kafka_config)
    _check_keys(raw, {"global", "delivery", "detectors", "banks", "inhibit_rules", "kafka"}, "config")
    g = raw.get("global", {})
    _check_keys(
        g,
        {"store", "spool_dir", "poll_interval_seconds", "batch_size", "detect_every_events", "recent_window_months",
         "history_months", "cache_enterprises"},
        "global",
    )
    store = os.environ.get("LOANWATCH_STORE") or _get(g, "store", str, Config.store, "global")
    spool = _get(g, "spool_dir", str, Config.spool_dir, "global")
    if base_dir is not None and not os.path.isabs(spool):
        spool = str((base_dir / spool).resolve())
    cfg_kwargs: dict[str, Any] = dict(
        store=_resolve_store(store, base_dir),
        spool_dir=spool,
        poll_interval_seconds=_positive(
            _get(g, "poll_interval_seconds", float, Config.poll_interval_seconds, "global"),
            "global.poll_interval_seconds"),
        batch_size=int(_positive(_get(g, "batch_size", int, Config.batch_size, "global"), "global.batch_size")),
        detect_every_events=_non_negative(_get(g, "detect_every_events", int, Config.detect_every_events, "global"),
                                          "global.detect_every_events"),
        recent_window_months=int(_positive(
            _get(g, "recent_window_months", int, Config.recent_window_months, "global"),
            "global.recent_window_months")),
        history_months=int(_positive(_get(g, "history_months", int, Config.history_months, "global"),
                                     "global.history_months")),
        cache_enterprises=int(_positive(_get(g, "cache_enterprises", int, Config.cache_enterprises, "global"),
                                        "global.cache_enterprises")),
    )
    if cfg_kwargs["history_months"] < 24:
        raise ConfigError("global.history_months: must be at least 24 (a year-over-year baseline needs it)")

    d = raw.get("delivery", {})
    _check_keys(d, {"max_attempts", "backoff_base_seconds", "backoff_cap_seconds", "timeout_seconds"}, "delivery")
    delivery = DeliveryConfig(
        max_attempts=int(_positive(_get(d, "max_attempts", int, 8, "delivery"), "delivery.max_attempts")),
        backoff_base_seconds=_positive(_get(d, "backoff_base_seconds", float, 30.0, "delivery"),
                                       "delivery.backoff_base_seconds"),
        backoff_cap_seconds=_positive(_get(d, "backoff_cap_seconds", float, 3600.0, "delivery"),
                                      "delivery.backoff_cap_seconds"),
        timeout_seconds=_positive(_get(d, "timeout_seconds", float, 10.0, "delivery"), "delivery.timeout_seconds"),
    )

    detectors = raw.get("detectors", {})
    if not isinstance(detectors, dict):
        raise ConfigError("detectors: expected a table of [detectors.<signal>] tables")
    from detectors.registry import validate_settings  # local: keeps config importable without numpy at parse

    checked: dict[str, dict[str, Any]] = {}
    for signal, settings in detectors.items():
        if not isinstance(settings, dict):
            raise ConfigError(f"detectors.{signal}: expected a table")
        try:
            checked[signal] = validate_settings(signal, settings)
        except ValueError as exc:
            raise ConfigError(f"detectors.{signal}: {exc}") from None

    from detectors.signals import signal_names

    signals = signal_names()

    banks_raw = raw.get("banks", [])
    if not isinstance(banks_raw, list):
        raise ConfigError("banks: expected an array of [[banks]] tables")
    banks: list[BankConfig] = []
    seen: set[str] = set()
    for i, b in enumerate(banks_raw):
        where = f"banks[{i}]"
        if not isinstance(b, dict):
            raise ConfigError(f"{where}: expected a table")
        if "id" not in b:
            raise ConfigError(f"{where}: missing key 'id'")
        bid = _get(b, "id", str, None, where)
        if not _BANK_ID.match(bid):
            raise ConfigError(f"{where}.id: {bid!r} must be lower-case letters, digits, '_' or '-'")
        if bid in seen:
            raise ConfigError(f"{where}.id: bank {bid!r} is defined twice")
        seen.add(bid)
        banks.append(_bank(b, bid, f"banks[{bid}]", signals))
    inhibit = DEFAULT_INHIBIT
    if "inhibit_rules" in raw:
        rules = raw["inhibit_rules"]
        if not isinstance(rules, list):
            raise ConfigError("inhibit_rules: expected an array of [[inhibit_rules]] tables")
        inhibit = tuple(_inhibit_rule(r, f"inhibit_rules[{i}]", signals) for i, r in enumerate(rules))
    return Config(**cfg_kwargs, delivery=delivery, detectors=checked, banks=tuple(banks), inhibit_rules=inhibit,
                  path=path)


def _severity(table: dict[str, Any], key: str, default: str, where: str) -> Severity:
    try:
        return Severity.parse(_get(table, key, str, default, where))
    except ValueError as exc:
        raise ConfigError(f"{where}.{key}: {exc}") from None


def _signals(table: dict[str, Any], key: str, where: str, known: tuple[str, ...]) -> tuple[str, ...]:
    values = _get(table, key, list, [], where)
    for v in values:
        if v not in known:
            raise ConfigError(f"{where}.{key}: unknown signal {v!r}; valid: {', '.join(known)}")
    return tuple(values)


def _names(table: dict[str, Any], key: str, where: str, receivers: Mapping[str, str]) -> tuple[str, ...]:
    names = _get(table, key, list, [], where)
    for n in names:
        if n not in receivers:
            valid = ", ".join(receivers) or "(none defined)"
            raise ConfigError(f"{where}.{key}: unknown receiver {n!r}; receivers of this bank: {valid}")
    return tuple(names)


def _bank(b: dict[str, Any], bid: str, where: str, known: tuple[str, ...]) -> BankConfig:
    _check_keys(b, {"id", "name", "locale", "min_severity", "channels", "receivers", "routes", "signals",
                    "thresholds", "escalate", "digest", "group_wait_seconds"}, where)
    locale = _get(b, "locale", str, "zh-CN", where)
    if locale not in LOCALES:
        raise ConfigError(f"{where}.locale: {locale!r} is not supported; valid: {', '.join(LOCALES)}")
    receivers: dict[str, str] = {}
    for j, url in enumerate(_get(b, "channels", list, [], where)):
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"{where}.channels[{j}]: expected a non-empty apprise URL string")
        receivers[f"channel-{j + 1}"] = url
    for name, url in _get(b, "receivers", dict, {}, where).items():
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"{where}.receivers.{name}: expected a non-empty apprise URL string")
        if name in receivers:
            raise ConfigError(f"{where}.receivers.{name}: defined twice")
        receivers[name] = url
    routes = []
    for k, r in enumerate(_get(b, "routes", list, [], where)):
        rw = f"{where}.routes[{k}]"
        if not isinstance(r, dict):
            raise ConfigError(f"{rw}: expected a table")
        _check_keys(r, {"min_severity", "signals", "receivers", "digest", "continue"}, rw)
        route = Route(min_severity=_severity(r, "min_severity", "low", rw), signals=_signals(r, "signals", rw, known),
                      receivers=_names(r, "receivers", rw, receivers), digest=_get(r, "digest", bool, False, rw),
                      continue_=_get(r, "continue", bool, False, rw))
        if not route.receivers and not route.digest:
            raise ConfigError(f"{rw}: a route needs receivers, or digest = true")
        routes.append(route)
    thresholds = {}
    for signal, value in _get(b, "thresholds", dict, {}, where).items():
        if signal not in known:
            raise ConfigError(f"{where}.thresholds: unknown signal {signal!r}; valid: {', '.join(known)}")
        thresholds[signal] = _positive(_get({signal: value}, signal, float, None, f"{where}.thresholds"),
                                       f"{where}.thresholds.{signal}")
    esc = _get(b, "escalate", dict, {}, where)
    _check_keys(esc, {"exposure_at_least", "due_within_days"}, f"{where}.escalate")
    escalation = Escalation(
        exposure_at_least=_get(esc, "exposure_at_least", float, None, f"{where}.escalate"),
        due_within_days=_get(esc, "due_within_days", int, None, f"{where}.escalate"))
    dg = _get(b, "digest", dict, {}, where)
    _check_keys(dg, {"receivers", "hour"}, f"{where}.digest")
    hour = _get(dg, "hour", int, 8, f"{where}.digest")
    if not 0 <= hour <= 23:
        raise ConfigError(f"{where}.digest.hour: must be 0-23 (China time), got {hour}")
    digest = DigestSettings(enabled="digest" in b or any(r.digest for r in routes),
                            receivers=_names(dg, "receivers", f"{where}.digest", receivers), hour=hour)
    return BankConfig(
        id=bid, name=_get(b, "name", str, bid, where), locale=locale,
        min_severity=_severity(b, "min_severity", "medium", where), receivers=receivers, routes=tuple(routes),
        signals=_signals(b, "signals", where, known), thresholds=thresholds, escalation=escalation, digest=digest,
        group_wait_seconds=_non_negative_float(_get(b, "group_wait_seconds", float, 0.0, where),
                                               f"{where}.group_wait_seconds"))


def _non_negative_float(value: float, where: str) -> float:
    if value < 0:
        raise ConfigError(f"{where}: must be >= 0, got {value}")
    return value


def _inhibit_rule(r: Any, where: str, known: tuple[str, ...]) -> InhibitRule:
    if not isinstance(r, dict):
        raise ConfigError(f"{where}: expected a table")
    _check_keys(r, {"source_signals", "target_max_severity"}, where)
    sources = _signals(r, "source_signals", where, known)
    if not sources:
        raise ConfigError(f"{where}.source_signals: name at least one signal")
    return InhibitRule(sources, _severity(r, "target_max_severity", "high", where))
