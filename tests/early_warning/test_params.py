"""The lifecycle parameters from the settings, and the order a station's streams reach the book."""

from __future__ import annotations

import pytest

from early_warning.params import lifecycle_params, sensor_streams_first
from riverwatch.errors import ConfigError
from riverwatch.settings import Settings


def test_sensor_streams_first_keeps_each_group_in_order():
    streams = [("a", "flood"), ("b", "sensor"), ("c", "flood"), ("d", "sensor")]
    assert sensor_streams_first(streams, lambda s: s[1]) == [("b", "sensor"), ("d", "sensor"),
                                                             ("a", "flood"), ("c", "flood")]
    assert sensor_streams_first(streams, lambda s: s[1], private=()) == streams


def test_lifecycle_params_are_the_settings():
    settings = Settings(lifecycle={"weather": {"clear_after_s": 60}, "sensor": {"stale_after_s": 600}})
    params = lifecycle_params(settings)
    assert params is settings.lifecycle
    assert params.times("weather").clear_after_s == 60.0 and params.times("sensor").stale_after_s == 600.0


def test_a_hazard_no_detector_warns_of_is_refused_naming_the_option():
    with pytest.raises(ConfigError, match=r"lifecycle\.flod.*flood"):
        lifecycle_params(Settings(lifecycle={"flod": {"clear_after_s": 60}}))
