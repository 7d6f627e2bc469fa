"""Replay drives the registered detectors exactly like the pipeline."""

import numpy as np
import pytest

from detectors.evaluate.datasets import Event, Series, synthetic_station
from detectors.evaluate.replay import readings, replay, split_params
from riverwatch.errors import ConfigError


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
