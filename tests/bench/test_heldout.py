"""The held-out portfolio generator, its scorer, the naive baseline and the replay helper."""

from __future__ import annotations

import csv
import doctest
import json
from collections import defaultdict

import pytest

from bench.heldout import baseline, evidence, generate, identity, months, replay, score
from bench.heldout.baseline import SIGNAL, naive_alerts
from bench.heldout.months import parse_month
from bench.heldout.replay import FeedOrderError, FeedState, arrival_months
from bench.heldout.score import Alert, FirmInfo, ScoreInputError, Span, load_alerts
from monitor.watchlist_csv import parse_watchlist_csv
from streams.contract import validate
from streams.records import Event

MONTHLY = ("headcount", "utility", "housing_fund")


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory):
    out = tmp_path_factory.mktemp("heldout")
    assert generate.main(["--out", str(out), "--firms", "300", "--months", "24", "--seed", "3"]) == 0
    lines = (out / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return out, lines, [json.loads(x) for x in lines]


@pytest.mark.parametrize("module", [months, identity, score, replay, baseline])
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


# -- score ------------------------------------------------------------------------------------------

def _firms(**sizes: int) -> dict[str, FirmInfo]:
    return {k: FirmInfo(k, v, "2024-01", "2025-12") for k, v in sizes.items()}


def test_lead_is_counted_from_the_raise_month_and_late_alerts_do_not_warn():
    span = Span("2024-01", 24)
    firms = _firms(A=10, B=30, C=80, H=200)
    outcomes = {"A": "2024-10", "B": "2025-06", "C": "2025-03"}
    alerts = [
        Alert("A", "s1", "2024-02", "2024-08"),  # raised 2 months ahead: warned, not early
        Alert("A", "s2", "2024-03", "2024-05"),  # raised 5 months ahead: the first warning
        Alert("B", "s1", "2025-01", "2025-06"),  # raised in the default month: no warning
        Alert("C", "s1", "2024-06", "2024-09"),
        Alert("C", "s1", "2024-06", "2024-12"),  # the same alert raised again: its first raise counts
        Alert("Z", "s1", "2024-06", "2024-09"),  # not in the portfolio
    ]
    card = score.score(alerts, outcomes, span, firms, min_lead=3)
    assert (card.defaulters, card.warned, card.early) == (3, 2, 2)
    assert card.lead_raise == (5.25, 5.5, 5.75)  # leads 5 (A) and 6 (C)
    assert card.lead_hindsight == (8.25, 8.5, 8.75)  # from the earliest change: 8 (A) and 9 (C)
    assert [(b.band, b.early, b.defaulters) for b in card.recall_by_band] == [
        ("<20", 1, 1), ("20-49", 0, 1), ("50-149", 1, 1), ("150+", 0, 0)]
    assert card.unknown_firms == 1
    assert card.false_alerts == 0 and card.healthy_firm_years == 2.0


def test_false_alerts_are_distinct_changes_per_observed_healthy_year():
    span = Span("2024-01", 24)
    firms = {"H1": FirmInfo("H1", 5, "2024-01", "2025-12"), "H2": FirmInfo("H2", 5, "2025-01", "2025-06"),
             "D": FirmInfo("D", 5, "2024-01", "2025-12", decline_start="2024-09")}
    alerts = [
        Alert("H1", "s1", "2024-03", "2024-05"),
        Alert("H1", "s1", "2024-03", "2024-07"),  # same change, raised again
        Alert("H1", "s2", "2024-03", "2024-05"),  # another signal: another false alert
        Alert("H2", "s1", "2025-05", "2026-02"),  # raised after the span: counted in its last year
        Alert("D", "s1", "2024-04", "2024-06"),  # on a defaulter, before its decline began
    ]
    card = score.score(alerts, {"D": "2025-03"}, span, firms)
    assert card.false_alerts == 3
    assert card.healthy_firm_years == pytest.approx(2.5)
    assert card.false_per_100 == pytest.approx(120.0)
    assert [(y.year, y.alerts, y.firm_years) for y in card.false_by_year] == [(2024, 2, 1.0), (2025, 1, 1.5)]
    assert card.warned_before_decline == 1


def test_alert_file_errors_name_the_line(tmp_path):
    path = tmp_path / "alerts.csv"
    path.write_text("enterprise_id,signal,change_period,raised_at_month\nA,s,2024-13,2024-05\n", encoding="utf-8")
    with pytest.raises(ScoreInputError, match=r"alerts.csv:2: change_period '2024-13' is not YYYY-MM"):
        load_alerts(path)
    path.write_text("enterprise_id,signal\n", encoding="utf-8")
    with pytest.raises(ScoreInputError, match=r"alerts.csv:1: header must have"):
        load_alerts(path)


def test_score_cli_on_a_generated_portfolio(portfolio, tmp_path, capsys):
    out, _, _ = portfolio
    first = next(iter(json.loads((out / "truth.json").read_text(encoding="utf-8"))["firms"]))
    alerts = tmp_path / "alerts.csv"
    alerts.write_text(f"enterprise_id,signal,change_period,raised_at_month\n{first},x,2023-05,2023-07\n",
                      encoding="utf-8")
    assert score.main(["--data", str(out), "--alerts", str(alerts), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["healthy_firms"] + card["defaulters"] == 300
    assert card["healthy_firm_years"] > 0
    assert score.main(["--data", str(tmp_path), "--alerts", str(alerts)]) == score.EXIT_BAD_INPUT


# -- baseline and replay -----------------------------------------------------------------------------

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


def test_baseline_fires_once_per_run_of_falls_and_only_once_the_data_is_in(tmp_path):
    series = [("2024-01", 20), ("2024-02", 19), ("2024-03", 18), ("2024-04", 17), ("2024-05", 16),
              ("2024-06", 18), ("2024-07", 17), ("2024-08", 16), ("2024-09", 15)]
    lines = [_headcount("A", p, v, f"2024-{int(p[5:]) + 1:02d}-10") for p, v in series]
    lines.insert(5, lines[2].replace('"arrival":"2024-04-10"', '"arrival":"2024-06-01"'))  # a duplicate
    lines.sort(key=lambda x: json.loads(x)["arrival"])
    found = naive_alerts(_feed(tmp_path, lines), (0.0, 0.16, 0.2))
    # January-April fell 15 % (and February-May 15.8 %), June-September 16.7 %
    assert found[0.0] == [Alert("A", SIGNAL, "2024-02", "2024-05"), Alert("A", SIGNAL, "2024-07", "2024-10")]
    assert found[0.16] == [Alert("A", SIGNAL, "2024-07", "2024-10")]
    assert found[0.2] == []


def test_baseline_is_causal_and_follows_corrections(tmp_path):
    lines = [
        _headcount("B", "2024-01", 50, "2024-02-10"),
        _headcount("C", "2024-01", 50, "2024-02-10"),
        _headcount("B", "2024-02", 45, "2024-03-10"),
        _headcount("C", "2024-02", 45, "2024-03-10"),
        _headcount("C", "2024-03", 40, "2024-04-10"),
        _headcount("B", "2024-04", 35, "2024-05-10"),
        _headcount("C", "2024-04", 41, "2024-05-10"),  # first published too high...
        _headcount("C", "2024-04", 35, "2024-06-15", event_id="fix"),  # ...and corrected a month later
        _headcount("B", "2024-03", 40, "2024-07-20"),  # B's March record is three months late
    ]
    found = naive_alerts(_feed(tmp_path, lines), (0.2,))
    assert found[0.2] == [Alert("C", SIGNAL, "2024-02", "2024-06"), Alert("B", SIGNAL, "2024-02", "2024-07")]


def test_replay_yields_every_month_and_refuses_a_shuffled_feed(tmp_path):
    a = _headcount("A", "2024-01", 5, "2024-02-03")
    b = _headcount("A", "2024-02", 5, "2024-04-30")
    assert [(m, len(x)) for m, x in arrival_months(_feed(tmp_path, [a, b]))] == [
        ("2024-02", 1), ("2024-03", 0), ("2024-04", 1)]
    with pytest.raises(FeedOrderError, match=r"events.jsonl:2: arrival 2024-02 comes after 2024-04"):
        list(arrival_months(_feed(tmp_path, [b, a])))
    with pytest.raises(FeedOrderError, match=r"events.jsonl:1: no \"arrival\""):
        list(arrival_months(_feed(tmp_path, ['{"type":"headcount"}'])))


def test_signs_are_read_from_what_had_arrived(tmp_path):
    state = FeedState()
    for k in range(14):
        period = f"{2023 + (k // 12)}-{k % 12 + 1:02d}"
        state.apply(_headcount("A", period, 20 if k < 12 else 16, "2024-03-01", event_id=f"h{k}"), "2024-03")
    suit = {"event_id": "s1", "enterprise_id": "A", "type": "lawsuit", "occurred_at": "2024-02-01T10:00:00+08:00",
            "source": "court", "data": {"case_no": "(2024)苏0583民初1号", "role": "defendant", "cause": "追索劳动报酬纠纷",
                                        "amount": 1000.0, "court": "c", "stage": "filed"}}
    state.apply(json.dumps(suit, ensure_ascii=False, separators=(",", ":")), "2024-02")
    signs = evidence.signs_at(state, "A", parse_month("2024-03"))
    assert set(signs) == set(evidence.SIGNS)
    assert signs["staff down >= 15 % on a year earlier"]  # 16 in February 2024 against 20 a year earlier
    assert signs["a cash-shortage suit as defendant (6 months)"]
    assert not signs["two or more such suits (6 months)"]
    assert not evidence.signs_at(state, "A", parse_month("2024-09"))["a cash-shortage suit as defendant (6 months)"]


def test_evidence_and_baseline_run_on_a_generated_portfolio(portfolio):
    out, _, _ = portfolio
    result = evidence.evidence(out, lead=3)
    with open(out / "outcomes.csv", newline="", encoding="utf-8") as fh:
        assert result["defaulters"] == sum(1 for _ in csv.DictReader(fh))
    assert [r["sign"] for r in result["signs"]] == list(evidence.SIGNS)
    assert all(0 <= r["defaulters"] <= 1 and 0 <= r["healthy"] <= 1 for r in result["signs"])
    points = baseline.curve(out, (0.0, 0.3))["points"]
    assert points[0]["false_alerts"] >= points[1]["false_alerts"] and points[0]["early"] >= points[1]["early"]
