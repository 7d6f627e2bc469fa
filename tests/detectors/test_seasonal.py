"""The day/week profile :class:`detectors.stats.seasonal.SeasonalProfile`: weekends have their own hour slots.

The failure mode (``test_anomaly_open_failures``): with one day shape shifted by day-of-week offsets,
a weekday 07-19 bump with weekends at a tenth of it left the weekend shape unexplained, σ as wide as
that mismatch, and a night surge unflagged.
"""

import math
import pickle

import numpy as np

from detectors.stats.seasonal import SeasonalProfile
from riverwatch.state import VERSION

DAY = 86400
MONDAY = (1.7e9 // (7 * DAY)) * 7 * DAY + 4 * DAY       # epoch day 0 was a Thursday


def working_weeks(weeks=3, seed=5, noise=0.5):
    """5-minute readings: a 07:00-19:00 bump of 10 on weekdays, a tenth of it at weekends."""
    t = MONDAY + 300.0 * np.arange(weeks * 7 * 288)
    hour, weekday = (t % DAY) / 3600, (t // DAY + 3) % 7
    bump = 10 * np.clip(np.sin(np.pi * (hour - 7) / 12), 0, None)
    v = 5 + np.where(weekday < 5, bump, 0.1 * bump) + noise * np.random.default_rng(seed).normal(size=len(t))
    return t, v, 5 + np.where(weekday < 5, bump, 0.1 * bump)


def learnt(t, v, level=5.0):
    p = SeasonalProfile()
    for ti, vi in zip(t, v):
        p.learn(float(ti), float(vi), level)
    return p


def test_weekday_and_weekend_day_shapes_are_both_followed():
    t, v, clean = working_weeks()
    p = learnt(t, v)
    assert p.explains()
    last_week = range(len(t) - 7 * 288, len(t))
    err = [abs(5.0 + p.expect(float(t[i])) - clean[i]) for i in last_week]
    assert max(err) < 1.5                       # one day shape + offsets misses by about 5 at weekend noons
    saturday_noon = MONDAY + 5 * DAY + 12 * 3600.0
    tuesday_noon = MONDAY + 1 * DAY + 12 * 3600.0
    assert abs(p.expect(saturday_noon) - 1.0) < 0.5
    assert abs(p.expect(tuesday_noon) - 10.0) < 0.5
    assert p.wk_active
    assert p.var_wk_own < 0.05 * p.var_wk_one     # left at weekends: about the noise


def test_weekend_slots_start_from_the_weekday_shape():
    """Before any weekend, a Saturday is expected like a weekday (its own slots are not used yet)."""
    t, v, _ = working_weeks(weeks=1)
    p = learnt(t[:5 * 288], v[:5 * 288])         # Monday to Friday
    saturday_noon = MONDAY + 5 * DAY + 12 * 3600.0
    friday_noon = MONDAY + 4 * DAY + 12 * 3600.0
    assert abs(p.expect(saturday_noon) - p.expect(friday_noon)) < 1.0
    assert not any(p.wkend)


def test_a_series_without_a_weekly_pattern_is_unchanged_at_weekends():
    t = MONDAY + 300.0 * np.arange(21 * 288)
    v = 5 + 3 * np.sin(2 * np.pi * t / DAY) + 0.3 * np.random.default_rng(1).normal(size=len(t))
    p = learnt(t, v)
    assert p.explains() and not p.wk_active      # weekends keep the one day shape
    saturday = [MONDAY + 19 * DAY + h * 3600.0 for h in range(24)]
    assert max(abs(p.expect(s) - 3 * math.sin(2 * math.pi * s / DAY)) for s in saturday) < 0.5


def test_state_is_exact_through_a_checkpoint_and_no_larger_with_weekend_slots():
    t, v, _ = working_weeks(weeks=2)
    p = learnt(t, v)
    clone = pickle.loads(pickle.dumps(p))
    assert [clone.expect(float(s)) for s in t[:600]] == [p.expect(float(s)) for s in t[:600]]
    state = p.__getstate__()
    version_1 = {k: (list(x) if k in ("hour", "hour_n", "hour_var") else x) for k, x in state.items()
                 if k not in ("wkend", "wkend_n")}      # three lists of 24 floats, no weekend slots
    assert len(pickle.dumps(state, protocol=5)) <= len(pickle.dumps(version_1, protocol=5))


def test_a_version_1_checkpoint_restores_without_weekend_slots():
    t, v, _ = working_weeks(weeks=1)
    p = learnt(t[:3 * 288], v[:3 * 288])
    old = p.__getstate__()
    old.pop("wkend"), old.pop("wkend_n")
    old.update({"hour": list(p.hour), "hour_n": list(p.hour_n), "hour_var": list(p.hour_var), VERSION: 1})
    restored = SeasonalProfile.__new__(SeasonalProfile)
    restored.__setstate__(old)
    assert restored.expect(float(t[0])) == p.expect(float(t[0]))
    for ti, vi in zip(t[3 * 288:], v[3 * 288:]):
        restored.learn(float(ti), float(vi), 5.0)
    assert any(restored.wkend)


def test_the_weekend_slots_are_judged_on_out_of_day_forecasts():
    """A young slot follows the level within its hour, so Saturday alone proves nothing: the weekend's
    own slots are weighed on Sunday's forecasts from Saturday, and switched on after a whole such day."""
    t, v, _ = working_weeks(weeks=1)
    p = learnt(t[:6 * 288], v[:6 * 288])         # Monday to Saturday
    assert not p.wk_active and p.wk_n < 12      # (the hour after 23:30 wraps to the slot of 00:30)
    p = learnt(t, v)                             # and Sunday
    assert p.wk_active
