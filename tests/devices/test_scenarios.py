"""Scenarios: the storm's flood wave travels, the plume crosses the border, faults leave signatures."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from devices.scenarios import FAULT_KINDS, Fault, FaultInjector, build_scenario, scenario_duration, scenarios
from devices.simulate import scenario_readings
from riverwatch.catalog import load_catalog
from riverwatch.errors import ConfigError
from riverwatch.settings import REPO_ROOT
from riverwatch.units import QUANTITIES

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
START = 1_790_000_000.0


def series(scenario, duration_s, interval_s=120.0, seed=3):
    """station -> quantity -> (times, values) and station -> list of readings."""
    out = defaultdict(lambda: defaultdict(list))
    readings = defaultdict(list)
    for r in scenario_readings(CATALOG, scenario, START, duration_s, interval_s, seed):
        readings[r.station].append(r)
        for q, v in r.values.items():
            out[r.station][q].append((r.time_s, v))
    return {s: {q: np.array(v).T for q, v in qs.items()} for s, qs in out.items()}, readings


@pytest.fixture(scope="module")
def storm():
    duration = scenario_duration("storm", CATALOG)
    return build_scenario("storm", CATALOG, START, duration, seed=3), series("storm", duration)[0]


def test_registry_names():
    assert {"storm", "plume", "faults", "calm", "all"} <= set(scenarios())
    with pytest.raises(ConfigError, match="storm"):
        build_scenario("tsunami", CATALOG, START, 3600)


def test_same_seed_same_messages():
    a = [(r.station, r.time_s, dict(r.values)) for r in scenario_readings(CATALOG, "all", START, 7200, 300, 9)]
    b = [(r.station, r.time_s, dict(r.values)) for r in scenario_readings(CATALOG, "all", START, 7200, 300, 9)]
    c = [(r.station, r.time_s, dict(r.values)) for r in scenario_readings(CATALOG, "all", START, 7200, 300, 10)]
    assert a == b and a != c
    assert [t for _, t, _ in a] == sorted(t for _, t, _ in a)


def test_storm_peaks_travel_downstream_and_cross_warning(storm):
    plan, data = storm
    route = [("gauge-hochtal", None), ("gauge-grenzbruecke", "gauge-hochtal"), ("gauge-lacville", "gauge-grenzbruecke")]
    for station_id, upstream_id in route:
        station = CATALOG.by_id(station_id)
        peak = plan.peaks[station_id]
        times, levels = data[station_id]["water_level"]
        observed_peak = times[int(np.argmax(levels))]
        assert abs(observed_peak - peak.time_s) <= 20 * 60, station_id
        warning = station.quantities["water_level"].levels["warning"]
        assert levels.max() > warning and levels[0] < station.quantities["water_level"].levels["advisory"]
        assert peak.level == "warning"
        if upstream_id:
            travel = CATALOG.by_id(upstream_id).travel_time_min * 60
            assert plan.peaks[station_id].time_s - plan.peaks[upstream_id].time_s == pytest.approx(travel)
        rises_per_hour = np.diff(levels) / np.diff(times) * 3600
        assert rises_per_hour.max() < station.quantities["water_level"].max_rate_per_hour
    rain = data["wx-rivertown"]["precipitation"][1]
    assert rain.sum() > 10 and plan.peaks["wx-rivertown"].time_s < plan.peaks["gauge-hochtal"].time_s
    _, discharge = data["gauge-hochtal"]["discharge"]
    assert discharge.max() > 4 * discharge[0]  # rating curve follows the stage


def test_plume_crosses_the_border_together():
    duration = scenario_duration("plume", CATALOG)
    plan = build_scenario("plume", CATALOG, START, duration)
    data, _ = series("plume", duration)
    up, down = plan.peaks["wq-hochtal"], plan.peaks["wq-lacville"]
    assert down.time_s - up.time_s == pytest.approx(CATALOG.by_id("wq-hochtal").travel_time_min * 60)
    for station_id, peak in (("wq-hochtal", up), ("wq-lacville", down)):
        spec = CATALOG.by_id(station_id).quantities
        times, turbidity = data[station_id]["turbidity"]
        i = int(np.argmax(turbidity))
        assert abs(times[i] - peak.time_s) <= 15 * 60
        assert turbidity[i] > spec["turbidity"].levels["warning"] > 10 * turbidity[0]
        assert data[station_id]["conductivity"][1][i] > spec["conductivity"].levels["warning"]
        assert data[station_id]["ph"][1][i] < data[station_id]["ph"][1][0] - 0.6
    _, turbidity_down = data["wq-lacville"]["turbidity"]
    times_down = data["wq-lacville"]["turbidity"][0]
    assert turbidity_down[times_down < up.time_s].max() < 20  # nothing downstream before it arrives


def test_calm_stays_below_every_threshold():
    data, _ = series("calm", 24 * 3600, 300)
    for station_id, quantities in data.items():
        station = CATALOG.by_id(station_id)
        for quantity, (_, values) in quantities.items():
            spec = station.quantities[quantity]
            for value in values:
                assert spec.level_for(value).name == "NONE", (station_id, quantity, value)


@pytest.fixture(scope="module")
def faulty():
    duration = 12 * 3600.0
    plan = build_scenario("faults", CATALOG, START, duration)
    return plan, *series("faults", duration, 120.0, seed=4), *series("calm", duration, 120.0, seed=4)


def _fault(plan, kind):
    return next(f for f in plan.faults if f.kind == kind)


def test_faults_scenario_has_every_kind(faulty):
    plan = faulty[0]
    assert sorted(f.kind for f in plan.faults) == sorted(FAULT_KINDS)
    assert len({f.station for f in plan.faults}) >= 4


def test_spike_is_one_reading(faulty):
    plan, data, readings, clean, _ = faulty
    fault = _fault(plan, "spike")
    diff = data[fault.station][fault.quantity][1] - clean[fault.station][fault.quantity][1]
    assert np.count_nonzero(np.abs(diff) > 1e-9) == 1 and diff.max() == pytest.approx(fault.magnitude)
    assert sum("spike" in r.faults for r in readings[fault.station]) == 1


def test_stuck_repeats_one_value(faulty):
    plan, data, *_ = faulty
    fault = _fault(plan, "stuck")
    times, values = data[fault.station][fault.quantity]
    inside = values[(times >= fault.start_s) & (times < fault.end_s)]
    assert len(inside) > 50 and np.all(inside == inside[0])
    assert len(set(values[times < fault.start_s])) > 10


def test_drift_grows_linearly(faulty):
    plan, data, _, clean, _ = faulty
    fault = _fault(plan, "drift")
    times, values = data[fault.station][fault.quantity]
    offset = values - clean[fault.station][fault.quantity][1]
    inside = (times >= fault.start_s) & (times < fault.end_s)
    assert np.all(offset[~inside] == 0)
    slope = np.polyfit(times[inside], offset[inside], 1)[0]
    assert slope * (fault.end_s - fault.start_s) == pytest.approx(fault.magnitude, rel=0.05)


def test_dropout_leaves_a_gap(faulty):
    plan, _, readings, *_ = faulty
    fault = _fault(plan, "dropout")
    times = np.array([r.time_s for r in readings[fault.station]])
    assert not np.any((times >= fault.start_s) & (times < fault.end_s))
    assert np.diff(times).max() >= fault.end_s - fault.start_s


def test_clock_skew_stamps_hours_ahead(faulty):
    plan, _, readings, *_ = faulty
    fault = _fault(plan, "clock_skew")
    skewed = [r for r in readings[fault.station] if "clock_skew" in r.faults]
    assert skewed and all(r.sent_time_s - r.time_s == 3 * 3600 for r in skewed)
    assert all(r.sent_time_s == r.time_s for r in readings[fault.station] if not r.faults)


def test_flat_battery_decays_then_garbage(faulty):
    plan, data, *_ = faulty
    fault = _fault(plan, "flat_battery")
    times, conductivity = data[fault.station]["conductivity"]
    window = (times >= fault.start_s) & (times < fault.end_s)
    progress = (times[window] - fault.start_s) / (fault.end_s - fault.start_s)
    sagging = conductivity[window][progress < 0.6]
    assert sagging[-1] < 0.1 * sagging[0]
    garbage = data[fault.station]["ph"][1][window][progress >= 0.6]
    lo, hi = QUANTITIES["ph"].plausible
    assert np.any((garbage < lo) | (garbage > hi))


def test_fault_injector_rejects_unknown_kind():
    with pytest.raises(ValueError, match="spike"):
        Fault("s", "gremlins", None, 0.0, 1.0)
    assert FaultInjector(()).apply(5.0, {"ph": 7.0}) == (5.0, {"ph": 7.0}, ())


def test_all_is_storm_plus_plume_plus_a_fault():
    plan = build_scenario("all", CATALOG, START, 9 * 3600)
    assert {"gauge-hochtal", "gauge-lacville", "wq-hochtal", "wq-lacville"} <= set(plan.peaks)
    assert [f.kind for f in plan.faults] == ["spike"]
