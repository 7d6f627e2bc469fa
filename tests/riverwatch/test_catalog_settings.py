"""Catalog checks at start-up and the settings object."""

from pathlib import Path

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
    assert option in load_error(tmp_path, text)


def load_error(tmp_path, text: str) -> str:
    """The ConfigError message of loading a settings file holding ``text``."""
    config = tmp_path / "riverwatch.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as err:
        Settings.load(config)
    return str(err.value)


# --- issue 13: every mistake is named ----------------------------------------------------------

@pytest.mark.parametrize("text, named", [
    ('[mqtt]\nhots = "broker"\n', "option mqtt.hots: unknown option 'hots' in [mqtt] (did you mean 'host'?)"),
    ('[influx]\ntokn = "x"\n', "option influx.tokn: unknown option 'tokn' in [influx] (did you mean 'token'?)"),
    ("[feed]\nprot = 8080\n", "option feed.prot: unknown option 'prot' in [feed] (did you mean 'port'?)"),
    ("[ingest]\nmetrics_prot = 9100\n",
     "option ingest.metrics_prot: unknown option 'metrics_prot' in [ingest] (did you mean 'metrics_port'?)"),
    ("[lifecycle]\nclear_afterr = 60\n", "(did you mean 'clear_after_s'?)"),
    ("[lifecycle.flood]\nmin_durations = 60\n", "(did you mean 'min_duration_s'?)"),
    ('catalogue = "x.toml"\n', "option catalogue: unknown option 'catalogue' in the top level (did you mean 'catalog'?)"),
])
def test_an_unknown_option_names_its_section_and_the_nearest_valid_name(tmp_path, text, named):
    assert named in load_error(tmp_path, text)


def test_a_toml_syntax_error_is_one_line_with_file_line_and_column(tmp_path):
    config = tmp_path / "riverwatch.toml"
    config.write_text('[mqtt]\nhost = "127.0.0.1"\nport = = 1883\n')
    with pytest.raises(ConfigError) as err:
        Settings.load(config)
    assert str(err.value) == f"{config}:3:8: TOML syntax error: Invalid value"
    catalog = tmp_path / "catalog.toml"
    catalog.write_text("[[partners]\n")
    with pytest.raises(ConfigError, match=rf"^{catalog}:1:\d+: TOML syntax error") as err:
        load_catalog(catalog)
    assert "\n" not in str(err.value)


def test_riverwatch_config_naming_a_missing_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RIVERWATCH_CONFIG", str(tmp_path / "typo.toml"))
    with pytest.raises(ConfigError, match="RIVERWATCH_CONFIG: file .*typo.toml not found"):
        Settings.load()
    (tmp_path / "typo.toml").write_text("[mqtt]\nport = 1999\n")
    assert Settings.load().mqtt.port == 1999


