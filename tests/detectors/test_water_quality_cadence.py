"""Persistence in time for both water-quality detectors: a level needs two readings at minute and
5-minute readings, one from 8-minute readings on (``persist_max_s``), and a lone blip stays internal
at any cadence.

At 10-minute readings GECCO's events (median 22 minutes) are one or two readings long, so a
persistence of two readings missed most of them (2017 recall 0.91 at minute readings, 0.24 at
10 minutes, 0.43 at 8 minutes).
"""

from __future__ import annotations

import random

import pytest

from detectors import get
from detectors.stats.gates import LevelGate
from tests.detectors.test_quality_residual import WQ, raised_at, reading

DETECTORS = ("quality_residual", "water_quality_event")
EVENT = {"redox": 60, "conductivity": 20, "ph": 0.3}      # far out together, on any detector's scale


def stream(every_s, events=None, n=600, seed=0, gap=None):
    """Drinking water read every ``every_s`` seconds; ``events`` maps index -> offsets; ``gap``
    (first, last) leaves those readings out (an outage)."""
    rng = random.Random(seed)
    for i in range(n):
        x = {**reading(i, rng, (events or {}).get(i)), "t": 1.8e9 + every_s * i}
        if gap is None or not gap[0] <= i <= gap[1]:
            yield x


def raised(name, xs, **params):
    spec = get(name)
    return raised_at(spec.build(WQ, None, spec.params(**params) if params else None), xs)


@pytest.mark.parametrize("every_s", [480.0, 540.0, 600.0, 900.0, 3600.0])
@pytest.mark.parametrize("name", DETECTORS)
def test_a_one_reading_event_at_coarse_readings_is_raised_on_that_reading(name, every_s):
    xs = list(stream(every_s, {400: EVENT}))
    assert raised(name, xs) == [400]
    assert raised(name, xs, persist_max_s=0) == []          # persistence counted in readings: missed


@pytest.mark.parametrize("every_s", [60.0, 300.0, 420.0])
@pytest.mark.parametrize("name", DETECTORS)
def test_at_readings_up_to_seven_minutes_a_one_reading_flicker_still_waits_for_a_second(name, every_s):
    assert raised(name, stream(every_s, {400: EVENT})) == []
    assert raised(name, stream(every_s, {400: EVENT, 401: EVENT})) == [401]


@pytest.mark.parametrize("name", DETECTORS)
def test_the_first_reading_after_an_outage_is_not_taken_for_a_long_one(name):
    # the usual interval is the shortest lately: an hour's silence does not make one reading an hour
    xs = stream(60.0, {460: EVENT}, gap=(400, 459))
    assert raised(name, xs) == []


def test_lone_blips_at_ten_minute_readings_stay_internal():
    # failure mode: one quantity spiking on one reading about 1.5 times a day (here for 3 weeks)
    spikes = {i: {"turbidity": 0.08} for i in range(300, 3000, 96)}
    assert raised("quality_residual", stream(600.0, spikes, n=3000)) == []
    redox = {i: {"redox": 40} for i in range(300, 3000, 96)}
    assert raised("quality_residual", stream(600.0, redox, n=3000)) == []


def test_a_lone_departure_that_lasts_is_still_raised_at_ten_minute_readings():
    lasting = {i: {"turbidity": 0.08} for i in range(400, 406)}
    assert raised("quality_residual", stream(600.0, lasting)) == [401]     # two readings (before: three)


@pytest.mark.parametrize("name", DETECTORS)
def test_checkpoints_from_before_keep_their_persistence_and_take_the_bound(name):
    det = get(name).build(WQ, None, get(name).params(persist_readings=3))
    for x in stream(600.0, n=200):
        det.score_one(x)
        det.learn_one(x)
    old = det.__getstate__()
    for later in ("persist", "persist_max_s", "t", "interval"):
        old.pop(later, None)
    old["gate"] = LevelGate(3, 0.0)                    # saved before: readings as configured
    restored = type(det).__new__(type(det))
    restored.__setstate__(old)
    bound = get(name).params().persist_max_s
    assert (restored.persist, restored.persist_max_s, restored.gate.readings) == (3, bound, 3)


@pytest.mark.parametrize("name", DETECTORS)
def test_a_station_that_slows_down_keeps_two_readings_until_its_new_cadence_is_learnt(name):
    # minute readings for 10 h, then every 10 minutes (a logger saving its battery): the usual interval
    # grows 1 % a reading, so the first ~200 slow readings (34 h) still ask for two readings (the old
    # rule, never looser), and after them one is enough
    def slowing(event_at):
        rng = random.Random(0)
        t = 1.8e9
        for i in range(900):
            t += 60.0 if i < 600 else 600.0
            yield {**reading(i, rng, EVENT if i == event_at else None), "t": t}

    assert raised(name, slowing(610)) == []
    assert raised(name, slowing(850)) == [850]
