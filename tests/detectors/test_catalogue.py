"""The signal catalogue and the one detector shape: every signal in one entry, every detector a
``Detector``, defaults immutable, no detector shared between sets, tolerances declared by detectors."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from detectors.base import Detector
from detectors.drift import DriftDetector
from detectors.evidence import EvidenceScore
from detectors.exceptions import BadParameter
from detectors.level_shift import LevelShiftDetector
from detectors.rate_change import RateChangeDetector
from detectors.records import History
from detectors.registry import DetectorSet, build_detectors
from detectors.rules import ListingRule, OneOffRule
from detectors.signals import CATALOGUE, Signal, display_name, signal_names
from tests.detectors.synthetic import workforce_history

# What monitor/reconcile.py used to infer from the evidence: levels 3 months, rates 2, rules 0.
DECLARED = {LevelShiftDetector: 3, DriftDetector: 3, RateChangeDetector: 2, ListingRule: 0, OneOffRule: 0,
            EvidenceScore: 3}


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_every_catalogue_signal_builds_a_detector_of_the_one_shape(name):
    entry = CATALOGUE[name]
    det = entry.build()
    assert isinstance(det, Detector)
    assert (det.signal, det.family) == (name, entry.family)
    assert det.same_change_months == DECLARED[entry.detector]
    assert det.inputs is None or (isinstance(det.inputs, tuple) and all(isinstance(k, str) for k in det.inputs))
    assert det.detect(History("X"), shared={}) == []
    assert entry.display_name("zh-CN") != name and entry.display_name("en") != name
    assert entry.display_name("zh-CN") != entry.display_name("en")
    assert display_name(name, "en") == entry.name_en


def test_defaults_are_immutable_values():
    for entry in CATALOGUE.values():
        assert isinstance(entry.defaults, MappingProxyType)
        with pytest.raises(TypeError):
            entry.defaults["severity_steps"] = (0.1, 0.2, 0.3, 0.4)  # type: ignore[index]
    with pytest.raises(BadParameter, match="immutable"):
        Signal("x", "y", "甲", "X", DriftDetector, {"metrics": ["departures"]})


def test_no_detector_is_shared_between_detector_sets():
    a, b = build_detectors(only=signal_names()), build_detectors(only=signal_names())
    for name in a.detectors:
        assert a.detectors[name] is not b.detectors[name], name
    assert a.detectors["headcount_drop"].engine is not b.detectors["headcount_drop"].engine
    h = workforce_history(seed=1, slide_from="2024-03")
    before = b.run(h)
    a.detectors["headcount_drop"].engine.fit([1.0, 2.0, 3.0, 50.0, 51.0, 52.0])  # a fit on one set...
    assert b.run(History(h.enterprise_id, h.monthly)) == before  # ...leaves the other alone


def test_the_set_passes_shared_to_every_detector_and_reads_what_each_declares():
    """No detector class is special: a detector written elsewhere gets the same run."""
    calls = []

    class Probe:
        signal, family, inputs, same_change_months = "probe", "probing", None, 5

        def detect(self, history, *, shared=None, peers=None):
            calls.append(shared)
            return []

    assert isinstance(Probe(), Detector)
    ds = DetectorSet({"probe": Probe(), "other": Probe()}, 0)
    ds.run(History("X"))
    assert len(calls) == 2 and calls[0] is calls[1] and isinstance(calls[0], dict)
    assert ds.same_change_months == {"probe": 5} and ds.families == {"probe": "probing"}


def test_a_detector_without_a_family_is_its_own():
    det = RateChangeDetector(signal="lawsuit_surge", event_type="lawsuit")
    assert det.family == "lawsuit_surge"
    with pytest.raises(BadParameter):
        RateChangeDetector(signal="", event_type="lawsuit")


def test_court_listings_stand_alone_and_nothing_else_does():
    assert build_detectors().standalone == {"dishonest_debtor_listed", "consumption_restriction"}
