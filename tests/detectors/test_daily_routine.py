"""A daily routine is not an anomaly: ``adaptive_anomaly`` (alone and in ``anomaly_ensemble``) and
:class:`detectors.stats.routine.DailyRoutine`.

The failure mode (NAB realAWSCloudwatch ec2_cpu_utilization_24ae8d and _c6585a: 23 of the category's
40 false positives): a one-reading job at about the same time every day was flagged day after day.
"""

import numpy as np
import pytest

from detectors.base import example_station, get
from detectors.stats.routine import DailyRoutine

Q = "water_level"
DAY = 86400
T0 = 1.7e9 // DAY * DAY          # midnight
PER_DAY = 288                    # 5-minute readings


def series(days, spikes, seed=3, sd=0.05):
    """A flat noisy stream with one-reading spikes ``(day, minute of day, height)``."""
    v = 1.0 + sd * np.random.default_rng(seed).normal(size=days * PER_DAY)
    for day, minute, height in spikes:
        v[day * PER_DAY + minute // 5] += height
    return v


def alerts(values, detector="anomaly_ensemble", **params):
    """(day, hour) of every reading scoring at least the alert threshold 0.5."""
    det = get(detector).build(example_station([Q]), Q, {"probation": 750, **params})
    out = []
    for i, v in enumerate(values):
        x = {"t": T0 + 300.0 * i, Q: float(v)}
        if det.score_one(x) >= 0.5:
            out.append((i // PER_DAY, (i % PER_DAY) * 5 / 60))
        det.learn_one(x)
    return out


def job(days=10, height=1.0):
    """A job at about 03:20 every day, its time wandering by ±20 minutes."""
    return [(d, 200 + (7 * d) % 40 - 20, height) for d in range(days)]


def flagged_days(found, hours=(2.5, 4.5)):
    return {day for day, hour in found if hours[0] <= hour <= hours[1]}


@pytest.mark.parametrize("detector", ["anomaly_ensemble", "adaptive_anomaly"])
def test_a_job_at_the_same_time_every_day_is_not_flagged_day_after_day(detector):
    found = alerts(series(10, job()), detector)
    before = alerts(series(10, job()), detector,
                    **({"adaptive": {"routine": False}} if detector == "anomaly_ensemble" else {"routine": False}))
    assert len(flagged_days(before)) >= 5             # the failure: flagged on most of the 7 days scored
    assert len(flagged_days(found)) <= 2              # now: only where that day's z clearly beat the usual


def test_the_same_spike_at_another_time_of_day_is_still_flagged():
    found = alerts(series(10, job() + [(8, 22 * 60 + 10, 1.0)]))
    assert any(day == 8 and 22 <= hour <= 23 for day, hour in found)


def test_a_much_stronger_excursion_at_the_routine_time_is_still_flagged():
    found = alerts(series(10, job(height=0.4) + [(9, 205, 3.0)]))
    assert 9 in flagged_days(found)


def test_an_anomaly_repeated_the_next_day_at_the_same_time_counts_both_times():
    found = alerts(series(10, [(5, 14 * 60, 1.0), (6, 14 * 60 + 5, 1.0)]))
    assert {5, 6} <= flagged_days(found, hours=(13.5, 15.0))


def learn_days(routine, days, z_at, step=600.0):
    for k in range(int(days * DAY / step)):
        t = T0 + k * step
        routine.learn(t, z_at(t))


def test_routine_needs_each_of_the_last_two_days():
    r = DailyRoutine()
    learn_days(r, 2, lambda t: 8.0 if t == T0 + DAY + 3.5 * 3600 else 1.0)    # only yesterday at 03:30
    assert r.usual_at(T0 + 2 * DAY + 3.5 * 3600) == 1.0
    learn_days(r, 3, lambda t: 8.0 if (t - T0) % DAY == 3.5 * 3600 else 1.0)  # every day
    assert r.usual_at(T0 + 3 * DAY + 3.5 * 3600) == 8.0


def test_routine_forgets_across_a_missing_day_and_ignores_sparse_streams():
    r = DailyRoutine()
    learn_days(r, 3, lambda t: 8.0 if (t - T0) % DAY == 3.5 * 3600 else 1.0)
    r.learn(T0 + 4 * DAY + 60, 1.0)                   # day 3 had no readings
    assert r.usual_at(T0 + 4 * DAY + 3.5 * 3600) == 0.0
    sparse = DailyRoutine()
    learn_days(sparse, 5, lambda t: 8.0, step=3 * 3600.0)
    assert sparse.usual_at(T0 + 5 * DAY + 3 * 3600) == 0.0


def test_routine_state_is_small():
    import pickle

    r = DailyRoutine()
    learn_days(r, 3, lambda t: 1e12)                  # astronomical z while young: capped
    assert len(pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)) < 400
