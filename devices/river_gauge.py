"""River gauge: stage (sent in cm), discharge from a rating curve (sent in cfs), water temperature.

The stage is a station baseline plus slow mean-reverting variation and sensor noise, plus the
``stage_rise_m`` driver a scenario supplies (the flood wave, already routed to this gauge).
Discharge follows the power-law rating curve ``Q = a (h - h0)^b``.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.settings import REPO_ROOT
>>> station = load_catalog(REPO_ROOT / "catalog" / "demo.toml").by_id("gauge-hochtal")
>>> sim = RiverGaugeSimulator(station, seed=1)
>>> v = sim.sample(1_795_348_800.0)
>>> 1.0 < v["water_level"] < 1.6 and v["discharge"] > 0
True
"""

from __future__ import annotations

from devices.kinds import Simulator, register_kind
from devices.signals import HOUR_S, OrnsteinUhlenbeck, diurnal, seasonal, station_rng

RATING_EXPONENT = 1.6
BASE_DISCHARGE = 12.0  # m3/s at the baseline stage
ZERO_FLOW_DEPTH = 0.9  # m between the cease-to-flow stage h0 and the baseline stage


def baseline_stage(station) -> float:
    """Normal stage of a gauge (m): two thirds of its advisory level, or 1 m without thresholds."""
    spec = station.quantities.get("water_level")
    advisory = spec.levels.get("advisory") if spec else None
    return round(0.65 * advisory, 3) if advisory else 1.0


def rating_curve(stage: float, h0: float, a: float, b: float = RATING_EXPONENT) -> float:
    """Discharge (m3/s) for ``stage`` (m): ``a (stage - h0)^b``, 0 below ``h0``.

    >>> round(rating_curve(2.0, 1.0, 10.0), 3)
    10.0
    """
    return a * max(stage - h0, 0.0) ** b


@register_kind("river_gauge",
               sends={"water_level": ("cm", 1), "discharge": ("cfs", 1), "water_temperature": ("degC", 2)},
               example={"water_level": 1.32, "discharge": 12.4, "water_temperature": 11.25})
class RiverGaugeSimulator(Simulator):
    """A pressure-transducer river gauge with a rating curve."""

    def __init__(self, station, seed=0, interval_s=60.0, drivers=None) -> None:
        super().__init__(station, seed, interval_s, drivers)
        rng = station_rng(seed, station.id, "river_gauge")
        self.rng = rng
        self.base = baseline_stage(station)
        self.h0 = self.base - ZERO_FLOW_DEPTH
        self.a = BASE_DISCHARGE / ZERO_FLOW_DEPTH ** RATING_EXPONENT
        self.stage_noise = OrnsteinUhlenbeck(6 * HOUR_S, 0.02, rng)
        self.temp_noise = OrnsteinUhlenbeck(12 * HOUR_S, 0.3, rng)

    def sample(self, t: float) -> dict[str, float]:
        rise = self.drivers.at("stage_rise_m", t)
        stage = self.base + self.stage_noise.at(t) + rise + float(self.rng.normal(0.0, 0.004))
        discharge = rating_curve(stage, self.h0, self.a) * (1.0 + float(self.rng.normal(0.0, 0.01)))
        water_temp = (10.0 + 6.0 * seasonal(t) + 0.8 * diurnal(t, self.station.lon, 17.0)
                      + self.temp_noise.at(t) - 0.4 * rise)
        return {"water_level": stage, "discharge": max(discharge, 0.0), "water_temperature": water_temp}