def test_a_relative_catalog_path_is_read_from_the_config_files_folder(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "catalogs").mkdir(parents=True)
    (site / "catalogs" / "ours.toml").write_text(DEMO.read_text())
    (site / "riverwatch.toml").write_text('catalog = "catalogs/ours.toml"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = Settings.load(site / "riverwatch.toml")
    assert settings.catalog == site / "catalogs" / "ours.toml"
    assert len(load_catalog(settings.catalog).stations) == len(load_catalog(DEMO).stations)
    monkeypatch.setenv("RIVERWATCH_CATALOG", "from-env.toml")  # the environment is relative to the cwd, as always
    assert Settings.load(site / "riverwatch.toml").catalog == Path("from-env.toml")


def _catalog_with(tmp_path, old: str, new: str, count: int = 1) -> Path:
    text = DEMO.read_text()
    assert old in text
    path = tmp_path / "catalog.toml"
    path.write_text(text.replace(old, new, count))
    return path


@pytest.mark.parametrize("old, new, named", [
    ('shares_with = ["lacville"]', 'shares_with = ["lacvile"]',
     "partner rivertown: shares_with names unknown partner 'lacvile' (did you mean 'lacville'?)"),
    ('timezone = "Europe/Paris"', 'timezone = "Europe/Pari"',
     "unknown time zone 'Europe/Pari' (did you mean 'Europe/Paris'?)"),
    ('name = "Lacville pont Neuf"', 'name = "Lacville pont Neuf"\ndownstream = "gauge-hochtal"\ntravel_time_min = 60',
     "downstream chain loops: gauge-hochtal -> gauge-grenzbruecke -> gauge-lacville -> gauge-hochtal"),
    ('id = "wx-lacville"', 'id = "wx-rivertown"',
     "station lacville/wx-rivertown is used by partners rivertown and lacville; station ids must be unique"),
    ('downstream = "gauge-lacville"', 'downstream = "rivertown/gauge-lacville"',
     "station gauge-lacville belongs to lacville (write 'lacville/gauge-lacville')"),
    ('downstream = "gauge-lacville"', 'downstream = "lacville/gauge-lacvile"',
     "downstream 'lacville/gauge-lacvile' is not in the catalog (did you mean 'lacville/gauge-lacville'?)"),
])
def test_catalog_mistakes_are_refused_with_a_clear_message(tmp_path, old, new, named):
    with pytest.raises(ConfigError) as err:
        load_catalog(_catalog_with(tmp_path, old, new))
    assert named in str(err.value) and "Value error" not in str(err.value)


def test_a_partner_language_without_a_message_catalog_is_refused(tmp_path):
    from application.config_cli import load_checked_catalog

    path = _catalog_with(tmp_path, 'languages = ["fr", "en"]', 'languages = ["fr", "es"]')
    assert load_catalog(path).partner("lacville").languages == ["fr", "es"]  # the kernel alone cannot know
    with pytest.raises(ConfigError, match="partner lacville: language 'es' has no message catalog"):
        load_catalog(path, languages=["de", "en", "fr"])
    with pytest.raises(ConfigError, match="'es' has no message catalog"):
        load_checked_catalog(Settings(catalog=path))


def test_a_downstream_station_may_be_named_with_its_partner(tmp_path):
    catalog = load_catalog(_catalog_with(tmp_path, 'downstream = "gauge-lacville"', 'downstream = "lacville/gauge-lacville"'))
    border = catalog.by_id("gauge-grenzbruecke")
    assert border.downstream == "gauge-lacville"
    assert [st.key for st, _ in catalog.downstream(catalog.by_id("gauge-hochtal"))] == [
        ("rivertown", "gauge-grenzbruecke"), ("lacville", "gauge-lacville")]


@pytest.mark.parametrize("gateway, named", [
    ('id = "logger-1"\npartner = "rivertown"\nstations = ["gauge-hochtal", "wx-rivertown"]', None),
    ('id = "logger-1"\npartner = "rivertown"\nstations = ["gauge-lacville"]', "is not a station of rivertown"),
    ('id = "gauge-hochtal"\npartner = "rivertown"\nstations = ["wx-rivertown"]', "their status topics would clash"),
    ('id = "logger-1"\npartner = "rivertown"\nstations = []', "gateways.0.stations"),
])
def test_gateways_serve_stations_of_their_own_partner(tmp_path, gateway, named):
    path = tmp_path / "catalog.toml"
    path.write_text(DEMO.read_text() + f"\n[[gateways]]\n{gateway}\n")
    if named is None:
        assert load_catalog(path).gateways[0].stations == ["gauge-hochtal", "wx-rivertown"]
    else:
        with pytest.raises(ConfigError, match=named):
            load_catalog(path)


def test_an_invalid_environment_variable_is_named_as_such(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RIVERWATCH_MQTT__PORT", "abc")
    with pytest.raises(ConfigError, match=r"^option mqtt\.port \(from environment variable RIVERWATCH_MQTT__PORT\): "):
        Settings.load()
    monkeypatch.delenv("RIVERWATCH_MQTT__PORT")
    monkeypatch.setenv("riverwatch_mqtt__hots", "broker")
    with pytest.raises(ConfigError, match=r"environment variable riverwatch_mqtt__hots\): unknown option 'hots' "
                                          r"in \[mqtt\] \(did you mean 'host'\?\)"):
        Settings.load()
