"""sensor_fault on river sondes (issue #11): spikes after spikes, hysteresis, gaps, old checkpoints.

Split from ``test_sensor_fault.py`` (same helpers): what hid the labelled spikes of the Herbert sondes.
"""

from __future__ import annotations

import random

from detectors import get

from tests.detectors.test_sensor_fault import HALF_HOUR, WQ, faults, noisy, without


# -- river sondes (issue #11): spikes after spikes, hysteresis, old checkpoints -----------------

def test_a_spike_of_two_readings_is_measured_from_where_the_stream_was():
    # 55, 82, 80, 55: the second high reading, judged from the first, was no excursion; judged from
    # the median of the three readings before it (55), it is, and the return is flagged
    values = noisy(300, 55.0, 0.5, seed=16) + [82.0, 80.0] + noisy(20, 55.0, 0.5, seed=17)
    out = faults(WQ, "turbidity", values, step_s=1800.0)
    assert out[302] == "spike" and "spike" not in out[:302] + out[303:]


def test_an_erratic_sensor_is_one_flag_not_a_flapping_series_of_them():
    # an erratic stretch whose roughness hovers around the threshold: the flag holds while the
    # ratio stays above `release` (once it came and went a dozen times, and a hazard warning on
    # the erratic stream could turn public in a gap between two flags)
    rng = random.Random(18)
    erratic = [5.0 + rng.gauss(0, 0.2 if (i // 24) % 2 else 1.5) for i in range(300)]
    out = faults(WQ, "turbidity", noisy(800) + erratic)
    flat = faults(WQ, "turbidity", noisy(800) + erratic, params={"release": 1.0})   # no hysteresis
    def starts(o):
        return sum(1 for a, b in zip([None] + o, o) if b and not a)
    assert "noise" in out[800:] and set(out[:800]) == {None}
    assert starts(out) < starts(flat) and sum(map(bool, out)) > sum(map(bool, flat))


def test_a_checkpoint_from_before_the_spike_reference_restores():
    det = get("sensor_fault").build(WQ, "turbidity")
    values = noisy(300, 55.0, 0.5, seed=19)
    for i, v in enumerate(values):
        det.learn_one({"t": 1.8e9 + 1800.0 * i, "turbidity": v})
    restored = type(det).__new__(type(det))
    restored.__setstate__(without(det.__getstate__(), "spike", "release", "flag_gaps", "cluster", "gap_spike", "_cl"))
    assert restored.spike.v1 == det.v1 and restored.release == 0.67 and not restored.flag_gaps
    assert restored.cluster is not None and restored.gap_spike == 0.5 and restored._cl is None
    for i, v in enumerate([80.0, 55.1], start=300):
        x = {"t": 1.8e9 + 1800.0 * i, "turbidity": v}
        s = restored.score_one(x)
        restored.learn_one(x)
    assert dict(restored.evidence(x, s).details)["fault"] == "spike"


# -- issue #11, third round: what hid Herbert's labelled spikes ------------------------------------


def test_a_change_across_a_gap_does_not_widen_the_difference_scale():
    # readings every half hour, a six-hour gap every 12 readings across which the level moved by 30:
    # learnt, those moves widened the scale that judges spikes (Herbert: many labelled spikes sit
    # between gaps, and the scale had learnt the changes across them)
    rng = random.Random(5)
    values, times, t, level = [], [], 1.8e9, 50.0
    for i in range(480):
        if i and i % 12 == 0:
            t += 6 * 3600.0
            level = 80.0 if level == 50.0 else 50.0
        values.append(level + rng.gauss(0, 2.0))
        times.append(t)
        t += HALF_HOUR
    det = get("sensor_fault").build(WQ, "turbidity")
    for tt, v in zip(times, values):
        det.learn_one({"t": tt, "turbidity": v})
    assert det.dscale < 2.4                     # the noise alone: mean |difference| 2.26 (learnt: ~4)
    spiky = values[:200] + [values[199] + 24.0] + values[200:260]   # 12 σ: 1.1 × k scales
    assert faults(WQ, "turbidity", spiky, times=times[:261])[201] == "spike"


def test_blips_at_the_bottom_of_the_range_are_not_spikes():
    # suspended solids at the zero floor: mostly 0, now and then a reading of 0.3-3 that falls back
    rng = random.Random(6)
    values = [0.0 if rng.random() < 0.6 else rng.uniform(0.05, 0.8) for _ in range(1500)]
    for at in range(50, 1500, 37):
        values[at] = rng.uniform(1.5, 3.0)
    assert "spike" not in faults(WQ, "turbidity", values, HALF_HOUR)
    above = noisy(200, base=4.0, sd=0.3, seed=7)
    above[150] = 12.0                           # a spike from 4 mg/L: above the floor, still judged
    above[170], above[171] = 40.0, 0.0          # and one that falls back to 0
    out = faults(WQ, "turbidity", above, HALF_HOUR)
    assert out[151] == "spike" and out[171] == "spike"


def test_a_spike_whose_next_reading_overshoots_is_still_a_spike():
    # Herbert: 314 → 786 → 26 mg/L, 1112 → 1323 → 379: one reading far up, the next below where the
    # stream was — the return overshot, and "came back within half the jump" missed it
    values = noisy(300, 300.0, 5.0, seed=20) + [786.0, 26.0] + noisy(40, 26.0, 1.0, seed=21)
    out = faults(WQ, "turbidity", values, HALF_HOUR)
    assert out[301] == "spike"


def test_a_two_reading_rise_then_a_fall_past_its_start_is_no_spike():
    # a flood's first flush lifts conductivity over two readings, then dilution drops it below where
    # it was (Sandy Creek, 163 → 197 → 204 → 139 µS/cm at 1.6-hour readings): a natural wave
    rng = random.Random(22)
    values = [330.0 + rng.gauss(0, 4.0) for _ in range(300)] + [335.0, 300.0, 260.0, 163.0, 197.0,
                                                                  204.0, 139.0, 112.0, 120.0, 150.0]
    values += [170.0 + 4.0 * i + rng.gauss(0, 4.0) for i in range(40)]
    out = faults(WQ, "conductivity", values, 5400.0)
    assert "spike" not in out[300:]


def test_a_spike_on_the_reading_after_a_gap_is_judged_at_half_the_scale():
    # Herbert site 2: TSS at 55 mg/L (noise 5), a gap, one reading at 80-89, back to 55 — five
    # times; at 5 noise scales each is under spike_k. The record was cut around that reading (the
    # publisher drops bad rows), so it is judged at `gap_spike_factor` × the scale
    rng = random.Random(28)
    values = [55.0 + rng.gauss(0, 4.0) for _ in range(300)]
    times = [1.8e9 + i * HALF_HOUR for i in range(300)]
    for at in (150, 200, 250):
        values[at] = 82.0
        times[at:] = [t + 6 * 3600.0 for t in times[at:]]       # a six-hour gap before it
    out = faults(WQ, "turbidity", values, times=times)
    assert [out[at + 1] for at in (150, 200, 250)] == ["spike"] * 3
    same = faults(WQ, "turbidity", values, times=times, params={"gap_spike_factor": 1.0})
    assert [same[at + 1] for at in (150, 200, 250)] == [None] * 3
    # after a gap across which the river rose (the new level holds), nothing is flagged
    clean = [55.0 + rng.gauss(0, 4.0) for _ in range(300)]
    risen = clean[:150] + [v + 30.0 for v in clean[150:]]
    assert set(faults(WQ, "turbidity", risen, times=times)) == {None}
