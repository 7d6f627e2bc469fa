"""Weather station: air temperature, humidity, pressure (sent in Pa), wind (sent in km/h), rain.

Temperature follows a seasonal mean and a diurnal cycle. The diurnal *shape* is replayed from the
hourly Beijing airport record (``beijing-weather`` in the shared data, month by month) when that
data is present, else it is a cosine peaking at 15:00 local solar time. Relative humidity comes
from temperature and a slowly varying dew point (so it peaks at night); pressure drifts; wind has
a diurnal cycle and random gusts. A scenario's ``rain_mm_h`` and ``storm`` (0..1) drivers bring
rain, a pressure dip, cooling, saturation and strong wind. Precipitation is the amount in the
reading interval, tipped in 0.1 mm steps like a tipping-bucket gauge.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.settings import REPO_ROOT
>>> station = load_catalog(REPO_ROOT / "catalog" / "demo.toml").by_id("wx-rivertown")
>>> v = WeatherSimulator(station, seed=3, history=None).sample(1_795_348_800.0)
>>> sorted(v)
['air_pressure', 'air_temperature', 'precipitation', 'relative_humidity', 'wind_speed']
>>> v["precipitation"]
0.0
"""

from __future__ import annotations

import csv
import math
import os
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from devices.kinds import Simulator, register_kind
from devices.signals import (DAY_S, HOUR_S, OrnsteinUhlenbeck, dew_point_to_rh, diurnal, seasonal,
                             solar_hour, station_rng)
from riverwatch.settings import REPO_ROOT

BEIJING_FILE = "beijing-weather/PRSA_data_2010.1.1-2014.12.31.csv"
BUCKET_MM = 0.1


def data_dir() -> Path:
    """The shared data dir (``$RIVERWATCH_DATA`` or ``../shared/data`` beside the repo)."""
    return Path(os.environ.get("RIVERWATCH_DATA", REPO_ROOT.parent / "shared" / "data"))


@lru_cache(maxsize=4)
def diurnal_profiles(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean diurnal anomaly of temperature and dew point, per month and local hour (12 x 24 each).

    Returns None when the file is absent or unreadable (the simulator then uses a cosine).
    """
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [(int(r["month"]), int(r["hour"]), float(r["TEMP"]), float(r["DEWP"]))
                    for r in csv.DictReader(fh)]
    except (OSError, KeyError, ValueError):
        return None
    data = np.array(rows)
    temp, dew = np.zeros((12, 24)), np.zeros((12, 24))
    for month in range(1, 13):
        in_month = data[data[:, 0] == month]
        for hour in range(24):
            at_hour = in_month[in_month[:, 1] == hour]
            temp[month - 1, hour] = at_hour[:, 2].mean()
            dew[month - 1, hour] = at_hour[:, 3].mean()
    temp -= temp.mean(axis=1, keepdims=True)
    dew -= dew.mean(axis=1, keepdims=True)
    return temp, dew


def _profile_at(profile: np.ndarray, t: float, lon: float) -> float:
    month = datetime.fromtimestamp(t, timezone.utc).month - 1
    hour = solar_hour(t, lon)
    lo = int(hour) % 24
    frac = hour - int(hour)
    return float(profile[month, lo] * (1 - frac) + profile[month, (lo + 1) % 24] * frac)


@register_kind("weather",
               sends={"air_temperature": ("degC", 1), "relative_humidity": ("%", 0),
                      "air_pressure": ("Pa", 0), "wind_speed": ("km/h", 1), "precipitation": ("mm", 1)},
               example={"air_temperature": 8.4, "relative_humidity": 81.0, "air_pressure": 1013.2,
                        "wind_speed": 3.5, "precipitation": 0.2})
class WeatherSimulator(Simulator):
    """An automatic weather station.

    Parameters
    ----------
    history
        ``"auto"`` (default) replays diurnal shapes from the Beijing record when it is present,
        a path uses that file, None always uses the synthetic cosine.
    """

    def __init__(self, station, seed=0, interval_s=60.0, drivers=None, history: str | Path | None = "auto"
                 ) -> None:
        super().__init__(station, seed, interval_s, drivers)
        rng = station_rng(seed, station.id, "weather")
        self.rng = rng
        self.temp_noise = OrnsteinUhlenbeck(6 * HOUR_S, 1.5, rng)
        self.dew_noise = OrnsteinUhlenbeck(12 * HOUR_S, 1.5, rng)
        self.pressure_noise = OrnsteinUhlenbeck(2 * DAY_S, 6.0, rng)
        self.wind_noise = OrnsteinUhlenbeck(HOUR_S, 1.0, rng)
        path = data_dir() / BEIJING_FILE if history == "auto" else history
        self.profiles = diurnal_profiles(Path(path)) if path else None
        self._bucket = 0.0
        self._last_t: float | None = None

    def _diurnal_temp_dew(self, t: float) -> tuple[float, float]:
        lon = self.station.lon
        if self.profiles is None:
            return 4.5 * diurnal(t, lon, 15.0), 0.8 * diurnal(t, lon, 14.0)
        return _profile_at(self.profiles[0], t, lon), _profile_at(self.profiles[1], t, lon)

    def _precipitation(self, t: float) -> float:
        dt = self.interval_s if self._last_t is None else max(t - self._last_t, 0.0)
        self._last_t = t
        self._bucket += self.drivers.at("rain_mm_h", t - dt / 2) * dt / HOUR_S
        tips = math.floor(self._bucket / BUCKET_MM + 1e-9)
        self._bucket -= tips * BUCKET_MM
        return round(tips * BUCKET_MM, 1)

    def sample(self, t: float) -> dict[str, float]:
        storm = self.drivers.at("storm", t)
        rain = self.drivers.at("rain_mm_h", t)
        mean = 10.0 + 9.0 * seasonal(t)
        day_temp, day_dew = self._diurnal_temp_dew(t)
        temperature = mean + day_temp + self.temp_noise.at(t) - 4.0 * storm
        dew_point = mean - 7.0 + day_dew + self.dew_noise.at(t)
        wet = min(1.0, storm + rain / 2.0)
        dew_point = (1 - wet) * dew_point + wet * (temperature - 0.3)
        humidity = dew_point_to_rh(temperature, dew_point) - abs(float(self.rng.normal(0, 0.8)))
        humidity = min(max(humidity, 5.0), 100.0)
        pressure = (1015.0 + self.pressure_noise.at(t) - 14.0 * storm
                    + 0.6 * math.cos(4 * math.pi * (solar_hour(t, self.station.lon) - 10.0) / 24.0))
        gust_chance = 1.0 - math.exp(-(2.0 + 20.0 * storm) * self.interval_s / HOUR_S)
        gust = float(self.rng.gamma(2.0, 1.5 + 1.5 * storm)) if self.rng.random() < gust_chance else 0.0
        wind = max(0.0, 3.0 + 1.2 * diurnal(t, self.station.lon, 14.0) + self.wind_noise.at(t)
                   + 7.0 * storm + gust)
        return {"air_temperature": temperature, "relative_humidity": humidity, "air_pressure": pressure,
                "wind_speed": wind, "precipitation": self._precipitation(t)}
