"""The simulator is the yardstick detectors are judged by, so these tests check that it
tells the truth: valid wire events, the watchlist shapes alerting depends on, a real
seasonal spike in healthy firms and a real slide in the ones that default."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from detectors.festival import cny_weights
from monitor.simulate import (
    SOURCE,
    EventStats,
    Portfolio,
    iter_events,
    iter_lines,
    simulate,
    write_portfolio,
)
from streams.uscc import uscc_problem

CST = timezone(timedelta(hours=8))
END = "2025-12"
MONTHLY = {"headcount", "utility", "housing_fund"}
KNOWN_TYPES = MONTHLY | {
    "lawsuit",
    "penalty",
    "tax_arrears",
    "dishonest_debtor",
    "consumption_restriction",
    "abnormal_operation",
    "registration_change",
}
COUNT_FIELDS = {"headcount": ("insured", "joined", "left"), "housing_fund": ("contributors",)}


@pytest.fixture(scope="module")
def portfolio() -> Portfolio:
    return simulate(n_enterprises=600, months=36, end_period=END, seed=7)


@pytest.fixture(scope="module")
def lines(portfolio: Portfolio) -> list[str]:
    return list(iter_lines(portfolio))


def contract_problem(line: str, now: datetime) -> str | None:
    """A basic, independent reading of the DESIGN.md contract: enough to catch a
    generator that drifts from the wire format."""
    try:
        ev = json.loads(line)
    except json.JSONDecodeError:
        return "bad_json"
    for key in ("event_id", "enterprise_id", "type", "occurred_at", "source", "data"):
        if key not in ev:
            return f"missing {key}"
    if ev["type"] not in KNOWN_TYPES:
        return "unknown_type"
    if uscc_problem(ev["enterprise_id"]) is not None:
        return "bad_uscc"
    occurred = datetime.fromisoformat(ev["occurred_at"])
    if occurred.utcoffset() is None or occurred > now:
        return "bad_occurred_at"
    data = ev["data"]
    if ev["type"] in MONTHLY:
        period = data.get("period")
        if not isinstance(period, str) or len(period) != 7:
            return "missing_field"
        if (int(period[:4]), int(period[5:])) >= (now.year, now.month):
            return "future_period"
        if ev["occurred_at"][:7] != period:
            return "occurred_at outside period"
    for name in COUNT_FIELDS.get(ev["type"], ()):
        value = data.get(name)
        if type(value) is not int or value < 0:
            return f"bad {name}"
    amount = data.get("amount", 0)
    if not isinstance(amount, int | float) or amount < 0 or not math.isfinite(amount):
        return "bad amount"
    return None


def monthly_series(portfolio: Portfolio) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(enterprise, series, period) -> data, as a consumer would keep it: duplicates
    ignored, later arrivals for the same key replacing earlier ones."""
    seen: set[str] = set()
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for ev in iter_events(portfolio):
        if ev["event_id"] in seen:
            continue
        seen.add(ev["event_id"])
        if ev["type"] in MONTHLY:
            series = ev["data"]["kind"] if ev["type"] == "utility" else ev["type"]
            out[(ev["enterprise_id"], series, ev["data"]["period"])] = ev["data"]
    return out


def departure_rates(portfolio: Portfolio, series: dict) -> tuple[np.ndarray, np.ndarray]:
    """(left, insured at the previous month end) as (firms x months) arrays, NaN where missing."""
    n, m = portfolio.n_enterprises, len(portfolio.periods)
    left = np.full((n, m), np.nan)
    insured = np.full((n, m), np.nan)
    for i, e in enumerate(portfolio.enterprises):
        for t, period in enumerate(portfolio.periods):
            row = series.get((e.enterprise_id, "headcount", period))
            if row is not None:
                left[i, t], insured[i, t] = row["left"], row["insured"]
    previous = np.concatenate([np.full((n, 1), np.nan), insured[:, :-1]], axis=1)
    return left, previous


# --------------------------------------------------------------------------- stream


