"""Scenarios: scripted events over the catalog's stations, registered by name.

A scenario turns ``(catalog, start_s, duration_s, seed)`` into a :class:`ScenarioPlan`: the driver
series each station's simulator reads (rain, flood wave, plume), the sensor faults to inject, and
the scripted peak per station, so a demo or a test can compute warning lead times.

- ``storm``  rain at the weather stations; the catchment's unit-hydrograph response is a flood
  wave at each upstream gauge that reaches every gauge downstream exactly ``travel_time_min``
  later (a little flatter), scripted to peak between the gauge's warning and emergency levels.
- ``plume``  a contamination pulse at the upstream sonde (turbidity and conductivity up, pH and
  oxygen down together) reaching each downstream sonde ``travel_time_min`` later.
- ``faults`` one of each sensor fault: spike, stuck value, drift, dropout, clock skew (timestamps
  hours ahead), flat battery (values decay, then garbage).
- ``calm``   nothing happens.
- ``all``    storm + plume + a spike at a border gauge.

Events start at fixed offsets from ``start_s`` (rain 30 min in, plume 45 min in); fault windows
are fractions of ``duration_s``. :func:`scenario_duration` says how long a scenario needs.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.settings import REPO_ROOT
>>> catalog = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
>>> plan = build_scenario("storm", catalog, start_s=0.0, duration_s=10 * 3600)
>>> up, border = plan.peaks["gauge-hochtal"], plan.peaks["gauge-grenzbruecke"]
>>> (border.time_s - up.time_s) / 60
120.0
>>> border.level
'warning'
>>> sorted(scenarios())
['all', 'calm', 'faults', 'plume', 'storm']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

import numpy as np

from devices.signals import HOUR_S, Constant, Drivers, Series, gamma_pulse, station_rng
from riverwatch.catalog import Catalog, Station
from riverwatch.errors import ConfigError

GRID_S = 60.0
RAIN_ONSET_S = 30 * 60.0
PLUME_ONSET_S = 45 * 60.0
FAULT_KINDS = ("spike", "stuck", "drift", "dropout", "clock_skew", "flat_battery")
CLOCK_SKEW_S = 3 * HOUR_S

#: Size of an injected spike, in canonical units, per quantity.
SPIKE_SIZE = {"water_level": 3.0, "discharge": 200.0, "turbidity": 400.0, "conductivity": 3000.0,
              "ph": -3.0, "air_temperature": 25.0, "water_temperature": 15.0, "air_pressure": -60.0}
#: Total drift over a drift window, in canonical units, per quantity.
DRIFT_SIZE = {"conductivity": 700.0, "ph": -1.5, "water_level": 0.8, "turbidity": 60.0,
              "dissolved_oxygen": -4.0, "air_temperature": 6.0}


@dataclass(frozen=True, slots=True)
class Peak:
    """The scripted peak of an event at one station (value in the canonical unit, without noise).

    For ``precipitation`` the value is the peak rain *rate* in mm/h (what falls in a reading
    interval depends on the interval). ``level`` is the highest warning level the scripted value
    reaches ("" if none).
    """

    station: str
    quantity: str
    time_s: float
    value: float
    level: str = ""


@dataclass(frozen=True, slots=True)
class Fault:
    """A sensor fault injected into one station's messages.

    Parameters
    ----------
    station
        Station id.
    kind
        One of :data:`FAULT_KINDS`.
    quantity
        The affected quantity; None for all (dropout, clock skew, flat battery).
    start_s, end_s
        Window in simulated epoch seconds (a spike hits the first reading at or after ``start_s``).
    magnitude
        Spike size or total drift (canonical unit), or the clock skew in seconds.
    """

    station: str
    kind: str
    quantity: str | None
    start_s: float
    end_s: float
    magnitude: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r} is not one of {FAULT_KINDS}")


@dataclass(frozen=True)
class ScenarioPlan:
    """What a scenario scripts: drivers per station, faults, and the scripted peaks."""

    name: str
    start_s: float
    duration_s: float
    drivers: Mapping[str, Drivers] = field(default_factory=dict)
    faults: tuple[Fault, ...] = ()
    peaks: Mapping[str, Peak] = field(default_factory=dict)

    def drivers_for(self, station_id: str) -> Drivers:
        """The drivers of one station (empty when the scenario leaves it alone)."""
        return self.drivers.get(station_id, Drivers())

    def faults_for(self, station_id: str) -> tuple[Fault, ...]:
        """The faults injected at one station."""
        return tuple(f for f in self.faults if f.station == station_id)

    def peak_times(self) -> dict[str, float]:
        """Station id -> scripted peak time (epoch seconds)."""
        return {station: peak.time_s for station, peak in self.peaks.items()}

    @property
    def needed_s(self) -> float:
        """Simulated seconds from the start until every scripted event is over."""
        ends = [p.time_s + HOUR_S for p in self.peaks.values()] + [f.end_s for f in self.faults]
        return max([e - self.start_s for e in ends], default=0.0)

    def combined(self, other: "ScenarioPlan", name: str) -> "ScenarioPlan":
        """This plan and ``other`` together (drivers of the same name add up)."""
        drivers = dict(self.drivers)
        for station, extra in other.drivers.items():
            drivers[station] = drivers[station].merged(extra) if station in drivers else extra
        return ScenarioPlan(name, self.start_s, self.duration_s, drivers, self.faults + other.faults,
                            {**self.peaks, **other.peaks})


ScenarioFactory = Callable[[Catalog, float, float, int], ScenarioPlan]


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """A registered scenario: its name, factory and one-line description."""

    name: str
    factory: ScenarioFactory
    description: str


_SCENARIOS: dict[str, ScenarioSpec] = {}


def register_scenario(name: str, description: str) -> Callable[[ScenarioFactory], ScenarioFactory]:
    """Register a scenario factory ``(catalog, start_s, duration_s, seed) -> ScenarioPlan``."""

    def decorate(factory: ScenarioFactory) -> ScenarioFactory:
        _SCENARIOS[name] = ScenarioSpec(name, factory, description)
        return factory

    return decorate


def scenarios() -> dict[str, ScenarioSpec]:
    """Every registered scenario by name."""
    return dict(_SCENARIOS)


def build_scenario(name: str, catalog: Catalog, start_s: float, duration_s: float, seed: int = 0
                   ) -> ScenarioPlan:
    """The plan of scenario ``name``; ConfigError lists the known ones otherwise."""
    spec = _SCENARIOS.get(name)
    if spec is None:
        raise ConfigError(f"--scenario: unknown scenario {name!r} (known: {', '.join(sorted(_SCENARIOS))})")
    return spec.factory(catalog, float(start_s), float(duration_s), seed)


def scenario_duration(name: str, catalog: Catalog) -> float:
    """Simulated seconds scenario ``name`` needs for all its scripted events (at least one hour).

    >>> from riverwatch.catalog import load_catalog
    >>> from riverwatch.settings import REPO_ROOT
    >>> scenario_duration("calm", load_catalog(REPO_ROOT / "catalog" / "demo.toml"))
    3600.0
    """
    return max(HOUR_S, build_scenario(name, catalog, 0.0, HOUR_S).needed_s)


# --------------------------------------------------------------------------- river network


def chains(catalog: Catalog, kind: str) -> list[list[tuple[Station, float]]]:
    """Stations of ``kind`` along the river, head first, with the travel time (s) from the head.

    >>> from riverwatch.catalog import load_catalog
    >>> from riverwatch.settings import REPO_ROOT
    >>> [[(s.id, t / 60) for s, t in c] for c in chains(load_catalog(REPO_ROOT / "catalog/demo.toml"),
    ...                                                  "water_quality")]
    [[('wq-hochtal', 0.0), ('wq-lacville', 210.0)]]
    """
    members = [s for s in catalog.stations if s.kind == kind]
    has_upstream = {s.downstream for s in members if s.downstream}
    out = []
    for head in (s for s in members if s.id not in has_upstream):
        chain, offset, station = [], 0.0, head
        while station is not None and station.kind == kind and all(station is not s for s, _ in chain):
            chain.append((station, offset))
            if not station.downstream:
                break
            offset += 60.0 * (station.travel_time_min or 0.0)
            station = catalog.by_id(station.downstream)
        out.append(chain)
    return out


def _grid(start_s: float, span_s: float) -> np.ndarray:
    return start_s + GRID_S * np.arange(int(span_s / GRID_S) + 1)


def _route(head: Series, offset_s: float, dispersion: float) -> Series:
    """``head`` delayed by ``offset_s``, flattened by a Gaussian, peak exactly ``offset_s`` later."""
    values = np.asarray(head.values, dtype=float)
    sigma = dispersion * offset_s / GRID_S
    if sigma >= 1.0:
        half = int(4 * sigma)
        kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
        values = np.convolve(np.pad(values, half), kernel / kernel.sum(), mode="valid")
    values = values / values.max()
    head_peak, _ = head.peak()
    shifted_peak = head.t0 + int(np.argmax(values)) * head.dt
    return Series(head.t0 + (head_peak + offset_s - shifted_peak), head.dt, values)


def _target(station: Station, quantity: str, fallback: float, share: float = 0.35) -> float:
    """A peak value between the station's warning and emergency thresholds (``share`` of the way)."""
    spec = station.quantities.get(quantity)
    levels = spec.levels if spec else {}
    if "warning" not in levels:
        return fallback
    top = levels.get("emergency", levels["warning"] * 1.3)
    return levels["warning"] + share * (top - levels["warning"])


