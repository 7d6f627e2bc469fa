"""``context_anomaly`` (and ``anomaly_ensemble``): patterns learnt and broken, level shifts re-learnt,
constant series quiet, bounded state, probation and hold honoured."""

import math
import pickle

import numpy as np
import pytest

from detectors.base import example_station, get
from riverwatch.errors import ConfigError
from riverwatch.model import Level

Q = "water_level"


def build(name="context_anomaly", **params):
    return get(name).build(example_station([Q]), Q, params)


def feed(det, values, t0=1.6e9):
    out = []
    for i, v in enumerate(values):
        x = {"t": t0 + 300 * i, Q: float(v)}
        out.append(det.score_one(x))
        det.learn_one(x)
    return np.array(out)


def pattern(n, seed=0):
    """A repeating 8-step pattern over 0 … 10 with a little noise."""
    base = np.tile([2.0, 4.0, 7.0, 9.0, 8.0, 6.0, 3.0, 1.0], n // 8 + 1)[:n]
    return base + np.random.default_rng(seed).normal(0, 0.05, n)


def test_registered_with_hazard_anomaly_and_checked_params():
    assert get("context_anomaly").hazard == "anomaly" == get("anomaly_ensemble").hazard
    with pytest.raises(ConfigError, match="context_anomaly"):
        build(bits=9)


def test_repeating_pattern_learnt_then_broken_scores_high_at_the_break_only():
    v = pattern(3000)
    v[2500:2504] = [9.0, 1.0, 9.0, 1.0]          # the pattern breaks inside its usual range
    s = feed(build(probation=300), v)
    assert np.isfinite(s).all() and s.min() >= 0 and s.max() <= 1
    assert s[1000:2500].max() < 0.5              # learnt: nothing in it is new
    assert s[2500:2504].max() >= 0.75            # the break: most of its facts were never predicted
    assert build().level(s[2500:2504].max()) >= Level.ADVISORY


def test_level_shift_scores_then_is_relearnt():
    rng = np.random.default_rng(1)
    v = np.r_[pattern(2000), pattern(4000, 2) + 30.0] + rng.normal(0, 0.05, 6000)
    s = feed(build(probation=300, hold=50), v)
    assert s[2000:2010].max() >= 0.75            # a new range: nothing predicted
    assert s[3000:].max() < 0.5                  # the shifted pattern is known again


def test_constant_series_scores_zero():
    s = feed(build(probation=10), np.full(2000, 4.2))
    assert s.max() == 0.0
    s = feed(build(probation=10, margin=0.0), np.full(2000, 4.2))
    assert s.max() == 0.0


def test_state_stays_bounded_on_a_long_random_series():
    det = build(probation=0, max_contexts=500, bits=5, orders=6)
    s = feed(det, np.random.default_rng(3).normal(0, 1, 20000))
    assert len(det.contexts) <= 500
    assert len(pickle.dumps(det)) < 500 * 40
    assert np.isfinite(s).all() and 0 <= s.min() and s.max() <= 1


def test_probation_honoured_and_hold_after_an_alert():
    v = pattern(3000)
    v[100] = 50.0
    s = feed(build(probation=500, hold=100), v)
    assert s[:500].max() == 0.0                  # the early outlier is inside probation
    v = pattern(3000)
    v[2000], v[2050], v[2300] = 50.0, 1000.0, 5000.0
    s = feed(build(probation=500, hold=100), v)
    assert s[2000] >= 0.75
    assert s[2001:2101].max() == 0.0             # held: the second outlier inside the hold is not scored
    assert s[2300] >= 0.5                        # after the hold, a new one is (coarse facts learnt in
                                                 # the old bins still predict part of it)


def test_missing_values_score_zero_and_are_not_learnt():
    det = build(probation=0)
    feed(det, pattern(200))
    n = det.n
    assert det.score_one({"t": 0.0}) == 0.0 and det.score_one({"t": 0.0, Q: math.nan}) == 0.0
    det.learn_one({"t": 0.0, Q: math.inf})
    assert det.n == n


def test_sigma_bins_follow_a_drift_the_range_bins_do_not_need_to():
    v = pattern(3000) + np.linspace(0, 5, 3000)  # a slow drift of the same pattern
    for margin in (0.0, 0.1):
        s = feed(build(probation=500, margin=margin), v)
        assert s[1000:].max() < 0.75, margin


def test_ensemble_is_the_larger_of_the_parts_and_pickles():
    v = pattern(3000)
    v[2500:2504] = [9.0, 1.0, 9.0, 1.0]
    a = feed(build("adaptive_anomaly", probation=300), v)
    c = feed(build(probation=300), v)
    ens = build("anomaly_ensemble", probation=300, weight=0.8)
    e = feed(ens, v[:2000])
    clone = pickle.loads(pickle.dumps(ens))
    rest = feed(ens, v[2000:], t0=1.6e9 + 300 * 2000)
    assert np.allclose(np.r_[e, rest], np.maximum(a, 0.8 * c))
    assert np.array_equal(feed(clone, v[2000:], t0=1.6e9 + 300 * 2000), rest)
    x = {"t": 0.0, Q: 9.0}
    f = ens.evidence(x, ens.score_one(x))
    assert f.detector == "anomaly_ensemble" and f.details[0][0] == "part"
    assert build("anomaly_ensemble", context={"bits": 2}).context.bits == 2
