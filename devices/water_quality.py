"""Water-quality sonde: turbidity (FNU), conductivity (sent in mS/cm), pH, temperature, oxygen.

Baselines vary slowly (mean-reverting noise); pH and dissolved oxygen follow the diurnal cycle of
photosynthesis (highest mid-afternoon), oxygen around its temperature-dependent saturation. The
``plume`` driver (0..1) is a contamination pulse: turbidity and conductivity rise together while
pH and oxygen fall, to the peak levels the scenario scripts through ``plume_turbidity_ntu``,
``plume_conductivity_us`` and ``plume_ph_drop``.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.settings import REPO_ROOT
>>> station = load_catalog(REPO_ROOT / "catalog" / "demo.toml").by_id("wq-hochtal")
>>> v = WaterQualitySimulator(station, seed=2).sample(1_795_348_800.0)
>>> 6.5 < v["ph"] < 9 and v["turbidity"] < 20 and 300 < v["conductivity"] < 700
True
"""

from __future__ import annotations

import math

from devices.kinds import Simulator, register_kind
from devices.signals import HOUR_S, OrnsteinUhlenbeck, diurnal, do_saturation, seasonal, station_rng


@register_kind("water_quality",
               sends={"turbidity": ("FNU", 2), "conductivity": ("mS/cm", 4), "ph": ("pH", 2),
                      "water_temperature": ("degC", 2), "dissolved_oxygen": ("mg/L", 2)},
               example={"turbidity": 4.1, "conductivity": 452.0, "ph": 7.82, "water_temperature": 11.3,
                        "dissolved_oxygen": 10.4})
class WaterQualitySimulator(Simulator):
    """A multi-parameter sonde at a river intake."""

    def __init__(self, station, seed=0, interval_s=60.0, drivers=None) -> None:
        super().__init__(station, seed, interval_s, drivers)
        rng = station_rng(seed, station.id, "water_quality")
        self.rng = rng
        self.log_turbidity = OrnsteinUhlenbeck(3 * HOUR_S, 0.2, rng)
        self.conductivity_noise = OrnsteinUhlenbeck(6 * HOUR_S, 12.0, rng)
        self.ph_noise = OrnsteinUhlenbeck(4 * HOUR_S, 0.03, rng)
        self.temp_noise = OrnsteinUhlenbeck(12 * HOUR_S, 0.3, rng)
        self.do_noise = OrnsteinUhlenbeck(2 * HOUR_S, 0.15, rng)

    def sample(self, t: float) -> dict[str, float]:
        lon = self.station.lon
        plume = self.drivers.at("plume", t)
        water_temp = 10.0 + 6.0 * seasonal(t) + 0.8 * diurnal(t, lon, 17.0) + self.temp_noise.at(t)
        turbidity = (4.0 * math.exp(self.log_turbidity.at(t)) + abs(float(self.rng.normal(0, 0.15)))
                     + plume * self.drivers.at("plume_turbidity_ntu", t))
        conductivity = (450.0 + self.conductivity_noise.at(t) + float(self.rng.normal(0, 2.0))
                        + plume * self.drivers.at("plume_conductivity_us", t))
        ph = (7.8 + 0.15 * diurnal(t, lon, 16.0) + self.ph_noise.at(t) + float(self.rng.normal(0, 0.01))
              - plume * self.drivers.at("plume_ph_drop", t))
        oxygen = (do_saturation(water_temp) * (1.0 + 0.06 * diurnal(t, lon, 15.0)) + self.do_noise.at(t)
                  - 1.5 * plume)
        return {"turbidity": max(turbidity, 0.0), "conductivity": max(conductivity, 0.0),
                "ph": min(max(ph, 0.0), 14.0), "water_temperature": water_temp,
                "dissolved_oxygen": max(oxygen, 0.0)}
