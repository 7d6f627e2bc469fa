"""The one station stepper: score, learn, level in that order; the book fed as production feeds it."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from detectors.base import DetectorSpec, Finding, get
from early_warning.lifecycle import WarningBook
from early_warning.stepper import StationStepper
from riverwatch.catalog import load_catalog
from riverwatch.model import Level
from riverwatch.settings import REPO_ROOT

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
HOCHTAL = CATALOG.station("rivertown", "gauge-hochtal")
T0 = 1_800_000_000.0


class NoParams(BaseModel):
    pass


class Recorder:
    """Logs its calls; its level is the number of readings learnt (so the order shows)."""

    def __init__(self, calls, fail=False):
        self.calls, self.fail, self.learnt = calls, fail, 0

    def score_one(self, x):
        self.calls.append("score_one")
        if self.fail:
            raise RuntimeError("broken detector")
        return 0.5

    def learn_one(self, x):
        self.calls.append("learn_one")
        self.learnt += 1

    def level(self, score):
        self.calls.append("level")
        return Level(min(self.learnt, 4)) if self.learnt >= 2 else Level.NONE

    def evidence(self, x, score):
        self.calls.append("evidence")
        return Finding("recorder", "anomaly", self.level(score), "water_level", x["water_level"], score)


def recorder_spec(calls, hazard="anomaly", fail=False, quantities=("water_level",)):
    return DetectorSpec("recorder", lambda st, q, p: Recorder(calls, fail), NoParams, hazard,
                        lambda st, p=None: list(quantities))


def test_score_learn_level_then_the_book_with_evidence_after_learning():
    calls = []
    stepper = StationStepper.build(HOCHTAL, [recorder_spec(calls)])
    book = WarningBook(CATALOG)
    x = {"t": T0, "water_level": 1.0}
    stepper.score(x)
    assert calls == ["score_one", "learn_one", "level"]
    assert stepper.decide(book, x) == [] and "evidence" not in calls  # quiet, nothing pending
    calls.clear()
    x = {"t": T0 + 600, "water_level": 1.0}
    stepper.score(x)
    events = stepper.decide(book, x)
    assert calls[:3] == ["score_one", "learn_one", "level"] and "evidence" in calls[3:]
    assert [(e.state, e.level, e.detector) for e in events] == [("raised", Level.WATCH, "recorder")]


def test_streams_without_their_quantity_are_not_scored_nor_fed():
    calls = []
    stepper = StationStepper.build(HOCHTAL, [recorder_spec(calls)])
    x = {"t": T0, "discharge": 3.0}
    stepper.score(x)
    assert calls == [] and stepper.streams[0].x is None
    assert stepper.decide(WarningBook(CATALOG), x) == []


def test_sensor_streams_come_first_and_the_has_filter_applies():
    stepper = StationStepper.build(HOCHTAL, [get("level_threshold"), recorder_spec([], hazard="sensor")],
                                   has=lambda q: q == "water_level")
    assert [ds.stream for ds in stepper.streams] == ["recorder:water_level", "level_threshold:water_level"]


def test_a_failing_detector_raises_without_on_error_and_is_reported_with_it():
    stepper = StationStepper.build(HOCHTAL, [recorder_spec([], fail=True)])
    with pytest.raises(RuntimeError, match="broken"):
        stepper.score({"t": T0, "water_level": 1.0})
    failed = []
    stepper = StationStepper.build(HOCHTAL, [recorder_spec([], fail=True)],
                                   on_error=lambda st, ds, stage: failed.append((st.id, ds.stream, stage)))
    x = {"t": T0, "water_level": 1.0}
    stepper.score(x)
    assert failed == [("gauge-hochtal", "recorder:water_level", "detector")]
    assert stepper.decide(WarningBook(CATALOG), x) == []


def test_restored_detectors_are_continued():
    kept = Recorder([])
    stepper = StationStepper.build(HOCHTAL, [recorder_spec([])], restored=lambda name, q: kept)
    assert stepper.streams[0].detector is kept


class Seen(Recorder):
    """A recorder that keeps the reading sets it was shown."""

    def __init__(self):
        super().__init__([])
        self.shown = []

    def score_one(self, x):
        self.shown.append(dict(x))
        return 0.0


def test_values_qc_failed_reach_the_sensor_streams_only():
    # a logger's error code: no hazard detector may see it (nor learn it), but the sensor checks
    # must, or a probe sending nothing but codes never raises its maintenance notice
    seen = {"sensor": Seen(), "flood": Seen()}
    specs = [DetectorSpec(f"seen_{h}", lambda st, q, p, h=h: seen[h], NoParams, h, lambda st, p=None: ["water_level"])
             for h in ("flood", "sensor")]
    stepper = StationStepper.build(HOCHTAL, specs)
    x = {"t": T0}
    stepper.score(x, {"water_level": -9999.0})
    assert seen["sensor"].shown == [{"t": T0, "water_level": -9999.0}] and seen["flood"].shown == []
    assert [ds.name for ds in stepper.streams if ds.x is x] == ["seen_sensor"]  # fed to the book
    stepper.score({"t": T0 + 600, "water_level": 1.2})
    assert seen["flood"].shown == [{"t": T0 + 600, "water_level": 1.2}]
    assert x == {"t": T0}                                                       # the reading set is not changed


def streams_of(station, params):
    specs = [get(n) for n in ("rate_of_rise", "time_to_threshold", "relative_rise")]
    return sorted((ds.name, ds.quantity) for ds in StationStepper.build(station, specs, params).streams)


def test_a_detectors_quantities_parameter_chooses_its_streams():
    # Before, the streams came from the parameters' defaults: a configured ``quantities`` changed nothing.
    from detectors.base import example_station

    both = example_station({"water_level": {"levels": {"watch": 2.5}}, "turbidity": {}, "discharge": {"levels": {"watch": 90.0}}})
    assert streams_of(both, {}) == [("rate_of_rise", "turbidity"), ("rate_of_rise", "water_level"),
                                    ("time_to_threshold", "discharge"), ("time_to_threshold", "water_level")]
    chosen = {"rate_of_rise": {"quantities": ["water_level"]}, "time_to_threshold": {"quantities": ["water_level"]}}
    assert streams_of(both, chosen) == [("rate_of_rise", "water_level"), ("time_to_threshold", "water_level")]
    flow_only = example_station(["discharge"])                     # no stage, no catalog levels
    assert streams_of(flow_only, {}) == []                         # no flood detector watches it by default
    watch_flow = {"relative_rise": {"quantities": ["water_level", "discharge"]}}
    assert streams_of(flow_only, watch_flow) == [("relative_rise", "discharge")]