def test_same_seed_same_stream_other_seed_differs() -> None:
    a = simulate(n_enterprises=40, months=24, end_period="2024-06", seed=3, bad_event_share=0.01)
    b = simulate(n_enterprises=40, months=24, end_period="2024-06", seed=3, bad_event_share=0.01)
    c = simulate(n_enterprises=40, months=24, end_period="2024-06", seed=4, bad_event_share=0.01)
    first = list(iter_lines(a))
    assert first == list(iter_lines(b))
    assert first == list(iter_lines(a))  # regenerating from the same portfolio is stable too
    assert a.watchlists == b.watchlists and a.enterprises == b.enterprises
    assert first != list(iter_lines(c))


def test_every_line_passes_the_contract(portfolio: Portfolio, lines: list[str]) -> None:
    now = datetime.now(CST)
    problems = Counter(contract_problem(line, now) for line in lines)
    assert problems == Counter({None: len(lines)})
    events = [json.loads(line) for line in lines]
    assert {e["source"] for e in events} == {SOURCE}
    assert {e["enterprise_id"] for e in events} <= {e.enterprise_id for e in portfolio.enterprises}
    periods = {e["data"]["period"] for e in events if e["type"] in MONTHLY}
    assert max(periods) == END and min(periods) == portfolio.start_period
    # The same event_id only ever comes back as an exact duplicate.
    by_id: dict[str, str] = {}
    for line, ev in zip(lines, events, strict=True):
        assert by_id.setdefault(ev["event_id"], line) == line
    assert len(by_id) < len(lines)


def test_monthly_timestamps_are_month_end_and_discrete_ones_are_not(lines: list[str]) -> None:
    events = [json.loads(line) for line in lines]
    monthly = [e for e in events if e["type"] in MONTHLY]
    assert all(e["occurred_at"].endswith("T23:59:59+08:00") for e in monthly)
    ends = {e["occurred_at"][:10] for e in monthly if e["data"]["period"] == "2024-02"}
    assert ends == {"2024-02-29"}
    discrete_days = {e["occurred_at"][8:10] for e in events if e["type"] not in MONTHLY}
    assert len(discrete_days) > 20


def test_stream_is_messy_like_the_real_wire(portfolio: Portfolio, lines: list[str]) -> None:
    stats = EventStats()
    assert list(iter_lines(portfolio, stats)) == lines
    assert stats.lines == len(lines)
    assert stats.late > 0 and stats.corrections > 0 and stats.duplicates > 0
    assert not stats.malformed
    # Arrival order is not period order: some monthly events come after later periods.
    latest = ""
    out_of_order = 0
    keys: Counter[tuple[str, str, str, str]] = Counter()
    seen: set[str] = set()
    for line in lines:
        ev = json.loads(line)
        if ev["type"] not in MONTHLY:
            continue
        period = ev["data"]["period"]
        out_of_order += period < latest
        latest = max(latest, period)
        if ev["event_id"] not in seen:
            seen.add(ev["event_id"])
            keys[(ev["enterprise_id"], ev["type"], ev["data"].get("kind", ""), period)] += 1
    assert out_of_order >= stats.late // 2
    assert sum(c - 1 for c in keys.values()) == stats.corrections


def test_malformed_lines_fail_the_contract_one_for_one() -> None:
    pf = simulate(n_enterprises=80, months=24, end_period="2025-06", seed=5, bad_event_share=0.02)
    stats = EventStats()
    now = datetime.now(CST)
    problems = Counter(contract_problem(line, now) for line in iter_lines(pf, stats))
    assert set(stats.malformed) == {
        "bad_json",
        "bad_check_character",
        "negative_left",
        "unknown_type",
        "missing_field",
        "future_period",
    }
    bad = sum(problems.values()) - problems[None]
    assert bad == sum(stats.malformed.values())
    assert problems["bad_json"] == stats.malformed["bad_json"]
    assert problems["bad_uscc"] == stats.malformed["bad_check_character"]
    assert problems["unknown_type"] == stats.malformed["unknown_type"]
    # iter_events has no dict for text that is not JSON
    assert sum(1 for _ in iter_events(pf)) == stats.lines - stats.malformed["bad_json"]


def test_end_period_defaults_to_last_month_and_future_is_refused() -> None:
    now = datetime.now(CST)
    previous = date(now.year, now.month, 1) - timedelta(days=1)
    pf = simulate(n_enterprises=5, months=12, seed=1)
    assert pf.end_period == f"{previous.year:04d}-{previous.month:02d}"
    with pytest.raises(ValueError):
        simulate(n_enterprises=5, months=12, end_period=f"{now.year:04d}-{now.month:02d}")
    with pytest.raises(ValueError):
        simulate(n_enterprises=5, months=6, end_period="2024-06")


