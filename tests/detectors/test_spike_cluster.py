"""sensor_fault's cluster check (:mod:`detectors.stats.spike_cluster`): bursts of spikes that widened
the scale are flagged; natural blips, daily cycles, floods and plumes are not (issue #11)."""

from __future__ import annotations

import math
import random

import pytest

from tests.detectors.test_sensor_fault import GAUGE, HALF_HOUR, WQ, faults, flood_gauge, proportional_plume


def spike_bursts(seed=1):
    """TSS at 5 mg/L (sd 0.8), then for four days a burst of three 12-20 mg/L one-reading spikes,
    three readings apart, every twelve hours (Herbert site 6, labelled high variability and
    clusters of spikes: 4 → 20 → 5, 6 → 8.3 → 4.5, 3.7 → 16.8 → 5.3 mg/L within a few hours)."""
    rng = random.Random(seed)
    values = [5.0 + rng.gauss(0, 0.8) for _ in range(600 + 192 + 40)]
    spikes = [start + 3 * j for start in range(600, 792, 24) for j in range(3)]
    for at in spikes:
        values[at] = rng.uniform(12.0, 20.0)
    return values, spikes


def test_bursts_of_spikes_are_a_cluster_though_they_widened_the_scale():
    # each spike widens the difference scale the next one is judged by: the spike check on the noise
    # scale alone (without the multiple rule, test_spike_multiple.py) finds 2 of 24 (and the noise
    # check none); judged against the calm scale, three within a few
    # hours are a cluster — 7 of the 8 bursts are flagged (in one a spike stays under the size)
    values, spikes = spike_bursts()
    spikes_only = faults(WQ, "turbidity", values, HALF_HOUR, params={"cluster_n": 1000, "spike_multiple": 0})
    assert sum(1 for i in spikes if spikes_only[i + 1]) <= 3 and "noise" not in spikes_only
    out = faults(WQ, "turbidity", values, HALF_HOUR)
    assert set(out[:600]) == {None}
    assert sum(1 for b in range(600, 792, 24) if "cluster" in out[b:b + 10]) >= 7


@pytest.mark.parametrize("step_s", [300.0, HALF_HOUR, 5760.0, 3 * 3600.0])
def test_natural_blips_about_once_a_day_are_no_cluster(step_s):
    # turbidity blips 1.4 → 3.2 NTU (bubbles, debris) about once a day at random times, at 5-min,
    # 30-min, 1.6-h (Sandy Creek) and 3-h readings: single spikes at most, never a cluster
    rng = random.Random(24)
    n = int(60 * 86400 / step_s)
    values = [1.4 + rng.gauss(0, 0.08) for _ in range(n)]
    for day in range(2, 60):
        at = int((day + rng.random()) * 86400 / step_s)
        if at < n - 1:
            values[at] = 3.2 + rng.gauss(0, 0.2)
    assert "cluster" not in faults(WQ, "turbidity", values, step_s)


def test_diurnal_cycles_floods_and_plumes_make_no_cluster():
    rng = random.Random(25)
    diurnal = [8.0 + 3.0 * math.sin(2 * math.pi * i / 48) + rng.gauss(0, 0.15) for i in range(48 * 30)]
    assert set(faults(WQ, "turbidity", diurnal, HALF_HOUR)) == {None}
    for step_s in (300.0, 900.0, HALF_HOUR):
        plume_values, _ = proportional_plume(step_s, 0.04, 26)
        assert "cluster" not in faults(WQ, "turbidity", plume_values, step_s)
        stage, _ = flood_gauge(step_s, seed=27, rise_m=4.0, rise_h=12.0)
        assert "cluster" not in faults(GAUGE, "water_level", stage, step_s)
