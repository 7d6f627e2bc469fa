"""rainfall: rolling accumulations warn on heavy rain; intervals, duplicates and gaps handled."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from detectors import get, registry
from early_warning.messages import render
from detectors.rainfall import Params, window_ladders
from riverwatch.catalog import Station, load_catalog
from riverwatch.errors import ConfigError
from riverwatch.model import Level, WarningEvent

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(REPO / "catalog" / "demo.toml")
WX = CATALOG.by_id("wx-rivertown")
T0 = 1_800_000_000.0
MIN, HOUR = 60.0, 3600.0


def detector(station: Station = WX, **params):
    return get("rainfall").build(station, "precipitation", params)


def feed(det, readings):
    """``[(t, mm)]`` through the detector; ``[(t, score, level)]`` back."""
    out = []
    for t, mm in readings:
        x = {"t": t, "precipitation": mm}
        s = det.score_one(x)
        det.learn_one(x)
        out.append((t, s, det.level(s)))
    return out


def rain(rate_mm_h: float, start: float, hours: float, step: float = MIN):
    """Readings every ``step`` seconds of ``rate_mm_h``, from ``start`` + step for ``hours``."""
    n = round(hours * HOUR / step)
    return [(start + (i + 1) * step, rate_mm_h * step / HOUR) for i in range(n)]


def amounts(det, t: float) -> dict[str, float]:
    """Accumulation per window (label -> mm) at ``t`` after the readings learnt so far."""
    details = dict(det.evidence({"t": t, "precipitation": 0.0}, 0.0).details)
    return {part.rsplit(" ", 2)[0]: float(part.rsplit(" ", 2)[1])
            for part in details["accumulations"].split(", ")}


def test_steady_light_rain_never_warns():
    det = detector()
    tipped, bucket = [], 0.0
    for t, mm in rain(0.6, T0, 48):           # 0.6 mm/h for two days, tipped in 0.1 mm steps
        bucket += mm
        tips = int(bucket / 0.1 + 1e-9)
        bucket -= tips * 0.1
        tipped.append((t, round(tips * 0.1, 1)))
    levels = {lvl for _, _, lvl in feed(det, tipped)}
    assert levels == {Level.NONE}
    assert amounts(det, tipped[-1][0])["24 h"] == pytest.approx(14.4, abs=0.15)


def test_a_30_mm_per_hour_storm_raises_and_escalates():
    det = detector()
    out = feed(det, rain(30.0, T0, 1.5))
    levels = [lvl for _, _, lvl in out]
    assert levels == sorted(levels)                                  # only ever up during the storm
    first = {lvl: (t - T0) / MIN for t, _, lvl in reversed(out)}
    assert 20 <= first[Level.ADVISORY] <= 22                         # 10 mm after 20 min (+ persistence)
    assert 30 <= first[Level.WATCH] <= 32 and 50 <= first[Level.WARNING] <= 52
    assert levels[-1] == Level.WARNING                               # 1 h: 30 mm; 6 h: 45 mm < 59.3
    assert out[-1][1] == pytest.approx(3.0 + 7.9 / 22.2)             # 6 h: 45 mm between 37.1 and 59.3


def test_clears_after_the_storm_with_hysteresis():
    det = detector(windows_h=(1.0,))
    storm = rain(30.0, T0, 1.0)
    feed(det, storm)
    after = feed(det, rain(0.0, storm[-1][0], 1.5))
    level_at = {round((t - storm[-1][0]) / MIN): lvl for t, _, lvl in after}
    assert level_at[10] == Level.WARNING       # 25 mm in the hour: still at the threshold
    assert level_at[14] == Level.WARNING       # 23 mm: below 25, above 25 × 0.9 — hysteresis holds
    assert level_at[20] == Level.WATCH         # 20 mm
    assert level_at[45] == Level.NONE and level_at[90] == Level.NONE


def test_hovering_at_a_threshold_does_not_flap():
    det = detector(windows_h=(1.0,))
    readings, t = [], T0
    for i in range(8 * 60):                  # 1-h sum swings between ~14 and ~16 mm
        t += MIN
        readings.append((t, 0.25 + (0.04 if (i // 30) % 2 else -0.02)))
    levels = [lvl for _, _, lvl in feed(det, readings)][90:]
    assert set(levels) == {Level.WATCH}


def test_storm_then_dry_day_clears_through_the_long_windows():
    det = detector()
    storm = rain(30.0, T0, 1.0)
    feed(det, storm)
    end = storm[-1][0]
    t, s, lvl = feed(det, rain(0.0, end, 3.0, step=10 * MIN))[-1]
    assert lvl == Level.WATCH                  # 6 h window: 30 mm ≥ 22.2
    f = det.evidence({"t": t, "precipitation": 0.0}, s)
    assert dict(f.details)["window"] == "6 h" and f.value == pytest.approx(30.0) and f.threshold == 22.2
    out = feed(det, rain(0.0, t, 22.0, step=10 * MIN))
    at = {round((t - end) / HOUR, 2): lvl for t, _, lvl in out}
    assert at[12.0] == Level.ADVISORY          # 24 h window: 30 mm, watch at 30.2
    assert at[25.0] == Level.NONE


def test_irregular_intervals_give_the_same_sums():
    regular, irregular = detector(), detector()
    rng = random.Random(4)
    feed(regular, rain(12.0, T0, 6.0))
    t, readings = T0, []
    while t < T0 + 6 * HOUR:
        step = min(rng.uniform(20.0, 400.0), T0 + 6 * HOUR - t)
        t += step
        readings.append((t, 12.0 * step / HOUR))
    feed(irregular, readings)
    end = T0 + 6 * HOUR
    assert amounts(irregular, end) == pytest.approx(amounts(regular, end), abs=0.05)
    assert amounts(regular, end) == pytest.approx({"1 h": 12.0, "6 h": 72.0, "24 h": 72.0}, abs=0.05)


def test_every_mm_is_counted_once_whatever_the_timing():
    det = detector()
    rng = random.Random(9)
    t, total, readings = T0, 0.0, []
    for _ in range(300):
        t += rng.choice([5.0, 60.0, 61.5, 300.0, 600.0])
        mm = rng.choice([0.0, 0.1, 0.2, 1.3])
        total += mm
        readings.append((t, mm))
    assert t - T0 < 23 * HOUR
    feed(det, readings)
    assert amounts(det, t)["24 h"] == pytest.approx(total, abs=0.05)


def test_duplicates_and_out_of_order_readings_do_not_count_twice():
    storm = rain(30.0, T0, 1.0)
    clean = feed(detector(), storm)
    det = detector()
    messy = []
    for i, reading in enumerate(storm):
        messy += feed(det, [reading])
        if i % 7 == 3:
            stale = feed(det, [reading, storm[i - 2]])   # a redelivery and an older one
            assert [lvl for *_, lvl in stale] == [messy[-1][2]] * 2
            assert [s for _, s, _ in stale] == [pytest.approx(messy[-1][1])] * 2
    assert [(t, pytest.approx(s), lvl) for t, s, lvl in clean] == messy
    assert amounts(det, storm[-1][0])["1 h"] == pytest.approx(30.0)


def test_rain_reported_after_a_gap_is_spread_over_the_gap():
    det = detector()
    feed(det, [(T0, 0.0), (T0 + 3 * HOUR, 30.0)])            # station silent 3 h, then reports 30 mm
    got = amounts(det, T0 + 3 * HOUR)
    assert got["1 h"] == pytest.approx(10.0) and got["6 h"] == pytest.approx(30.0)


def test_a_gap_is_unknown_rain_so_it_does_not_clear_a_warning():
    det = detector(windows_h=(1.0,))
    storm = rain(30.0, T0, 1.0)
    feed(det, storm)
    back = storm[-1][0] + 2 * HOUR                              # silent for 2 h, then dry readings
    after = feed(det, rain(0.0, back - MIN, 0.5))
    t, s, _ = after[-1]
    assert dict(det.evidence({"t": t, "precipitation": 0.0}, s).details)["complete"] == "no"
    after += feed(det, rain(0.0, t, 1.0))
    held = [lvl for t, _, lvl in after if t - back < HOUR]
    assert set(held) == {Level.WARNING}                          # the 1 h window still overlaps the gap
    assert after[-1][2] == Level.NONE                            # cleared once the hour is observed


def test_a_gap_does_not_stop_a_warning_from_rising():
    det = detector()
    feed(det, [(T0, 0.0)])
    out = feed(det, rain(30.0, T0 + 2 * HOUR, 1.0))              # first readings after a 2 h gap
    assert out[-1][2] == Level.WARNING


def test_levels_come_from_the_catalog_as_mm_per_hour():
    one, six, day = window_ladders(WX, Params())
    assert one == ((1, 10.0), (2, 15.0), (3, 25.0), (4, 40.0))
    assert [th for _, th in six] == [14.8, 22.2, 37.1, 59.3]
    assert [th for _, th in day] == [20.1, 30.2, 50.3, 80.5]


def test_parameters_override_the_catalog():
    params = Params(windows_h=(1.0, 24.0), hourly_levels=(8.0, 12.0, 20.0, 30.0),
                    levels_mm={24.0: (25.0, 35.0, 50.0, 90.0)})
    hourly, day = window_ladders(WX, params)
    assert [th for _, th in hourly] == [8.0, 12.0, 20.0, 30.0]
    assert [th for _, th in day] == [25.0, 35.0, 50.0, 90.0]


def test_defaults_without_catalog_levels_and_partial_catalog_levels():
    bare = Station(id="wx", partner="p", kind="weather", name="WX", lat=0, lon=0,
                   quantities={"precipitation": {}})
    assert window_ladders(bare, Params(windows_h=(1.0,))) == (((1, 10.0), (2, 15.0), (3, 25.0), (4, 40.0)),)
    partial = Station(id="wx", partner="p", kind="weather", name="WX", lat=0, lon=0,
                      quantities={"precipitation": {"levels": {"watch": 20.0, "warning": 30.0}}})
    det = detector(partial, windows_h=(1.0,))
    assert feed(det, rain(35.0, T0, 1.0))[-1][2] == Level.WARNING


@pytest.mark.parametrize("params, option", [
    ({"windows_h": (24.0, 1.0)}, "windows_h"),
    ({"windows_h": ()}, "windows_h"),
    ({"hourly_levels": (10.0, 5.0, 20.0, 40.0)}, "hourly_levels"),
    ({"levels_mm": {12.0: (1.0, 2.0, 3.0, 4.0)}}, "12 h"),
    ({"buckets": 500}, "buckets"),
])
def test_bad_parameters_name_the_option(params, option):
    with pytest.raises(ConfigError, match=option.split()[0]):
        detector(**params)


def test_bad_catalog_levels_are_a_config_error():
    bad = Station(id="wx-bad", partner="p", kind="weather", name="WX", lat=0, lon=0,
                  quantities={"precipitation": {"levels": {"advisory": 20.0, "watch": 10.0}}})
    with pytest.raises(ConfigError, match="wx-bad"):
        detector(bad)


def test_exactly_one_warning_detector_owns_precipitation():
    owners = [name for name, spec in sorted(registry().items())
              if "precipitation" in spec.applies(WX) and spec.hazard not in {"anomaly", "sensor"}]
    assert owners == ["rainfall"]
    assert "precipitation" not in get("level_threshold").applies(WX)
    assert get("rainfall").applies(CATALOG.by_id("gauge-hochtal")) == []


def test_evidence_carries_window_and_amount_and_renders_in_every_language():
    det = detector()
    storm = rain(30.0, T0, 1.0)
    t, s, lvl = feed(det, storm)[-1]
    x = {"t": t, "precipitation": storm[-1][1]}
    f = det.evidence(x, s)
    details = dict(f.details)
    assert (f.detector, f.hazard, f.level) == ("rainfall", "weather", Level.WARNING)
    assert f.quantity == "precipitation" and f.message_key == "rainfall"
    assert (f.value, f.threshold, details["window"], details["complete"]) == (30.0, 25.0, "1 h", "no")
    assert details["amount_mm"] == "30.0"
    assert details["accumulations"] == "1 h 30.0 mm, 6 h 30.0 mm, 24 h 30.0 mm"
    ev = WarningEvent(id="w", partner="rivertown", station=WX.id, hazard=f.hazard, level=f.level,
                      state="raised", public=True, since_ns=int(t * 1e9), time_ns=int(t * 1e9),
                      detector=f.detector, quantity=f.quantity, value=f.value, threshold=f.threshold,
                      score=f.score, message_key=f.message_key, details=f.details)
    for lang, amount in (("en", "30 mm"), ("de", "30 mm"), ("fr", "30 mm")):
        text = render(ev, WX, lang, "Europe/Berlin")
        assert amount in text.description and "25 mm" in text.description and "{" not in text.description


def test_demo_storm_warns_of_rain_before_the_river_peaks():
    from devices.scenarios import build_scenario, scenario_duration
    from devices.simulate import scenario_messages

    duration = scenario_duration("storm", CATALOG)
    plan = build_scenario("storm", CATALOG, T0, duration)
    dets = {st.id: detector(st) for st in CATALOG.stations if "precipitation" in st.quantities}
    first: dict[str, float] = {}
    for _, _, reading in scenario_messages(CATALOG, "storm", T0, duration):
        det = dets.get(reading.station)
        if det is None:
            continue
        x = {"t": reading.time_s, **dict(reading.values)}
        s = det.score_one(x)
        det.learn_one(x)
        if det.level(s) and reading.station not in first:
            first[reading.station] = reading.time_s
    assert set(first) == set(dets)
    river_peak = min(p.time_s for p in plan.peaks.values() if p.quantity == "water_level")
    assert max(first.values()) < river_peak - HOUR


def test_an_hourly_station_clears_its_hourly_readings_are_no_gaps():
    det = detector(windows_h=(1.0,))
    dry = rain(0.0, T0, 6.0, step=HOUR)
    storm = rain(30.0, dry[-1][0], 3.0, step=HOUR)
    after = rain(0.0, storm[-1][0], 4.0, step=HOUR)
    out = feed(det, dry + storm + after)
    assert max(lvl for _, _, lvl in out) == Level.WARNING
    assert out[-1][2] == Level.NONE                               # hourly readings: the hour is observed


def test_lost_hourly_reports_are_a_gap():
    det = detector(windows_h=(1.0,))
    feed(det, rain(0.0, T0, 6.0, step=HOUR) + rain(30.0, T0 + 6 * HOUR, 2.0, step=HOUR))
    t = T0 + 14 * HOUR                                            # six reports lost, then a dry one
    feed(det, [(t, 0.0)])
    assert dict(det.evidence({"t": t, "precipitation": 0.0}, 0.0).details)["complete"] == "no"
