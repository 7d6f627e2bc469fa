"""sensor_fault's difference scale: spikes, gaps and the bottom of the range do not distort it.

Failure modes from the Herbert sondes (issue #11): labelled spikes went unflagged because earlier
spikes and the change across gaps in the record had widened the noise scale that judges them, and
blips of suspended solids at its zero floor were flagged as spikes.
"""

from __future__ import annotations

import random

from detectors import get
from detectors.sensor_fault import Params
from tests.detectors.test_sensor_fault import WQ, GAUGE, faults, proportional_plume

HALF_HOUR = 1800.0


def tss(n, base=50.0, sd=2.0, seed=0):
    rng = random.Random(seed)
    return [base + rng.gauss(0, sd) for _ in range(n)]


def spike_ratios(values, times=None, params=None, quantity="turbidity", station=WQ):
    """The spike check's ratio at every reading (0 when another check is worst)."""
    det = get("sensor_fault").build(station, quantity, params)
    out = []
    times = times or [1.8e9 + i * HALF_HOUR for i in range(len(values))]
    for t, v in zip(times, values):
        x = {"t": t, quantity: v}
        det.score_one(x)
        det.learn_one(x)
        out.append(det._fault[1] if det._fault[0] == "spike" else 0.0)
    return out, det


def test_earlier_spikes_do_not_hide_a_later_one():
    values = tss(300)
    for at in (190, 210, 230):                  # three large spikes within a day
        values[at] += 60.0
    values[262] += 24.0                         # then one of ~10 noise scales (k = 8)
    learnt, _ = spike_ratios(values, params=Params(exclude_k=0))
    assert learnt[263] < 1.0                    # the old way: the spikes had widened the scale
    out = faults(WQ, "turbidity", values, HALF_HOUR)
    assert out[263] == "spike" and [i for i, o in enumerate(out) if o] == [191, 211, 231, 263]


def test_recurring_blips_are_the_streams_nature():
    # a blip every eight readings for a week (1.4 -> 3.2 NTU, as a wiper or bubbles at Sandy Creek):
    # recurring excursions are learnt into the scale, so they stop being flagged
    rng = random.Random(4)
    values = [1.4 + rng.gauss(0, 0.08) for _ in range(400)]
    for at in range(100, 400, 8):
        values[at] = 3.2 + rng.gauss(0, 0.2)
    out = faults(WQ, "turbidity", values, 3 * 3600.0)
    assert out[250:].count("spike") == 0
    always_left_out = faults(WQ, "turbidity", values, 3 * 3600.0, params=Params(exclude_rate=1.0))
    assert always_left_out[250:].count("spike") > 10


def test_a_change_across_a_gap_does_not_widen_the_scale():
    # readings every half hour, a six-hour gap every 12 readings across which the level moved by 30
    rng = random.Random(5)
    values, times, t, level = [], [], 1.8e9, 50.0
    for i in range(480):
        if i and i % 12 == 0:
            t += 6 * 3600.0
            level = 80.0 if level == 50.0 else 50.0
        values.append(level + rng.gauss(0, 2.0))
        times.append(t)
        t += HALF_HOUR
    _, det = spike_ratios(values, times)
    assert det.dscale < 2.3                     # the noise alone: mean |difference| 2.26 (old way: 2.56)


def test_blips_at_the_bottom_of_the_range_are_not_spikes():
    # suspended solids at the zero floor: mostly 0, now and then a reading of 0.3-3 that falls back
    rng = random.Random(6)
    values = [0.0 if rng.random() < 0.6 else rng.uniform(0.05, 0.8) for _ in range(1500)]
    for at in range(50, 1500, 37):
        values[at] = rng.uniform(1.5, 3.0)
    assert "spike" not in faults(WQ, "turbidity", values, HALF_HOUR)
    above = tss(200, base=4.0, sd=0.3, seed=7)
    above[150] = 12.0                           # a spike from 4 mg/L: above the floor, still judged
    assert faults(WQ, "turbidity", above, HALF_HOUR)[151] == "spike"


def test_a_plume_after_spikes_and_gaps_is_no_sensor_fault():
    # the scale left out two spikes and learnt nothing across a gap: a real plume with high flow
    # (proportional noise) and the flood rise that brings it are still not flagged
    before = tss(200, base=5.0, sd=0.1, seed=8)
    before[60] += 6.0
    before[120] += 6.0
    plume, _ = proportional_plume(HALF_HOUR, 0.04, 9)
    values = before + plume
    times = [1.8e9 + i * HALF_HOUR + (8 * 3600.0 if i >= 150 else 0.0) for i in range(len(values))]
    out = faults(WQ, "turbidity", values, times=times)
    assert [i for i, o in enumerate(out) if o] == [61, 121]
    rng = random.Random(10)
    stage = [1.2] * 200 + [1.2 + 0.15 * i for i in range(24)] + [4.8] * 40
    stage = [h + rng.gauss(0, 0.004) for h in stage]
    assert set(faults(GAUGE, "water_level", stage, HALF_HOUR)) == {None}