# --------------------------------------------------------------------------- portfolio


def test_profiles_and_outcomes(portfolio: Portfolio) -> None:
    profiles = Counter(e.profile for e in portfolio.enterprises)
    assert profiles["deteriorating"] == round(0.08 * 600)
    assert profiles["shock"] == round(0.10 * 600)
    defaulting = {e.enterprise_id: e for e in portfolio.enterprises if e.default_period}
    assert {o.enterprise_id for o in portfolio.outcomes} == set(defaulting)
    end = datetime.strptime(END, "%Y-%m")
    for e in defaulting.values():
        d = datetime.strptime(e.default_period, "%Y-%m")
        s = datetime.strptime(e.deterioration_start, "%Y-%m")
        lag = (d.year - s.year) * 12 + d.month - s.month
        assert 6 <= lag <= 15
        ahead = (d.year - end.year) * 12 + d.month - end.month
        assert -11 <= ahead <= 3
        assert e.signals and e.archetype
    assert any(e.default_period > END for e in defaulting.values())
    assert len({e.archetype for e in defaulting.values()}) >= 4
    for e in portfolio.enterprises:
        assert bool(e.shocks) == (e.profile == "shock")
        assert e.profile != "shock" or e.default_period is None
    names = [e.name for e in portfolio.enterprises]
    assert len(set(names)) == len(names)
    assert all(n.endswith("有限公司") for n in names)
    sizes = np.array([e.size for e in portfolio.enterprises])
    assert sizes.min() >= 10 and sizes.max() <= 3000
    assert np.mean(sizes) > 1.3 * np.median(sizes)  # heavy tail


def test_watchlist_invariants(portfolio: Portfolio) -> None:
    ids = {e.enterprise_id for e in portfolio.enterprises}
    watchers: dict[str, set[str]] = defaultdict(set)
    for bank, rows in portfolio.watchlists.items():
        loan_ids = [r.loan_id for r in rows]
        assert len(set(loan_ids)) == len(loan_ids)
        firms = {r.enterprise_id for r in rows}
        assert 0.35 * len(ids) <= len(firms) <= 0.65 * len(ids)
        for r in rows:
            assert r.enterprise_id in ids
            assert 500_000 <= r.exposure <= 50_000_000
            assert r.due_date > END and date.fromisoformat(r.due_date)
            assert r.relationship_manager and r.name
            watchers[r.enterprise_id].add(bank)
    assert all(watchers[o.enterprise_id] for o in portfolio.outcomes)
    assert any(not watchers[i] for i in ids)
    assert any(len(w) >= 2 for w in watchers.values())
    assert any(len(w) == 3 for w in watchers.values())


# --------------------------------------------------------------------------- behaviour


def test_healthy_firms_spike_after_chinese_new_year(portfolio: Portfolio) -> None:
    left, previous = departure_rates(portfolio, monthly_series(portfolio))
    weights = np.array([cny_weights(p) for p in portfolio.periods])
    returning = weights[:, 1] >= 0.25
    ordinary = (weights[:, 0] == 0) & (weights[:, 1] == 0)
    ratios = []
    for i, e in enumerate(portfolio.enterprises):
        if e.profile != "healthy" or e.size < 30:
            continue
        base = np.nansum(left[i, ordinary]) / np.nansum(previous[i, ordinary])
        spike = np.nansum(left[i, returning]) / np.nansum(previous[i, returning])
        if base > 0:
            ratios.append(spike / base)
    assert len(ratios) > 100
    assert np.median(ratios) > 1.8


def test_healthy_electricity_dips_in_the_shutdown_month(portfolio: Portfolio) -> None:
    series = monthly_series(portfolio)
    weights = np.array([cny_weights(p) for p in portfolio.periods])
    shutdown = [p for p, w in zip(portfolio.periods, weights, strict=True) if w[0] >= 0.5]
    ordinary = [p for p, w in zip(portfolio.periods, weights, strict=True) if w[0] == 0 and w[1] == 0]
    ratios = []
    for e in portfolio.enterprises:
        if e.profile == "healthy" and e.first_period == portfolio.start_period:
            low = np.mean([series[(e.enterprise_id, "electricity", p)]["amount"] for p in shutdown])
            usual = np.mean([series[(e.enterprise_id, "electricity", p)]["amount"] for p in ordinary])
            ratios.append(low / usual)
    assert 0.4 < np.median(ratios) < 0.75


