""""Stuck" judged against the river (issue #11, 2026-12-07): a coarse sonde on a calm stream holds
its value for days, and its own readings cannot tell that from a frozen sensor; the water level on
the same sonde can (:mod:`detectors.stats.hold_river`)."""

from __future__ import annotations

import math
import random

from detectors import get
from detectors.stats.hold_river import RiverDuringHold

from tests.detectors.test_sensor_fault import WQ, faults, noisy, without

STEP = 5760.0   # Sandy Creek's 1.6-hour readings


def calm_sonde(seed, days=120):
    """A calm stream at Sandy Creek's cadence: turbidity wandering around 2.2 NTU, read in whole NTU,
    and a level receding 0.5 mm a day with a ±3 mm daily wobble, read in mm."""
    rng = random.Random(seed)
    turbidity, level, times = [], [], []
    v = 2.2
    for i in range(int(days * 86400 / STEP)):
        t = i * STEP
        v += rng.gauss(0, 0.05) - 0.02 * (v - 2.2)
        turbidity.append(float(round(v)))
        level.append(round(0.55 - 0.0005 * t / 86400 + 0.003 * math.sin(2 * math.pi * t / 86400)
                           + rng.gauss(0, 0.001), 3))
        times.append(1.8e9 + t)
    return times, turbidity, level


def stuck_flags(times, values, levels, quantity="turbidity"):
    """The readings flagged "stuck" when ``levels`` (or no level, if None) come with each reading."""
    along = None if levels is None else [{"water_level": lv} for lv in levels]
    return [f == "stuck" for f in faults(WQ, quantity, values, times=times, along=along)]


def test_a_coarse_sensor_on_a_calm_stream_is_not_stuck_while_the_river_holds_still():
    # judged by its own holds alone (no level), 45–62 % of the readings were "stuck" on every seed
    alone = with_river = 0
    for seed in range(4):
        times, turbidity, level = calm_sonde(seed)
        alone += sum(stuck_flags(times, turbidity, None))
        with_river += sum(stuck_flags(times, turbidity, level))
    assert alone > 0.4 * 4 * len(times)
    assert with_river < 0.2 * alone, (with_river, alone)


def test_a_frozen_sensor_is_flagged_when_the_river_rises_and_it_does_not_follow():
    rng = random.Random(5)
    n_calm, n_frozen = 600, 200
    times = [1.8e9 + 1800.0 * i for i in range(n_calm + n_frozen)]
    turbidity = noisy(n_calm, 5.0, 0.2, seed=6) + [4.87] * n_frozen
    level = [round(0.6 + rng.gauss(0, 0.001), 3) for _ in range(n_calm + 100)]
    level += [round(0.6 + 0.02 * i + rng.gauss(0, 0.001), 3) for i in range(1, 101)]   # a 2 m rise
    out = stuck_flags(times, turbidity, level)
    assert not any(out[:n_calm])
    first = out.index(True, n_calm + 100)
    assert first - (n_calm + 100) <= 12 and all(out[first:])        # within six hours of the rise


def test_without_a_level_the_hold_is_judged_by_time_alone():
    times, turbidity, level = calm_sonde(0, days=30)
    det_alone = stuck_flags(times, turbidity, None)
    no_level_seen = stuck_flags(times, turbidity, [None] * len(times))
    assert det_alone == no_level_seen and any(det_alone)


def test_the_reference_forgets_by_changes_of_value_not_by_time():
    r = RiverDuringHold()
    r.learn(0.50, True)
    r.learn(0.51, False)
    r.learn(0.51, True)                         # a hold over 1 cm: the reference
    r.learn(0.51, False)                        # ... and however long the next hold lasts,
    assert math.isclose(r.ratio(0.52, 1.0), 1.0)   # 1 cm of river is still one reference
    for _ in range(20):                         # 20 changes over a still river halve it
        r.learn(0.51, True)
    assert math.isclose(r.ratio(0.515, 1.0), 1.0, rel_tol=1e-9)


def test_a_checkpoint_from_before_the_river_reference_restores_and_learns_on():
    det = get("sensor_fault").build(WQ, "turbidity")
    times, turbidity, level = calm_sonde(1, days=10)
    for t, v, lv in zip(times, turbidity, level):
        det.learn_one({"t": t, "turbidity": v, "water_level": lv})
    restored = type(det).__new__(type(det))
    restored.__setstate__(without(det.__getstate__(), "river"))
    assert isinstance(restored.river, RiverDuringHold)
    x = {"t": times[-1] + STEP, "turbidity": turbidity[-1], "water_level": level[-1]}
    restored.score_one(x)
    restored.learn_one(x)
