"""``[[banks]]`` and ``[[inhibit_rules]]``, parsed straight into the types the fan-out uses.

A bank table becomes one ``alerts.policy.BankPolicy``: its receivers (the
short form ``channels = [...]`` names them ``channel-1``, ``channel-2``, ...),
routes, signals of interest, thresholds, escalation and digest, and the
file's inhibit rules. Every receiver URL is checked against apprise here, so
a URL no plugin understands stops the file from loading instead of failing
every delivery later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from alerts.channels import validate_url
from alerts.message import LOCALES
from alerts.policy import DEFAULT_INHIBIT, BankPolicy, DigestSettings, Escalation, InhibitRule, Route
from monitor.config_values import Problems

__all__ = ["parse_banks", "parse_inhibit_rules"]

_BANK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_BANK_KEYS = {"id", "name", "locale", "min_severity", "channels", "receivers", "routes", "signals", "thresholds",
              "escalate", "digest", "group_wait_seconds"}


def parse_inhibit_rules(raw: dict[str, Any], problems: Problems, signals: Sequence[str]) -> tuple[InhibitRule, ...]:
    """The top-level ``[[inhibit_rules]]`` (the default rule when the file has none)."""
    if "inhibit_rules" not in raw:
        return DEFAULT_INHIBIT
    rules = raw["inhibit_rules"]
    if not isinstance(rules, list):
        problems.add("inhibit_rules", "expected an array of [[inhibit_rules]] tables")
        return DEFAULT_INHIBIT
    out = []
    for i, r in enumerate(rules):
        where = f"inhibit_rules[{i}]"
        if not isinstance(r, dict):
            problems.add(where, "expected a table")
            continue
        problems.keys(r, {"source_signals", "target_max_severity"}, where)
        sources = problems.choices(r, "source_signals", where, signals, "signal")
        if not sources and not r.get("source_signals"):
            problems.add(f"{where}.source_signals", "name at least one signal")
        out.append(InhibitRule(sources, problems.severity(r, "target_max_severity", "high", where)))
    return tuple(out)


def parse_banks(raw: dict[str, Any], problems: Problems, signals: Sequence[str],
                inhibit_rules: tuple[InhibitRule, ...]) -> tuple[BankPolicy, ...]:
    banks_raw = raw.get("banks", [])
    if not isinstance(banks_raw, list):
        problems.add("banks", "expected an array of [[banks]] tables")
        return ()
    banks: list[BankPolicy] = []
    seen: set[str] = set()
    for i, b in enumerate(banks_raw):
        where = f"banks[{i}]"
        if not isinstance(b, dict):
            problems.add(where, "expected a table")
            continue
        bid = problems.get(b, "id", str, None, where)
        if "id" not in b:
            problems.add(where, "missing key 'id'")
        elif bid is not None and not _BANK_ID.match(bid):
            problems.add(f"{where}.id", f"{bid!r} must be lower-case letters, digits, '_' or '-'")
            bid = None
        elif bid in seen:
            problems.add(f"{where}.id", f"bank {bid!r} is defined twice")
            bid = None
        if bid is not None:
            seen.add(bid)
            where = f"banks[{bid}]"
        bank = _bank(b, bid or f"bank-{i}", where, problems, signals, inhibit_rules)
        if bid is not None:
            banks.append(bank)
    return tuple(banks)


def _receivers(b: dict[str, Any], where: str, problems: Problems) -> dict[str, str]:
    receivers: dict[str, str] = {}
    for j, url in enumerate(problems.get(b, "channels", list, [], where)):
        if not isinstance(url, str) or not url.strip():
            problems.add(f"{where}.channels[{j}]", "expected a non-empty apprise URL string")
            continue
        _check_url(url, f"{where}.channels[{j}]", problems)
        receivers[f"channel-{j + 1}"] = url
    for name, url in problems.get(b, "receivers", dict, {}, where).items():
        if not isinstance(url, str) or not url.strip():
            problems.add(f"{where}.receivers.{name}", "expected a non-empty apprise URL string")
            continue
        if name in receivers:
            problems.add(f"{where}.receivers.{name}", "defined twice")
            continue
        _check_url(url, f"{where}.receivers.{name}", problems)
        receivers[name] = url
    return receivers


def _check_url(url: str, where: str, problems: Problems) -> None:
    error = validate_url(url)
    if error:
        problems.add(where, error)


def _routes(b: dict[str, Any], where: str, problems: Problems, signals: Sequence[str],
            receivers: Mapping[str, str]) -> tuple[Route, ...]:
    routes = []
    for k, r in enumerate(problems.get(b, "routes", list, [], where)):
        rw = f"{where}.routes[{k}]"
        if not isinstance(r, dict):
            problems.add(rw, "expected a table")
            continue
        problems.keys(r, {"min_severity", "signals", "receivers", "digest", "continue"}, rw)
        route = Route(min_severity=problems.severity(r, "min_severity", "low", rw),
                      signals=problems.choices(r, "signals", rw, signals, "signal"),
                      receivers=problems.choices(r, "receivers", rw, receivers, "receiver", "receivers of this bank"),
                      digest=problems.get(r, "digest", bool, False, rw),
                      continue_=problems.get(r, "continue", bool, False, rw))
        if not route.receivers and not route.digest and not r.get("receivers"):
            problems.add(rw, "a route needs receivers, or digest = true")
        routes.append(route)
    return tuple(routes)


def _thresholds(b: dict[str, Any], where: str, problems: Problems, signals: Sequence[str]) -> dict[str, float]:
    thresholds = {}
    table = problems.get(b, "thresholds", dict, {}, where)
    for signal in table:
        if signal not in signals:
            problems.add(f"{where}.thresholds", f"unknown signal {signal!r}; valid: {', '.join(signals)}")
            continue
        value = problems.positive(table, signal, float, None, f"{where}.thresholds")
        if value is not None:
            thresholds[signal] = value
    return thresholds


def _bank(b: dict[str, Any], bid: str, where: str, problems: Problems, signals: Sequence[str],
          inhibit_rules: tuple[InhibitRule, ...]) -> BankPolicy:
    problems.keys(b, _BANK_KEYS, where)
    locale = problems.get(b, "locale", str, "zh-CN", where)
    if locale not in LOCALES:
        problems.add(f"{where}.locale", f"{locale!r} is not supported; valid: {', '.join(LOCALES)}")
        locale = "zh-CN"
    receivers = _receivers(b, where, problems)
    routes = _routes(b, where, problems, signals, receivers)
    esc = problems.table(b, "escalate", where)
    problems.keys(esc, {"exposure_at_least", "due_within_days"}, f"{where}.escalate")
    escalation = Escalation(
        exposure_at_least=problems.get(esc, "exposure_at_least", float, None, f"{where}.escalate"),
        due_within_days=problems.get(esc, "due_within_days", int, None, f"{where}.escalate"))
    dg = problems.table(b, "digest", where)
    problems.keys(dg, {"receivers", "hour"}, f"{where}.digest")
    hour = problems.get(dg, "hour", int, 8, f"{where}.digest")
    if not 0 <= hour <= 23:
        problems.add(f"{where}.digest.hour", f"must be 0-23 (China time), got {hour}")
        hour = 8
    digest = DigestSettings(
        enabled="digest" in b or any(r.digest for r in routes),
        receivers=problems.choices(dg, "receivers", f"{where}.digest", receivers, "receiver", "receivers of this bank"),
        hour=hour)
    return BankPolicy(
        id=bid, name=problems.get(b, "name", str, bid, where), locale=locale,
        min_severity=problems.severity(b, "min_severity", "medium", where), receivers=receivers, routes=routes,
        signals=problems.choices(b, "signals", where, signals, "signal"), thresholds=_thresholds(b, where, problems, signals),
        escalation=escalation, digest=digest,
        group_wait_seconds=problems.non_negative(b, "group_wait_seconds", float, 0.0, where),
        inhibit_rules=inhibit_rules)
