"""Building blocks of simulated signals: seeded noise, diurnal and seasonal cycles, driver series.

Simulators are driven by *simulated* time (epoch seconds), never by the wall clock, so the same
seed and the same sample times always give the same series.

Examples
--------
>>> noise = OrnsteinUhlenbeck(tau_s=3600.0, sigma=1.0, rng=station_rng(7, "gauge-1"))
>>> a = [round(noise.at(t), 6) for t in (0.0, 60.0, 120.0)]
>>> noise2 = OrnsteinUhlenbeck(tau_s=3600.0, sigma=1.0, rng=station_rng(7, "gauge-1"))
>>> a == [round(noise2.at(t), 6) for t in (0.0, 60.0, 120.0)]
True
>>> Series(0.0, 60.0, [0.0, 1.0]).at(30.0)
0.5
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

DAY_S = 86400.0
HOUR_S = 3600.0


def station_rng(seed: int, *names: str) -> np.random.Generator:
    """A random generator that depends only on ``seed`` and the given names (e.g. a station id).

    >>> float(station_rng(1, "a").random()) == float(station_rng(1, "a").random())
    True
    """
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *(zlib.crc32(n.encode()) for n in names)])


class OrnsteinUhlenbeck:
    """Mean-reverting noise (exact discretisation), sampled at increasing times.

    Parameters
    ----------
    tau_s
        Correlation time in seconds.
    sigma
        Stationary standard deviation.
    rng
        The seeded generator.
    """

    __slots__ = ("tau_s", "sigma", "rng", "_t", "_x")

    def __init__(self, tau_s: float, sigma: float, rng: np.random.Generator) -> None:
        self.tau_s, self.sigma, self.rng = tau_s, sigma, rng
        self._t: float | None = None
        self._x = float(rng.normal(0.0, sigma))

    def at(self, t: float) -> float:
        """The value at time ``t`` (seconds); times must not go backwards."""
        if self._t is not None and t > self._t:
            decay = math.exp(-(t - self._t) / self.tau_s)
            self._x = self._x * decay + self.sigma * math.sqrt(1.0 - decay * decay) * float(self.rng.normal())
        self._t = t if self._t is None else max(self._t, t)
        return self._x


@dataclass(frozen=True, slots=True)
class Series:
    """A driver sampled on a regular grid, read back by linear interpolation (0 outside).

    Parameters
    ----------
    t0
        Time of the first sample (epoch seconds).
    dt
        Grid step in seconds.
    values
        The samples.
    """

    t0: float
    dt: float
    values: Sequence[float]

    def at(self, t: float) -> float:
        """Interpolated value at ``t``; 0 before the first and after the last sample."""
        i = (t - self.t0) / self.dt
        n = len(self.values)
        if i < 0 or i > n - 1:
            return 0.0
        lo = int(i)
        if lo >= n - 1:
            return float(self.values[-1])
        frac = i - lo
        return float(self.values[lo] * (1 - frac) + self.values[lo + 1] * frac)

    @property
    def times(self) -> np.ndarray:
        """The grid times."""
        return self.t0 + self.dt * np.arange(len(self.values))

    def peak(self) -> tuple[float, float]:
        """``(time, value)`` of the maximum."""
        i = int(np.argmax(self.values))
        return float(self.t0 + i * self.dt), float(self.values[i])


@dataclass(frozen=True, slots=True)
class Constant:
    """A driver that holds one value at all times.

    >>> Constant(2.5).at(1e9)
    2.5
    """

    value: float

    def at(self, t: float) -> float:
        """The constant."""
        return self.value


@dataclass(frozen=True, slots=True)
class Sum:
    """Two drivers of the same name from combined scenarios, added."""

    first: "Series | Constant | Sum"
    second: "Series | Constant | Sum"

    def at(self, t: float) -> float:
        """The sum of both at ``t``."""
        return self.first.at(t) + self.second.at(t)


@dataclass(frozen=True)
class Drivers:
    """Named external forcings a scenario gives one station's simulator (0 when absent).

    >>> Drivers({"rain_mm_h": Series(0.0, 60.0, [0.0, 6.0])}).at("rain_mm_h", 60.0)
    6.0
    >>> Drivers().at("plume", 5.0)
    0.0
    """

    series: Mapping[str, "Series | Constant | Sum"] = field(default_factory=dict)

    def at(self, name: str, t: float) -> float:
        """Value of driver ``name`` at time ``t``."""
        found = self.series.get(name)
        return 0.0 if found is None else found.at(t)

    def merged(self, other: "Drivers") -> "Drivers":
        """Both sets of drivers; a name present in both is summed."""
        merged = dict(self.series)
        for name, series in other.series.items():
            merged[name] = series if name not in merged else Sum(merged[name], series)
        return Drivers(merged)


def solar_hour(t: float, lon: float) -> float:
    """Local mean solar time in hours (0–24) at longitude ``lon``.

    >>> solar_hour(0.0, 15.0)
    1.0
    """
    return ((t / HOUR_S) + lon / 15.0) % 24.0


def diurnal(t: float, lon: float, peak_hour: float) -> float:
    """A unit cosine day cycle, +1 at ``peak_hour`` local solar time, -1 twelve hours later."""
    return math.cos(2.0 * math.pi * (solar_hour(t, lon) - peak_hour) / 24.0)


def seasonal(t: float, peak_day: float = 200.0) -> float:
    """A unit cosine year cycle, +1 on day-of-year ``peak_day`` (mid-July by default)."""
    day = (t / DAY_S) % 365.25
    return math.cos(2.0 * math.pi * (day - peak_day + 1.0) / 365.25)


def gamma_pulse(tau: np.ndarray, t_peak: float, shape: float = 3.0) -> np.ndarray:
    """A unit hydrograph shape (Nash cascade): 0 for ``tau <= 0``, peak 1 at ``tau == t_peak``.

    >>> float(gamma_pulse(np.array([3600.0]), 3600.0)[0])
    1.0
    """
    x = np.clip(np.asarray(tau, dtype=float) / t_peak, 0.0, None)
    with np.errstate(divide="ignore"):
        out = np.where(x > 0, np.exp(shape * (np.log(np.where(x > 0, x, 1.0)) + 1.0 - x)), 0.0)
    return out


def dew_point_to_rh(temperature: float, dew_point: float) -> float:
    """Relative humidity (%) from temperature and dew point (Magnus formula).

    >>> round(dew_point_to_rh(20.0, 20.0), 1)
    100.0
    """
    def vapour(x: float) -> float:
        return math.exp(17.625 * x / (243.04 + x))

    return 100.0 * vapour(min(dew_point, temperature)) / vapour(temperature)


def do_saturation(temperature: float) -> float:
    """Dissolved-oxygen saturation (mg/L) in fresh water at sea level (Benson & Krause fit).

    >>> round(do_saturation(20.0), 1)
    9.1
    """
    t = temperature
    return 14.62 - 0.3898 * t + 0.006969 * t * t - 0.00005897 * t ** 3
