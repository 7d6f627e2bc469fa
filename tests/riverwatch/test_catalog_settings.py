"""Catalog checks at start-up and the settings object."""

import pytest

from riverwatch.catalog import load_catalog
from riverwatch.errors import ConfigError
from riverwatch.model import Level
from riverwatch.settings import REPO_ROOT, LifecycleSettings, Settings

DEMO = REPO_ROOT / "catalog" / "demo.toml"


def test_demo_catalog_has_two_partners_on_one_river():
    catalog = load_catalog(DEMO)
    countries = {p.country for p in catalog.partners}
    assert len(countries) == 2
    kinds = [s.kind for s in catalog.stations]
    assert kinds.count("river_gauge") >= 3 and kinds.count("weather") >= 2 and kinds.count("water_quality") >= 2
    gauges = [s for s in catalog.stations if s.kind == "river_gauge"]
    assert len({s.river for s in gauges}) == 1
    # one station upstream of the border: a gauge of one partner flows into a gauge of the other
    assert any(catalog.by_id(s.downstream).partner != s.partner for s in catalog.stations if s.downstream)


def test_levels_and_direction():
    catalog = load_catalog(DEMO)
    level = catalog.by_id("gauge-hochtal").quantities["water_level"]
    assert level.level_for(1.0) is Level.NONE
    assert level.level_for(3.1) is Level.WARNING
    oxygen = catalog.by_id("wq-hochtal").quantities["dissolved_oxygen"]
    assert oxygen.level_for(4.5) is Level.WATCH


def test_catalog_errors_name_the_entry(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(DEMO.read_text().replace('downstream = "gauge-lacville"', 'downstream = "nowhere"'))
    with pytest.raises(ConfigError, match="nowhere"):
        load_catalog(bad)
    bad.write_text(DEMO.read_text().replace("[stations.quantities.discharge]", "[stations.quantities.flow]", 1))
    with pytest.raises(ConfigError, match="flow"):
        load_catalog(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_catalog(tmp_path / "missing.toml")


def test_environment_overrides_toml(tmp_path, monkeypatch):
    config = tmp_path / "riverwatch.toml"
    config.write_text('[mqtt]\nport = 1999\n[influx]\ndatabase = "fromfile"\n')
    monkeypatch.setenv("RIVERWATCH_MQTT__PORT", "2001")
    settings = Settings.load(config)
    assert settings.mqtt.port == 2001 and settings.influx.database == "fromfile"


def test_invalid_option_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("RIVERWATCH_MQTT__PORT", raising=False)
    config = tmp_path / "riverwatch.toml"
    config.write_text("[mqtt]\nport = 99999\n")
    with pytest.raises(ConfigError, match="mqtt.port"):
        Settings.load(config)


def test_sample_config_is_valid():
    settings = Settings.load(REPO_ROOT / "riverwatch.sample.toml")
    assert settings.influx.database == "riverwatch"
    assert settings.influx.token is None or settings.influx.token.get_secret_value()


def test_downstream_chain_and_basin_outlet():
    catalog = load_catalog(DEMO)
    chain = [(st.id, s) for st, s in catalog.downstream(catalog.by_id("gauge-hochtal"))]
    assert chain == [("gauge-grenzbruecke", 120 * 60.0), ("gauge-lacville", (120 + 90) * 60.0)]
    assert list(catalog.downstream(catalog.by_id("gauge-lacville"))) == []
    assert catalog.basin_outlet(catalog.by_id("gauge-grenzbruecke")).id == "gauge-lacville"
    assert catalog.basin_outlet(catalog.by_id("wx-lacville")).id == "wx-lacville"


def test_lifecycle_defaults_are_the_books_and_the_samples():
    defaults = LifecycleSettings()
    assert (defaults.min_duration_s, defaults.clear_after_s, defaults.flap_window_s, defaults.max_flap_backoff,
            defaults.stale_after_s, defaults.refresh_s, defaults.expected_at_tolerance_s) == (
        1800.0, 1800.0, 10800.0, 4.0, 21600.0, 900.0, 900.0)
    assert (defaults.propagate_min_level, defaults.propagated_level) == (Level.WATCH, Level.WATCH)
    assert defaults.private_hazards == ("sensor",) and defaults.hazards == {}
    assert Settings().lifecycle == defaults
    assert Settings.load(REPO_ROOT / "riverwatch.sample.toml").lifecycle == defaults


def test_lifecycle_times_per_hazard(tmp_path, monkeypatch):
    config = tmp_path / "riverwatch.toml"
    config.write_text('[lifecycle]\nclear_after_s = 600\npropagate_min_level = "warning"\n'
                      "[lifecycle.flood]\nmin_duration_s = 3600\n")
    monkeypatch.setenv("RIVERWATCH_LIFECYCLE__ANOMALY__FLAP_WINDOW_S", "60")
    lifecycle = Settings.load(config).lifecycle
    flood, anomaly, weather = (lifecycle.times(h) for h in ("flood", "anomaly", "weather"))
    assert (flood.min_duration_s, flood.clear_after_s, flood.flap_window_s) == (3600.0, 600.0, 10800.0)
    assert (anomaly.min_duration_s, anomaly.clear_after_s, anomaly.flap_window_s) == (1800.0, 600.0, 60.0)
    assert weather is lifecycle and weather.clear_after_s == 600.0
    assert lifecycle.propagate_min_level == Level.WARNING


@pytest.mark.parametrize("text, option", [
    ("[lifecycle]\nclear_after = 600\n", "lifecycle.clear_after"),
    ("[lifecycle.flood]\nmin_durations = 1\n", "lifecycle.flood.min_durations"),
    ("[lifecycle.flood]\nmin_duration_s = -1\n", "lifecycle.flood.min_duration_s"),
    ("[lifecycle.flood]\nprivate_hazards = []\n", "lifecycle.flood.private_hazards"),
])
def test_invalid_lifecycle_option_is_named(tmp_path, text, option):
    config = tmp_path / "riverwatch.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=option.replace(".", r"\.")):
        Settings.load(config)