def _level(station: Station, quantity: str, value: float) -> str:
    spec = station.quantities.get(quantity)
    level = spec.level_for(value) if spec else None
    return level.name.lower() if level else ""


# --------------------------------------------------------------------------- scenarios


@register_scenario("calm", "nothing happens: baselines, diurnal cycles and noise only")
def calm(catalog: Catalog, start_s: float, duration_s: float, seed: int) -> ScenarioPlan:
    """No events."""
    return ScenarioPlan("calm", start_s, duration_s)


def _hyetograph(grid: np.ndarray, onset: float, rng: np.random.Generator) -> np.ndarray:
    """Rain rate (mm/h): a storm of ~2-3 h, 5-min cells of random strength, ~35 mm."""
    base = 15.0 * gamma_pulse(grid - onset, 45 * 60.0, 2.0)
    cells = np.exp(rng.normal(0.0, 0.3, size=len(grid) // 5 + 1)).repeat(5)[:len(grid)]
    return np.round(base * cells, 3)


@register_scenario("storm", "rain at the weather stations and a flood wave travelling down the gauges")
def storm(catalog: Catalog, start_s: float, duration_s: float, seed: int) -> ScenarioPlan:
    """Rain, then a flood wave routed down every gauge chain (see the module docstring)."""
    from devices.river_gauge import baseline_stage

    onset = start_s + RAIN_ONSET_S
    longest = max((c[-1][1] for c in chains(catalog, "river_gauge") if c), default=0.0)
    grid = _grid(start_s, max(duration_s, RAIN_ONSET_S + longest + 14 * HOUR_S))
    drivers: dict[str, Drivers] = {}
    peaks: dict[str, Peak] = {}
    weather = [s for s in catalog.stations if s.kind == "weather"]
    storm_intensity = Series(grid[0], GRID_S, gamma_pulse(grid - onset + 30 * 60, 75 * 60.0, 2.0))
    rains = []
    for station in weather:
        rain = _hyetograph(grid, onset, station_rng(seed, station.id, "storm"))
        rains.append(rain)
        series = Series(grid[0], GRID_S, rain)
        drivers[station.id] = Drivers({"rain_mm_h": series, "storm": storm_intensity})
        t, v = series.peak()
        peaks[station.id] = Peak(station.id, "precipitation", t, round(v, 2))  # rain rate, mm/h
    catchment = np.mean(rains, axis=0) if rains else _hyetograph(grid, onset, station_rng(seed, "storm"))
    unit_hydrograph = gamma_pulse(np.arange(0, 12 * HOUR_S, GRID_S), 150 * 60.0, 3.0)
    response = np.convolve(catchment, unit_hydrograph)[:len(grid)]
    head_wave = Series(grid[0], GRID_S, response / response.max())
    for chain in chains(catalog, "river_gauge"):
        for station, offset in chain:
            wave = head_wave if offset == 0 else _route(head_wave, offset, 0.15)
            peak_stage = _target(station, "water_level", baseline_stage(station) + 1.5)
            rise = peak_stage - baseline_stage(station)
            drivers[station.id] = Drivers({"stage_rise_m": Series(wave.t0, wave.dt, np.asarray(wave.values) * rise)})
            t, _ = wave.peak()
            peaks[station.id] = Peak(station.id, "water_level", t, round(peak_stage, 3),
                                     _level(station, "water_level", peak_stage))
    return ScenarioPlan("storm", start_s, duration_s, drivers, (), peaks)


@register_scenario("plume", "a contamination plume at the upstream sonde crossing the border downstream")
def plume(catalog: Catalog, start_s: float, duration_s: float, seed: int) -> ScenarioPlan:
    """A pollution pulse routed down every sonde chain."""
    onset = start_s + PLUME_ONSET_S
    longest = max((c[-1][1] for c in chains(catalog, "water_quality") if c), default=0.0)
    grid = _grid(start_s, max(duration_s, PLUME_ONSET_S + longest + 8 * HOUR_S))
    head_pulse = Series(grid[0], GRID_S, gamma_pulse(grid - onset, 40 * 60.0, 2.5))
    drivers: dict[str, Drivers] = {}
    peaks: dict[str, Peak] = {}
    for chain in chains(catalog, "water_quality"):
        for station, offset in chain:
            share = 0.35 if offset == 0 else 0.15  # diluted on the way, still past "warning"
            pulse = head_pulse if offset == 0 else _route(head_pulse, offset, 0.12)
            turbidity = _target(station, "turbidity", 150.0, share)
            conductivity = _target(station, "conductivity", 1800.0, share)
            drivers[station.id] = Drivers({
                "plume": pulse,
                "plume_turbidity_ntu": Constant(turbidity - 4.0),
                "plume_conductivity_us": Constant(conductivity - 450.0),
                "plume_ph_drop": Constant(1.2 if offset == 0 else 0.9)})
            t, _ = pulse.peak()
            peaks[station.id] = Peak(station.id, "turbidity", t, round(turbidity, 3),
                                     _level(station, "turbidity", turbidity))
    return ScenarioPlan("plume", start_s, duration_s, drivers, (), peaks)


def _pick(catalog: Catalog, kind: str, index: int) -> Station | None:
    members = [s for c in chains(catalog, kind) for s, _ in c]
    if not members:
        return None
    return members[min(index, len(members) - 1)] if index >= 0 else members[index]


def _window(start_s: float, duration_s: float, lo: float, hi: float) -> tuple[float, float]:
    return start_s + lo * duration_s, start_s + hi * duration_s


def fault_set(catalog: Catalog, start_s: float, duration_s: float, only: tuple[str, ...] = FAULT_KINDS
              ) -> tuple[Fault, ...]:
    """One fault of each kind in ``only``, each at its own station and time window."""
    faults = []
    recipes = {
        "spike": ("river_gauge", 1, "water_level", (0.2, 0.2)),
        "stuck": ("river_gauge", -1, "water_level", (0.3, 0.6)),
        "drift": ("water_quality", 0, "conductivity", (0.25, 1.0)),
        "dropout": ("weather", -1, None, (0.4, 0.6)),
        "clock_skew": ("weather", 0, None, (0.5, 0.7)),
        "flat_battery": ("water_quality", -1, None, (0.7, 1.0)),
    }
    for kind in only:
        station_kind, index, quantity, (lo, hi) = recipes[kind]
        station = _pick(catalog, station_kind, index)
        if station is None:
            continue
        if quantity is not None and quantity not in station.quantities:
            quantity = next(iter(station.quantities))
        magnitude = {"spike": SPIKE_SIZE.get(quantity or "", 10.0),
                     "drift": DRIFT_SIZE.get(quantity or "", 5.0),
                     "clock_skew": CLOCK_SKEW_S}.get(kind, 0.0)
        faults.append(Fault(station.id, kind, quantity, *_window(start_s, duration_s, lo, hi), magnitude))
    return tuple(faults)


@register_scenario("faults", "sensor faults: spike, stuck value, drift, dropout, clock skew, flat battery")
def faults(catalog: Catalog, start_s: float, duration_s: float, seed: int) -> ScenarioPlan:
    """Every fault kind once, staggered over the duration."""
    return ScenarioPlan("faults", start_s, duration_s, faults=fault_set(catalog, start_s, duration_s))


@register_scenario("all", "storm + plume + a spike at a border gauge")
def everything(catalog: Catalog, start_s: float, duration_s: float, seed: int) -> ScenarioPlan:
    """The demo: storm and plume together, plus one sensor fault."""
    plan = storm(catalog, start_s, duration_s, seed).combined(plume(catalog, start_s, duration_s, seed), "all")
    return replace(plan, faults=fault_set(catalog, start_s, duration_s, ("spike",)))


# --------------------------------------------------------------------------- fault injection


class FaultInjector:
    """Applies a station's faults to its readings, in time order.

    >>> inj = FaultInjector((Fault("s", "clock_skew", None, 0.0, 100.0, 3600.0),), seed=0)
    >>> inj.apply(50.0, {"ph": 7.0})
    (3650.0, {'ph': 7.0}, ('clock_skew',))
    >>> inj.apply(150.0, {"ph": 7.0})
    (150.0, {'ph': 7.0}, ())
    """

    def __init__(self, faults: tuple[Fault, ...], seed: int = 0) -> None:
        self.faults = faults
        self.rng = station_rng(seed, *(f.station for f in faults[:1]), "faults")
        self._spiked: set[int] = set()
        self._held: dict[tuple[int, str], float] = {}

    def apply(self, t: float, values: dict[str, float]
              ) -> tuple[float, dict[str, float], tuple[str, ...]] | None:
        """``(timestamp sent, values, active fault kinds)``, or None when the reading is lost."""
        sent, active = t, []
        values = dict(values)
        for i, fault in enumerate(self.faults):
            if fault.kind == "spike":
                if t >= fault.start_s and i not in self._spiked:
                    self._spiked.add(i)
                    values[fault.quantity] = values[fault.quantity] + fault.magnitude
                    active.append("spike")
                continue
            if not fault.start_s <= t < fault.end_s:
                continue
            active.append(fault.kind)
            if fault.kind == "dropout":
                return None
            if fault.kind == "clock_skew":
                sent = t + fault.magnitude
            elif fault.kind == "stuck":
                values[fault.quantity] = self._held.setdefault((i, fault.quantity), values[fault.quantity])
            elif fault.kind == "drift":
                values[fault.quantity] += fault.magnitude * (t - fault.start_s) / (fault.end_s - fault.start_s)
            elif fault.kind == "flat_battery":
                values = self._flat_battery(values, (t - fault.start_s) / (fault.end_s - fault.start_s))
        return sent, values, tuple(active)

    def _flat_battery(self, values: dict[str, float], progress: float) -> dict[str, float]:
        """Readings sag towards zero as the voltage falls, then the ADC returns garbage."""
        if progress < 0.6:
            factor = math.exp(-3.0 * progress / 0.6)
            return {q: v * factor for q, v in values.items()}
        garbage = (0.0, -999.9, 9999.9, 65535.0)
        return {q: float(garbage[int(self.rng.integers(len(garbage)))]) for q in values}