def test_deteriorating_firms_lose_people_faster_before_default(portfolio: Portfolio) -> None:
    left, previous = departure_rates(portfolio, monthly_series(portfolio))
    index = {p: t for t, p in enumerate(portfolio.periods)}
    ratios = []
    for i, e in enumerate(portfolio.enterprises):
        if e.profile != "deteriorating":
            continue
        stop = min(index.get(e.default_period, len(portfolio.periods)), len(portfolio.periods))
        before = slice(stop - 6, stop)
        first_year = np.nansum(left[i, :12]) / np.nansum(previous[i, :12])
        late = np.nansum(left[i, before]) / np.nansum(previous[i, before])
        ratios.append(late / max(first_year, 1e-9))
    ratios_a = np.array(ratios)
    assert np.mean(ratios_a > 1.0) >= 0.7  # not all: some slides are utility- or lawsuit-led
    assert np.median(ratios_a) > 1.4


def test_shocks_recover(portfolio: Portfolio) -> None:
    series = monthly_series(portfolio)
    index = {p: t for t, p in enumerate(portfolio.periods)}
    checked = 0
    for e in portfolio.enterprises:
        for shock in e.shocks:
            t = index[shock.period]
            if shock.kind != "plant_maintenance" or t + 6 >= len(portfolio.periods) or t < 3:
                continue
            power = [series[(e.enterprise_id, "electricity", p)]["amount"] for p in portfolio.periods]
            around = np.median(power[t - 3 : t] + power[t + 3 : t + 6])
            assert power[t] < around
            assert power[t + 4] > 0.6 * around
            checked += 1
    assert checked > 0


# --------------------------------------------------------------------------- files


def test_write_portfolio_round_trips(tmp_path: Path) -> None:
    pf = simulate(n_enterprises=60, months=24, end_period="2025-03", seed=9, bad_event_share=0.01)
    paths = write_portfolio(pf, tmp_path / "out")
    assert {"events", "outcomes", "truth", "manifest"} <= set(paths)
    assert all(p.exists() for p in paths.values())

    written = paths["events"].read_text(encoding="utf-8").splitlines()
    assert written == list(iter_lines(pf))
    assert any("有限公司" in line or "法院" in line for line in written)  # UTF-8, not \\u escapes

    for bank in pf.banks:
        with open(paths[f"watchlist-{bank}"], encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == [
                "enterprise_id",
                "loan_id",
                "exposure",
                "due_date",
                "relationship_manager",
                "name",
            ]
            rows = list(reader)
        assert [
            (r["enterprise_id"], r["loan_id"], int(r["exposure"]), r["due_date"], r["name"]) for r in rows
        ] == [(w.enterprise_id, w.loan_id, w.exposure, w.due_date, w.name) for w in pf.watchlists[bank]]

    with open(paths["outcomes"], encoding="utf-8", newline="") as fh:
        outcomes = list(csv.DictReader(fh))
    assert [(o["enterprise_id"], o["default_period"]) for o in outcomes] == [
        (o.enterprise_id, o.default_period) for o in pf.outcomes
    ]

    truth = json.loads(paths["truth"].read_text(encoding="utf-8"))
    assert set(truth) == {e.enterprise_id for e in pf.enterprises}
    for e in pf.enterprises:
        record = truth[e.enterprise_id]
        assert record["profile"] == e.profile
        assert record["default_period"] == e.default_period
        assert record["deterioration_start"] == e.deterioration_start
        assert record["signals"] == list(e.signals)
        assert len(record["shocks"]) == len(e.shocks)

    manifest = json.loads(paths["manifest"].read_text(encoding="utf-8"))
    assert manifest["seed"] == 9 and manifest["end_period"] == "2025-03" and manifest["months"] == 24
    assert manifest["events"]["lines"] == len(written)
    assert manifest["defaults"] == len(pf.outcomes)
    assert manifest["unwatched_enterprises"] >= 1
    assert sum(manifest["events"]["malformed"].values()) > 0
