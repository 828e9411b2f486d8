"""The held-out portfolio generator and the replay helper."""

from __future__ import annotations

import csv
import doctest
import json
from collections import defaultdict

import pytest

from alerts.watchlist import parse_watchlist_csv
from bench.heldout import generate, identity, months, replay
from bench.heldout.months import parse_month
from bench.heldout.replay import FeedOrderError, arrival_months
from streams.contract import validate
from streams.records import Event

MONTHLY = ("headcount", "utility", "housing_fund")


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory):
    out = tmp_path_factory.mktemp("heldout")
    assert generate.main(["--out", str(out), "--firms", "300", "--months", "24", "--seed", "3"]) == 0
    lines = (out / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return out, lines, [json.loads(x) for x in lines]


@pytest.mark.parametrize("module", [months, identity, replay])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_every_event_passes_the_contract(portfolio):
    _, lines, _ = portfolio
    rejected = [r for r in (validate(x, location=f"events.jsonl:{k}") for k, x in enumerate(lines, 1))
                if not isinstance(r, Event)]
    assert rejected == []


def test_feed_is_in_arrival_order_and_never_publishes_before_the_fact(portfolio):
    _, _, events = portfolio
    arrivals = [e["arrival"] for e in events]
    assert arrivals == sorted(arrivals)
    for e in events:
        if e["type"] in MONTHLY:
            assert parse_month(e["arrival"][:7]) > parse_month(e["data"]["period"])
        else:
            assert e["arrival"] >= e["occurred_at"][:10]
        assert e["occurred_at"].endswith("+08:00")


def test_feed_has_late_records_duplicates_and_corrections(portfolio):
    _, _, events = portfolio
    by_id, by_key = defaultdict(list), defaultdict(set)
    late = 0
    for e in events:
        by_id[(e["source"], e["event_id"])].append(e)
        if e["type"] in MONTHLY:
            d = e["data"]
            by_key[(e["enterprise_id"], e["type"], d.get("kind"), d["period"])].add(
                (e["event_id"], json.dumps(d, sort_keys=True)))
            late += parse_month(e["arrival"][:7]) - parse_month(d["period"]) >= 2
    repeats = [v for v in by_id.values() if len(v) > 1]
    assert repeats and all(v[0]["data"] == v[1]["data"] and v[0]["arrival"] <= v[1]["arrival"] for v in repeats)
    corrected = [v for v in by_key.values() if len({eid for eid, _ in v}) > 1]
    assert corrected and all(len({data for _, data in v}) > 1 for v in corrected)
    monthly = sum(e["type"] in MONTHLY for e in events)
    assert 0.01 < late / monthly < 0.15


def test_outcomes_watchlist_profiles_and_truth_agree(portfolio):
    out, _, events = portfolio
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    span = truth["span"]
    with open(out / "outcomes.csv", newline="", encoding="utf-8") as fh:
        outcomes = {r["enterprise_id"]: r["default_period"] for r in csv.DictReader(fh)}
    assert 0.04 * 300 <= len(outcomes) <= 0.10 * 300
    assert all(span["start"] <= p <= span["end"] for p in outcomes.values())
    firms = truth["firms"]
    assert len(firms) == 300
    assert {k for k, v in firms.items() if v["defaulted"]} == set(outcomes)
    assert all(firms[k]["default_period"] == p and firms[k]["decline_start"] < p for k, p in outcomes.items())
    loans = parse_watchlist_csv((out / "watchlist.csv").read_text(encoding="utf-8"))
    assert {r.enterprise_id for r in loans} == set(firms)
    profiles = [json.loads(x) for x in (out / "profiles.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {p["enterprise_id"] for p in profiles} == set(firms)
    assert {p["industry"] for p in profiles} <= set("CEFGHILO")
    assert {e["enterprise_id"] for e in events} <= set(firms)
    for code in firms:  # the organisation code inside the USCC carries its own GB 11714 check
        assert identity.org_code_check(code[8:16]) == code[16]


def test_same_seed_same_feed_other_seed_other_feed():
    a = generate.generate(firms=60, months=12, seed=11)
    b = generate.generate(firms=60, months=12, seed=11)
    c = generate.generate(firms=60, months=12, seed=12)
    assert a.lines == b.lines
    assert a.lines != c.lines


def test_festival_dip_moves_with_the_lunar_date(portfolio):
    """Factories shut around the festival: January in 2023 (22 January), February in 2024 (10 February)."""
    out, _, events = portfolio
    sector = {k: v["sector"] for k, v in json.loads((out / "truth.json").read_text(encoding="utf-8"))["firms"].items()}
    reading = {}  # the last published reading of each meter and month (corrections replace)
    for e in events:
        d = e["data"]
        if e["type"] == "utility" and d["kind"] == "electricity" and sector[e["enterprise_id"]] == "manufacturing":
            reading[e["enterprise_id"], d["period"]] = d["amount"]
    power = defaultdict(float)
    for (_, period), amount in reading.items():
        power[period] += amount
    assert power["2023-01"] < power["2023-02"]
    assert power["2024-02"] < power["2024-01"]


def test_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys):
    assert generate.main(["--out", str(tmp_path), "--months", "6"]) == generate.EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["generate.py: --months must be 12-120, got 6"]
    assert generate.main(["--out", str(tmp_path), "--start", "2099-01", "--firms", "20", "--months", "12"]) == 2
    assert "would still be published after today" in capsys.readouterr().err


# -- replay -----------------------------------------------------------------------------

def _headcount(eid: str, period: str, insured: int, arrival: str, event_id: str | None = None) -> str:
    return json.dumps({
        "event_id": event_id or f"{eid}-{period}-{insured}", "enterprise_id": eid, "type": "headcount",
        "occurred_at": f"{period}-28T23:59:59+08:00", "source": "t",
        "data": {"period": period, "insured": insured, "joined": 0, "left": 1}, "arrival": arrival,
    }, separators=(",", ":"))


def _feed(tmp_path, lines: list[str]):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_replay_yields_every_month_and_refuses_a_shuffled_feed(tmp_path):
    a = _headcount("A", "2024-01", 5, "2024-02-03")
    b = _headcount("A", "2024-02", 5, "2024-04-30")
    assert [(m, len(x)) for m, x in arrival_months(_feed(tmp_path, [a, b]))] == [
        ("2024-02", 1), ("2024-03", 0), ("2024-04", 1)]
    with pytest.raises(FeedOrderError, match=r"events.jsonl:2: arrival 2024-02 comes after 2024-04"):
        list(arrival_months(_feed(tmp_path, [b, a])))
    with pytest.raises(FeedOrderError, match=r"events.jsonl:1: no \"arrival\""):
        list(arrival_months(_feed(tmp_path, ['{"type":"headcount"}'])))
