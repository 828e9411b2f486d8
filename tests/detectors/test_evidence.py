"""The enterprise evidence score: peers take out the festival, weak signs add up, the start holds still."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.evidence import STATISTIC, EvidenceScore
from detectors.exceptions import BadParameter
from detectors.festival import is_cny_month
from detectors.peers import PeerBaseline, add_sums, firm_sums
from detectors.periods import period_range
from detectors.records import DiscreteEvent, History

PERIODS = period_range("2022-01", "2024-12")


def _firm(eid: str, rng: np.random.Generator, heads: int, *, slide_from: str | None = None, leave_x: float = 1.0,
          hire_x: float = 1.0, festival_x: float = 3.0, events: list[DiscreteEvent] | None = None,
          until: str = PERIODS[-1]) -> History:
    """Monthly flows of a firm whose leavers spike after every Chinese New Year, like all its peers."""
    rows, insured = {}, heads
    for p in (p for p in PERIODS if p <= until):
        sliding = slide_from is not None and p >= slide_from
        rate = 0.025 * (festival_x if is_cny_month(p) else 1.0) * (leave_x if sliding else 1.0)
        left = int(rng.poisson(rate * insured))
        joined = int(rng.poisson(0.025 * heads * (hire_x if sliding else 1.0)))
        insured = max(insured - left + joined, 1)
        rows[p] = {"insured": insured, "joined": joined, "left": left}
    return History.from_records(eid, {"headcount": rows}, events or [])


def _portfolio(rng: np.random.Generator, n: int = 300, until: str = PERIODS[-1]) -> list[History]:
    return [_firm(f"H{i}", rng, int(rng.integers(10, 200)), until=until) for i in range(n)]


def _peers(histories: list[History]) -> PeerBaseline:
    total: dict = {}
    for h in histories:
        add_sums(total, firm_sums(h))
    return PeerBaseline.from_sums(total)


def _suit(period: str, n: int, cause: str = "追索劳动报酬纠纷") -> DiscreteEvent:
    return DiscreteEvent("lawsuit", f"{period}-10T10:00:00+08:00", period,
                         {"role": "defendant", "cause": cause, "stage": "filed", "case_no": f"(2024)苏0505民初{n}号",
                          "amount": 30000.0, "court": "苏州市虎丘区人民法院"}, f"s{n}")


def test_healthy_firms_with_the_festival_spike_stay_quiet_against_their_peers():
    rng = np.random.default_rng(7)
    firms = _portfolio(rng, until="2024-03")  # judged right after the festival
    peers = _peers(firms)
    det = EvidenceScore(signal="distress_score", false_alert_budget=None, threshold=5.0)
    alerted = sum(bool(det.detect(h, peers=peers)) for h in firms)
    assert alerted <= 3
    # in the festival months, the firms' own past says "more leavers than usual"; the peers say "as usual"
    def festival_evidence(with_peers: bool) -> float:
        values = []
        for h in firms:
            timeline, fam, _ = det.score(h, peers if with_peers else None)
            fest = np.array([is_cny_month(f"{t // 12:04d}-{t % 12 + 1:02d}") for t in timeline.tolist()])
            values.extend(fam["workforce"][fest & (timeline >= timeline[0] + 12)].tolist())
        return float(np.mean(values))

    assert festival_evidence(False) > 0.1
    assert festival_evidence(True) < 0.0


def test_a_slide_in_the_flows_alerts_from_where_it_starts_and_keeps_that_start():
    rng = np.random.default_rng(8)
    firms = _portfolio(rng)
    sliding = _firm("S", rng, 120, slide_from="2024-04", leave_x=2.5, hire_x=0.4)
    peers = _peers([*firms, sliding])
    det = EvidenceScore(signal="distress_score", false_alert_budget=None, threshold=5.0)
    found = det.detect(sliding, peers=peers)
    assert len(found) == 1
    d = found[0]
    assert "2024-03" <= d.start_period <= "2024-06"
    assert d.evidence.contributions["workforce"] >= 5.0
    assert d.evidence.level_after > d.evidence.level_before
    assert sliding.memo[STATISTIC] >= 5.0
    # two more months of the same slide: the same change, the same start
    for p, row in (("2025-01", {"insured": 60, "joined": 0, "left": 9}), ("2025-02", {"insured": 52, "joined": 0,
                                                                                   "left": 8})):
        sliding.monthly["headcount"].upsert(p, row)
    assert det.detect(sliding, peers=peers)[0].start_period == d.start_period


def test_weak_signs_of_different_families_alert_together_and_not_alone():
    rng = np.random.default_rng(9)
    firms = _portfolio(rng)
    # a 12-person firm: hiring stops (too few people for that alone), and staff sue for wages
    freeze = _firm("F", np.random.default_rng(1), 12, slide_from="2024-06", hire_x=0.0)
    suits = [_suit("2024-09", 1), _suit("2024-11", 2)]
    both = _firm("B", np.random.default_rng(1), 12, slide_from="2024-06", hire_x=0.0, events=suits)
    only_suits = _firm("O", np.random.default_rng(1), 12, events=suits)
    peers = _peers([*firms, freeze, both, only_suits])
    det = EvidenceScore(signal="distress_score", false_alert_budget=None, threshold=4.0)
    assert det.detect(freeze, peers=peers) == []
    found = det.detect(both, peers=peers)
    assert found and found[0].evidence.contributions["litigation"] > 2.0
    assert {e["class"] for e in found[0].evidence.events} == {"suit_wages"}


def test_a_calibrated_threshold_is_used_once_the_portfolio_has_measured_it():
    levels = np.array([1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0])
    peers = PeerBaseline(crossing_rate=tuple(60.0 * np.exp(-levels) + 1.0), crossing_exposure=50_000.0)
    det = EvidenceScore(signal="distress_score", false_alert_budget=2.0, threshold=9.0)
    h, how = det.effective_threshold(peers)
    assert how == "calibrated" and h == pytest.approx(np.log(30.0), abs=0.05)
    assert det.effective_threshold(None) == (9.0, "configured")


@pytest.mark.parametrize("bad", [dict(threshold=0.0), dict(false_alert_budget=float("nan")),
                                 dict(leave_ratio=0.9), dict(severity_steps=(2.0, 1.5)),
                                 dict(distress_rates={"nonsense": 0.1}), dict(threshold_bounds=(5.0, 2.0))])
def test_settings_are_checked_when_the_detector_is_built(bad):
    with pytest.raises(BadParameter):
        EvidenceScore(signal="distress_score", **bad)
