"""Configuration: one TOML file read top to bottom.

Process settings live in ``[global]`` and ``[delivery]``; what the detectors
look for in ``[detectors.<signal>]``; who is told what in ``[[banks]]`` and
``[[inhibit_rules]]``; Kafka mode in ``[kafka]``. The file is parsed straight
into the types the daemon runs on (``alerts.policy.BankPolicy``,
``alerts.outbox.DeliverySettings``, ``streams.kafka_config.KafkaSettings``),
and every problem in it is collected, each naming its table and key, so
``loanwatch config check`` lists them all at once and ``load_config`` refuses
the file with all of them. A file that fails to load never replaces a
running configuration.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from alerts.outbox import DeliverySettings
from alerts.policy import DEFAULT_INHIBIT, BankPolicy, InhibitRule
from detectors.registry import validate_settings
from detectors.signals import signal_names
from monitor.config_banks import parse_banks, parse_inhibit_rules
from monitor.config_values import Problems
from monitor.exceptions import ConfigError
from streams.kafka_config import KafkaConfigError, KafkaSettings, parse_kafka_table

__all__ = ["Config", "ConfigError", "load_config", "parse_config", "default_config_path", "STORE_ENV"]

#: Overrides ``global.store``.
STORE_ENV = "LOANWATCH_STORE"

_GLOBAL_KEYS = ("store", "spool_dir", "poll_interval_seconds", "batch_size", "detect_every_events",
                "recent_window_months", "history_months", "cache_enterprises")
_DELIVERY_KEYS = ("max_attempts", "backoff_base_seconds", "backoff_cap_seconds", "timeout_seconds")


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
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    banks: tuple[BankPolicy, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT  # as the file says; every bank carries them
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    path: str | None = None

    @cached_property
    def policies(self) -> Mapping[str, BankPolicy]:
        """The banks by id."""
        return {b.id: b for b in self.banks}


def default_config_path() -> str:
    return os.environ.get("LOANWATCH_CONFIG") or "config.toml"


def load_config(path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; relative paths in it are relative to the file.

    ``environ`` (default ``os.environ``) supplies ``$LOANWATCH_STORE`` and
    ``$LOANWATCH_KAFKA_BOOTSTRAP``.
    """
    p = Path(path or default_config_path())
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found (set --config or LOANWATCH_CONFIG)", path=str(p)) from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the config file: {exc.strerror or exc}", path=str(p)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}", path=str(p)) from None
    return parse_config(raw, base_dir=p.resolve().parent, path=str(p), environ=environ)


def parse_config(raw: dict[str, Any], *, base_dir: Path | None = None, path: str | None = None,
                 environ: Mapping[str, str] | None = None) -> Config:
    """A ``Config`` from a parsed file, or ``ConfigError`` with every problem in it."""
    env = os.environ if environ is None else environ
    problems = Problems()
    problems.keys(raw, {"global", "delivery", "detectors", "banks", "inhibit_rules", "kafka"}, "config")
    g = problems.table(raw, "global", "")
    problems.keys(g, _GLOBAL_KEYS, "global")
    store = env.get(STORE_ENV) or problems.get(g, "store", str, Config.store, "global")
    spool = problems.get(g, "spool_dir", str, Config.spool_dir, "global")
    if base_dir is not None and not os.path.isabs(spool):
        spool = str((base_dir / spool).resolve())
    settings: dict[str, Any] = {
        "poll_interval_seconds": problems.positive(g, "poll_interval_seconds", float, Config.poll_interval_seconds,
                                                   "global"),
        "batch_size": problems.positive(g, "batch_size", int, Config.batch_size, "global"),
        "detect_every_events": problems.non_negative(g, "detect_every_events", int, Config.detect_every_events,
                                                     "global"),
    }
    for key in ("recent_window_months", "history_months", "cache_enterprises"):
        settings[key] = problems.positive(g, key, int, getattr(Config, key), "global")
    if settings["history_months"] < 24:
        problems.add("global.history_months", "must be at least 24 (a year-over-year baseline needs it)")

    d = problems.table(raw, "delivery", "")
    problems.keys(d, _DELIVERY_KEYS, "delivery")
    defaults = DeliverySettings()
    delivery = DeliverySettings(
        max_attempts=problems.positive(d, "max_attempts", int, defaults.max_attempts, "delivery"),
        **{k: problems.positive(d, k, float, getattr(defaults, k), "delivery") for k in _DELIVERY_KEYS[1:]})

    signals = signal_names()
    inhibit_rules = parse_inhibit_rules(raw, problems, signals)
    config = Config(
        store=_resolve_store(store, base_dir), spool_dir=spool, **settings, delivery=delivery,
        detectors=_detectors(raw, problems), banks=parse_banks(raw, problems, signals, inhibit_rules),
        inhibit_rules=inhibit_rules, kafka=_kafka(raw, problems, env), path=path)
    if problems:
        raise ConfigError(problems.items, path=path)
    return config


def _detectors(raw: dict[str, Any], problems: Problems) -> dict[str, dict[str, Any]]:
    checked: dict[str, dict[str, Any]] = {}
    for signal, table in problems.table(raw, "detectors", "").items():
        if not isinstance(table, dict):
            problems.add(f"detectors.{signal}", "expected a table")
            continue
        try:
            checked[signal] = validate_settings(signal, table)
        except ValueError as exc:
            problems.add(f"detectors.{signal}", str(exc))
    return checked


def _kafka(raw: dict[str, Any], problems: Problems, env: Mapping[str, str]) -> KafkaSettings:
    settings, found = parse_kafka_table(raw.get("kafka", {}))
    problems.items.extend(found)
    try:
        return settings.with_env(env)
    except KafkaConfigError as exc:
        problems.items.extend(exc.problems)
        return settings


def _resolve_store(url: str, base_dir: Path | None) -> str:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and base_dir is not None:
        rel = url[len("sqlite:///"):]
        if rel and rel != ":memory:":
            return "sqlite:///" + str((base_dir / rel).resolve())
    return url
