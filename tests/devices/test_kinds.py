"""Contract checks over every registered sensor kind, and the simulators' determinism."""

from __future__ import annotations

import math

import pytest

from devices.kinds import SensorKind, UnitSpec, kinds, register_kind
from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic, decode_payload, parse_topic
from riverwatch.errors import ConfigError
from riverwatch.settings import REPO_ROOT
from riverwatch.units import QUANTITIES, conversion, to_canonical

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
KINDS = kinds()
T0 = 1_795_348_800.0


def checks(kind: SensorKind, name: str) -> None:
    if name in kind.skip_checks:
        pytest.skip(f"kind {kind.name} opts out of {name}")


def test_the_three_kinds_are_registered():
    assert {"river_gauge", "weather", "water_quality"} <= set(KINDS)


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_example_payload_decodes_and_converts(kind):
    checks(kind, "example_payload")
    raw = decode_payload(kind.example_payload())
    assert raw.seq == 1 and raw.time_s == T0
    assert {q for q, _, _ in raw.values} == set(kind.sends)
    for quantity, value, unit in raw.values:
        assert unit == kind.sends[quantity].unit
        canonical = to_canonical(quantity, value, unit)
        assert canonical == pytest.approx(kind.example[quantity], rel=1e-3, abs=10 ** -kind.sends[quantity].decimals)


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_units_convert_and_one_is_not_canonical(kind):
    checks(kind, "units")
    for quantity, spec in kind.sends.items():
        assert quantity in QUANTITIES
        assert conversion(quantity, spec.unit)
    assert any(spec.unit != QUANTITIES[q].unit for q, spec in kind.sends.items()), \
        "at least one quantity in a non-canonical unit, so ingest's conversion is exercised"


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_topic_round_trips_for_every_station_of_the_kind(kind):
    checks(kind, "topic")
    stations = [s for s in CATALOG.stations if s.kind == kind.name]
    for station in stations:
        assert parse_topic(data_topic(station.partner, station.id)) == (station.partner, station.id, "data")


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_simulator_is_deterministic_finite_and_plausible(kind):
    checks(kind, "simulator")
    stations = [s for s in CATALOG.stations if s.kind == kind.name]
    assert stations, f"no station of kind {kind.name} in the demo catalog"
    for station in stations:
        series = []
        for _ in range(2):
            sim = kind.build(station, seed=5, interval_s=300.0)
            series.append([sim.sample(T0 + 300.0 * i) for i in range(288)])
        assert series[0] == series[1]
        other = kind.build(station, seed=6, interval_s=300.0)
        assert [other.sample(T0 + 300.0 * i) for i in range(288)] != series[0]
        for values in series[0]:
            assert set(kind.sends) <= set(values)
            for quantity, value in values.items():
                lo, hi = QUANTITIES[quantity].plausible
                assert math.isfinite(value) and lo <= value <= hi, (station.id, quantity, value)


def test_sent_values_survive_the_round_trip_to_canonical():
    kind = KINDS["river_gauge"]
    sent = kind.to_device_units({"water_level": 1.234, "discharge": 10.0})
    assert sent["water_level"] == (123.4, "cm")
    assert to_canonical("discharge", *sent["discharge"]) == pytest.approx(10.0, rel=1e-3)


def test_registering_an_unknown_unit_fails_naming_it():
    with pytest.raises(Exception, match="furlong"):
        register_kind("bogus_kind", sends={"water_level": ("furlong", 1)}, example={})(type("X", (), {}))
    assert "bogus_kind" not in kinds()


def test_unit_spec_is_frozen():
    with pytest.raises(AttributeError):
        UnitSpec("m", 2).unit = "cm"


def test_unknown_kind_names_the_known_ones():
    from devices.kinds import get_kind
    with pytest.raises(ConfigError, match="river_gauge"):
        get_kind("seismometer")


def test_weather_replays_beijing_diurnal_shape_when_present(data_dir):
    from devices.weather import BEIJING_FILE, WeatherSimulator, diurnal_profiles
    profiles = diurnal_profiles(data_dir / BEIJING_FILE)
    assert profiles is not None
    temp, dew = profiles
    assert temp.shape == (12, 24) and abs(temp.mean()) < 1e-9
    assert 14 <= int(temp[6].argmax()) <= 17  # June afternoons are warmest (local time)
    station = CATALOG.by_id("wx-rivertown")
    replay = WeatherSimulator(station, seed=1, history=data_dir / BEIJING_FILE)
    synthetic = WeatherSimulator(station, seed=1, history=None)
    day = [T0 + 3600.0 * h for h in range(24)]
    assert [replay.sample(t)["air_temperature"] for t in day] != [synthetic.sample(t)["air_temperature"] for t in day]
