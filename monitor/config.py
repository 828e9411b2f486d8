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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.severity import Severity

__all__ = ["Config", "BankConfig", "DeliveryConfig", "ConfigError", "load_config", "parse_config", "default_config_path"]

LOCALES = ("zh-CN", "en")
_BANK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ConfigError(ValueError):
    """The configuration file is wrong; the message names the key and the problem."""


@dataclass(frozen=True)
class BankConfig:
    id: str
    name: str
    locale: str = "zh-CN"
    min_severity: Severity = Severity.MEDIUM
    channels: tuple[str, ...] = ()


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
    _check_keys(raw, {"global", "delivery", "detectors", "banks"}, "config")
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

    banks_raw = raw.get("banks", [])
    if not isinstance(banks_raw, list):
        raise ConfigError("banks: expected an array of [[banks]] tables")
    banks: list[BankConfig] = []
    seen: set[str] = set()
    for i, b in enumerate(banks_raw):
        where = f"banks[{i}]"
        if not isinstance(b, dict):
            raise ConfigError(f"{where}: expected a table")
        _check_keys(b, {"id", "name", "locale", "min_severity", "channels"}, where)
        if "id" not in b:
            raise ConfigError(f"{where}: missing key 'id'")
        bid = _get(b, "id", str, None, where)
        if not _BANK_ID.match(bid):
            raise ConfigError(f"{where}.id: {bid!r} must be lower-case letters, digits, '_' or '-'")
        if bid in seen:
            raise ConfigError(f"{where}.id: bank {bid!r} is defined twice")
        seen.add(bid)
        where = f"banks[{bid}]"
        locale = _get(b, "locale", str, "zh-CN", where)
        if locale not in LOCALES:
            raise ConfigError(f"{where}.locale: {locale!r} is not supported; valid: {', '.join(LOCALES)}")
        try:
            min_sev = Severity.parse(_get(b, "min_severity", str, "medium", where))
        except ValueError as exc:
            raise ConfigError(f"{where}.min_severity: {exc}") from None
        channels = _get(b, "channels", list, [], where)
        for j, url in enumerate(channels):
            if not isinstance(url, str) or not url.strip():
                raise ConfigError(f"{where}.channels[{j}]: expected a non-empty apprise URL string")
        banks.append(BankConfig(id=bid, name=_get(b, "name", str, bid, where), locale=locale,
                                min_severity=min_sev, channels=tuple(channels)))
    return Config(**cfg_kwargs, delivery=delivery, detectors=checked, banks=tuple(banks), path=path)
