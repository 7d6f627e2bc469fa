"""Replay drives the registered detectors exactly like the pipeline."""

from pathlib import Path

import numpy as np
import pytest

import detectors.base
from evaluation.datasets import Event, Series, synthetic_station
from evaluation.replay import readings, replay, split_params
from riverwatch.catalog import Catalog, Partner, load_catalog
from riverwatch.errors import ConfigError
from riverwatch.model import Observation
from riverwatch.settings import Settings

from ingest.pipeline import Pipeline
from tests.helpers import stuck_high_spec


def spike_series(n=1200, at=1000):
    rng = np.random.default_rng(3)
    v = 10 + rng.normal(0, 0.1, n)
    v[at] += 5.0
    v[50] = np.nan
    st = synthetic_station("s", ["water_level"], plausible=False)
    t = 1.6e9 + 300.0 * np.arange(n)
    return Series("s.csv", "test", st, t, {"water_level": v}, (Event(t[at - 5], t[at + 5], t[at - 5]),))


def test_readings_leave_out_missing_values():
    xs = readings(spike_series())
    assert "water_level" not in xs[50] and xs[51]["water_level"] == pytest.approx(10, abs=1)


def test_replay_scores_levels_and_warnings():
    r = replay(spike_series(), ["adaptive_anomaly"], {"adaptive_anomaly": {"probation": 300}})
    assert r.scores.shape == (1200,) and 0 <= r.scores.min() and r.scores.max() <= 1
    assert r.scores[:300].max() == 0
    assert [w.index for w in r.warnings] == [1000]
    w = r.warnings[0]
    assert (w.hazard, w.detector, w.quantity) == ("anomaly", "adaptive_anomaly", "water_level")
    assert w.value == pytest.approx(15, abs=1) and w.end_index >= 1000


def test_replay_is_deterministic():
    a = replay(spike_series(), ["adaptive_anomaly"])
    b = replay(spike_series(), ["adaptive_anomaly"])
    assert np.array_equal(a.scores, b.scores)


def test_split_params_routes_and_checks():
    out = split_params(["adaptive_anomaly"], ["hold=10", "adaptive_anomaly.average=2"])
    assert out == {"adaptive_anomaly": {"hold": 10, "average": 2}}
    with pytest.raises(ConfigError, match="no selected detector"):
        split_params(["adaptive_anomaly"], ["nonsense=1"])
    with pytest.raises(ConfigError, match="adaptive_anomaly"):
        split_params(["adaptive_anomaly"], ["hold=-3"])
    with pytest.raises(ConfigError, match="k=v"):
        split_params(["adaptive_anomaly"], ["hold"])


# --- the warning book is fed as in production ----------------------------------------------------

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "catalog" / "demo.toml")
# a recorded series is one station: the gauge without its downstream neighbour
GAUGE = CATALOG.station("rivertown", "gauge-hochtal").model_copy(update={"downstream": None, "travel_time_min": None})
T0 = 1_800_000_000.0


def gauge_series(levels, step_s=600.0):
    t = T0 + step_s * np.arange(len(levels))
    return Series("gauge.csv", "test", GAUGE, t, {"water_level": np.asarray(levels, dtype=float)})


def test_replay_judges_a_reading_knowing_its_sensor_flags(monkeypatch):
    # "level_threshold" sorts before "stuck_check": fed in name order, the flood warning of the
    # reading that also raises the flag would be judged (and published) before the flag
    spec = stuck_high_spec()
    monkeypatch.setitem(detectors.base._REGISTRY, "stuck_check", spec)
    r = replay(gauge_series([1.2, 1.3, 2.8, 2.9, 3.0, 3.1, 3.1]), ["level_threshold", "stuck_check"],
               lifecycle=True)
    flood = [e for e in r.lifecycle if e.hazard == "flood"]
    sensor = [e for e in r.lifecycle if e.hazard == "sensor"]
    assert sensor[0].time_ns == flood[0].time_ns  # the same reading
    assert flood and not [e for e in flood if e.public]
    assert all(dict(e.details).get("held_for_sensor") == "water_level" for e in flood)


FLOOD_NAMES = ["level_threshold", "rate_of_rise", "sensor_fault"]


def flood_wave() -> np.ndarray:
    """Stage (m) of a flood wave read every 5 minutes, 300 readings, with a little noise."""
    rng = np.random.default_rng(5)
    k = np.arange(300) / 40.0
    return 1.4 + 2.2 * k ** 3 * np.exp(3 * (1 - k)) + rng.normal(0, 0.004, 300)


def through_the_pipeline(series, names) -> tuple[list, Pipeline]:
    """The warning events of ``series``'s recorded values sent to the ingest pipeline (one station,
    default lifecycle), and the pipeline."""
    one_station = Catalog(partners=[Partner(id="rivertown", name="rivertown", country="ZZ")], stations=[GAUGE])
    pipe = Pipeline(one_station, Settings(ingest={"detectors": names}))
    piped = []
    for i, (t, v) in enumerate(zip(series.t.tolist(), series.columns["water_level"].tolist())):
        obs = Observation("rivertown", GAUGE.id, int(t * 1e9), i + 1, (("water_level", v),))
        piped += pipe.process(obs, []) + pipe.tick(t)
    return piped, pipe


def test_replay_lifecycle_is_the_pipelines():
    # a flood wave with an injected spike, through replay and through the ingest pipeline: the same
    # warning events
    levels = flood_wave()
    levels[120] += 1.0
    series = gauge_series(levels.tolist(), step_s=300.0)
    replayed = replay(series, FLOOD_NAMES, lifecycle=True).lifecycle
    piped, _ = through_the_pipeline(series, FLOOD_NAMES)
    assert {e.hazard for e in replayed} == {"flood", "sensor"}
    assert replayed == tuple(piped)


def test_replay_leaves_out_what_production_qc_fails_as_the_pipeline_does():
    # a logger's "no data" codes inside a flood wave: production's QC fails them, so no hazard detector
    # sees them, only the sensor checks; the replay does the same, and counts them (before, it fed them
    # to every detector)
    levels = flood_wave()
    levels[[90, 150, 151]] = [-9999.0, 9999.0, -9999.0]
    series = gauge_series(levels.tolist(), step_s=300.0)
    replayed = replay(series, FLOOD_NAMES, lifecycle=True)
    piped, pipe = through_the_pipeline(series, FLOOD_NAMES)
    assert replayed.lifecycle == tuple(piped)
    assert pipe.counters.readings_failed == 3 and np.flatnonzero(replayed.failed_qc["water_level"]).tolist() == \
        [90, 150, 151]
    assert replayed.values_failed_qc == 3
    # the sensor checks see the codes (in both): maintenance notices that hold no flood warning back
    notices = [e for e in replayed.lifecycle if e.hazard == "sensor"]
    assert notices and {dict(e.details).get("fault") for e in notices if e.state == "raised"} == {"impossible"}
    gaps = flood_wave()
    gaps[[90, 150, 151]] = np.nan
    unsent = replay(gauge_series(gaps.tolist(), step_s=300.0), FLOOD_NAMES, lifecycle=True)
    assert [e for e in replayed.lifecycle if e.hazard == "flood"] == [e for e in unsent.lifecycle if e.hazard == "flood"]
