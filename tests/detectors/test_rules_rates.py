"""Rules for severe discrete events, rate-change detectors and the combined risk level."""

from __future__ import annotations

import pytest

from detectors.exceptions import BadParameter
from detectors.records import DiscreteEvent, History
from detectors.registry import build_detectors, validate_settings
from detectors.risk import combined_risk
from detectors.severity import Severity

EID = "91440300MA5F00000X"


def ev(type_, period, day="15", **data):
    return DiscreteEvent(type_, f"{period}-{day}T10:00:00+00:00", period, data, f"{type_}-{period}-{day}")


def run(events, only, monthly_last="2024-12"):
    h = History.from_records(EID, {"headcount": {monthly_last: {"insured": 10, "joined": 0, "left": 0}}}, events)
    return build_detectors(only=only, corroboration_months=0).run(h)


def test_dishonest_debtor_listing_is_critical_and_removal_resolves():
    listed = [ev("dishonest_debtor", "2024-05", status="listed", case_no="A", court="X")]
    found = run(listed, ["dishonest_debtor_listed"])
    assert [(d.signal, d.start_period, d.severity) for d in found] == [
        ("dishonest_debtor_listed", "2024-05", Severity.CRITICAL)]
    assert found[0].evidence.events[0]["case_no"] == "A"
    removed = listed + [ev("dishonest_debtor", "2024-08", status="removed", case_no="A", court="X")]
    assert run(removed, ["dishonest_debtor_listed"]) == []


def test_consumption_restriction_and_abnormal_operation():
    evs = [ev("consumption_restriction", "2024-03", status="issued", case_no="B"),
           ev("abnormal_operation", "2024-04", status="listed", reason="unreachable at address")]
    found = {d.signal: d for d in run(evs, ["consumption_restriction", "abnormal_operation_listed"])}
    assert found["consumption_restriction"].severity == Severity.CRITICAL
    assert found["abnormal_operation_listed"].severity == Severity.LOW  # context: the evidence score weighs it
    evs.append(ev("abnormal_operation", "2024-09", status="removed", reason="filed"))
    assert [d.signal for d in run(evs, ["abnormal_operation_listed"])] == []


def test_tax_arrears_graded_by_amount():
    """Material arrears mean the firm is out of cash (tax is paid before suppliers): high on their own;
    a small one is a slip (a late filing, a surcharge) and stays low."""
    evs = [ev("tax_arrears", "2024-02", amount=20_000, tax_type="VAT"),
           ev("tax_arrears", "2024-05", amount=180_000, tax_type="VAT"),
           ev("tax_arrears", "2024-07", amount=2_500_000, tax_type="CIT")]
    found = {d.start_period: d.severity for d in run(evs, ["tax_arrears"])}
    assert found == {"2024-02": Severity.LOW, "2024-05": Severity.HIGH, "2024-07": Severity.HIGH}


def test_registration_changes():
    evs = [ev("registration_change", "2024-06", field="legal_representative", before="张三", after="李四"),
           ev("registration_change", "2024-06", field="address", before="a", after="b"),
           ev("registration_change", "2024-08", field="registered_capital", before=5000.0, after=1000.0),
           ev("registration_change", "2024-09", field="registered_capital", before=1000.0, after=2000.0)]
    found = {(d.signal, d.start_period): d.severity for d in
             run(evs, ["legal_representative_change", "registered_capital_cut"])}
    # a new legal representative is routine on its own; it counts when other evidence agrees; so is a
    # capital cut since the 2024 Company Law, unless the operator grades cuts up to high again
    assert found == {("legal_representative_change", "2024-06"): Severity.LOW,
                     ("registered_capital_cut", "2024-08"): Severity.LOW}
    h = History.from_records(EID, {"headcount": {"2024-12": {"insured": 10, "joined": 0, "left": 0}}}, evs)
    graded = build_detectors({"registered_capital_cut": {"severity": "high"}}, only=["registered_capital_cut"],
                             corroboration_months=0).run(h)
    assert [(d.start_period, d.severity) for d in graded] == [("2024-08", Severity.HIGH)]


def test_lawsuit_surge_counts_each_case_once_and_only_as_defendant():
    base = [ev("lawsuit", "2022-06", case_no="c0", role="defendant", stage="filed", amount=1)]
    surge = [ev("lawsuit", p, case_no=f"c{i}", role="defendant", stage="filed", amount=100_000)
             for i, p in enumerate(["2024-08", "2024-09", "2024-10", "2024-10", "2024-11"], start=1)]
    stages = [ev("lawsuit", "2024-12", day="02", case_no="c1", role="defendant", stage="judgment", amount=1)]
    plaintiff = [ev("lawsuit", "2024-11", day="20", case_no=f"p{i}", role="plaintiff", stage="filed", amount=1)
                 for i in range(6)]
    found = run(base + surge + stages + plaintiff, ["lawsuit_surge"])
    assert len(found) == 1
    d = found[0]
    assert d.start_period == "2024-08"
    assert d.severity == Severity.HIGH  # 5 distinct cases
    assert {e["case_no"] for e in d.evidence.events} == {f"c{i}" for i in range(1, 6)}


def test_steady_lawsuits_are_not_a_surge():
    steady = [ev("lawsuit", f"{y}-{m:02d}", case_no=f"{y}{m}", role="defendant", stage="filed", amount=1)
              for y in (2022, 2023, 2024) for m in (2, 6, 10)]
    assert run(steady, ["lawsuit_surge"]) == []


def test_penalty_surge():
    evs = [ev("penalty", p, decision_no=f"d{i}", authority="env", reason="x", amount=10_000)
           for i, p in enumerate(["2024-07", "2024-08", "2024-08", "2024-10", "2024-11", "2024-12"])]
    found = run(evs, ["penalty_surge"])
    assert [(d.signal, d.severity) for d in found] == [("penalty_surge", Severity.MEDIUM)]


def test_combined_risk():
    assert combined_risk([]) is None
    assert combined_risk([("a", Severity.LOW)]) == Severity.LOW
    assert combined_risk([("a", Severity.HIGH), ("b", Severity.HIGH)]) == Severity.CRITICAL
    assert combined_risk([("a", Severity.MEDIUM), ("a", Severity.HIGH)]) == Severity.HIGH
    three = [("a", Severity.MEDIUM), ("b", Severity.MEDIUM), ("c", Severity.HIGH)]
    assert combined_risk(three) == Severity.CRITICAL


def test_settings_are_checked_with_clear_errors():
    with pytest.raises(ValueError, match="unknown signal 'nope'"):
        validate_settings("nope", {})
    with pytest.raises(ValueError, match="unknown setting 'treshold'"):
        validate_settings("headcount_drop", {"treshold": 1})
    with pytest.raises(ValueError, match="unknown setting 'metric'"):
        validate_settings("headcount_drop", {"metric": "gas"})  # structural: not tunable
    with pytest.raises(BadParameter, match="severity_steps"):
        validate_settings("headcount_drop", {"severity_steps": [0.5, 0.2, 0.3, 0.4]})
    assert validate_settings("tax_arrears", {"severity": "high", "enabled": False}) == {
        "severity": "high", "enabled": False}
    assert "tax_arrears" not in build_detectors({"tax_arrears": {"enabled": False}}).signals
