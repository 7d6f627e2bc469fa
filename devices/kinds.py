"""The sensor-kind registry: one file per kind (``devices/<kind>.py``), registered with a decorator.

A kind says which quantities its device sends and in which unit (deliberately not always the
canonical one, so ingest's conversion is exercised), gives an example payload, and provides a
:class:`Simulator` that produces canonical values at simulated times::

    @register_kind("river_gauge", sends={"water_level": ("cm", 1), ...},
                   example={"water_level": 1.25, ...})
    class RiverGaugeSimulator(Simulator):
        def sample(self, t: float) -> dict[str, float]: ...

Adding a kind is that one file plus its test; the core is not edited.

Examples
--------
>>> kind = get_kind("river_gauge")
>>> kind.sends["water_level"].unit
'cm'
>>> from riverwatch.contract import decode_payload
>>> decode_payload(kind.example_payload()).seq
1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, Mapping

from riverwatch.catalog import Station
from riverwatch.contract import encode_json
from riverwatch.errors import ConfigError
from riverwatch.plugins import import_plugins
from riverwatch.units import conversion

from devices.signals import Drivers

EXAMPLE_TIME_S = 1_795_348_800.0  # 2026-11-22T12:00:00Z


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """The unit a simulated device sends a quantity in, and how many decimals it reports."""

    unit: str
    decimals: int


class Simulator:
    """Base of every simulator: one instance per station, sampled at increasing simulated times.

    Parameters
    ----------
    station
        The catalogued station it stands for.
    seed
        Seed; the same seed and the same sample times give the same series.
    interval_s
        Simulated seconds between two readings (accumulating quantities such as precipitation
        report the total over the interval).
    drivers
        External forcings from a scenario (rain, flood wave, plume), see :class:`Drivers`.
    """

    kind: ClassVar[str] = ""

    def __init__(self, station: Station, seed: int = 0, interval_s: float = 60.0,
                 drivers: Drivers | None = None) -> None:
        self.station = station
        self.seed = seed
        self.interval_s = float(interval_s)
        self.drivers = drivers or Drivers()

    def sample(self, t: float) -> dict[str, float]:
        """Canonical values of every quantity the kind simulates, at simulated time ``t``."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class SensorKind:
    """A registered sensor kind.

    Parameters
    ----------
    name
        The ``kind`` used in the station catalog.
    sends
        Quantity -> :class:`UnitSpec`, what the simulated device puts on the wire.
    simulator
        The :class:`Simulator` subclass.
    example
        Quantity -> canonical value for :meth:`example_payload` (and the docs).
    skip_checks
        Contract checks this kind opts out of, by name (visible in the contract test).
    """

    name: str
    sends: Mapping[str, UnitSpec]
    simulator: type[Simulator]
    example: Mapping[str, float]
    skip_checks: frozenset[str] = frozenset()

    def to_device_units(self, values: Mapping[str, float]) -> dict[str, tuple[float, str]]:
        """Canonical values -> ``{quantity: (value in the device's unit, unit)}``, rounded.

        Quantities the kind does not send are left out.
        """
        out = {}
        for quantity, value in values.items():
            spec = self.sends.get(quantity)
            if spec is None:
                continue
            scale, offset = conversion(quantity, spec.unit)
            out[quantity] = (round((value - offset) / scale, spec.decimals), spec.unit)
        return out

    def example_payload(self, time_s: float = EXAMPLE_TIME_S, seq: int = 1) -> bytes:
        """A valid v1 JSON payload of this kind, in the units the device sends."""
        return encode_json(time_s, seq, self.to_device_units(self.example))

    def build(self, station: Station, seed: int = 0, interval_s: float = 60.0,
              drivers: Drivers | None = None) -> Simulator:
        """A simulator for ``station``."""
        return self.simulator(station, seed=seed, interval_s=interval_s, drivers=drivers)


_KINDS: dict[str, SensorKind] = {}

#: Modules in ``devices/`` that are infrastructure, not sensor kinds.
_NOT_KINDS = {"kinds", "signals", "scenarios", "publisher", "simulate", "cli"}


def register_kind(name: str, *, sends: Mapping[str, tuple[str, int]], example: Mapping[str, float],
                  skip_checks: tuple[str, ...] = ()) -> Callable[[type[Simulator]], type[Simulator]]:
    """Register a simulator class as sensor kind ``name`` (used as a class decorator)."""

    def decorate(cls: type[Simulator]) -> type[Simulator]:
        if name in _KINDS and _KINDS[name].simulator is not cls:
            raise ConfigError(f"sensor kind {name!r} is registered twice")
        cls.kind = name
        units = {q: UnitSpec(*spec) for q, spec in sends.items()}
        for quantity, spec in units.items():
            conversion(quantity, spec.unit)  # fails now, naming the quantity, if the unit is unknown
        _KINDS[name] = SensorKind(name, units, cls, dict(example), frozenset(skip_checks))
        return cls

    return decorate


def kinds() -> dict[str, SensorKind]:
    """Every registered sensor kind, importing each ``devices/<kind>.py`` once."""
    import devices

    import_plugins(devices, _NOT_KINDS)
    return dict(_KINDS)


def get_kind(name: str) -> SensorKind:
    """The kind called ``name``; ConfigError lists the known ones otherwise."""
    known = kinds()
    if name not in known:
        raise ConfigError(f"unknown sensor kind {name!r} (known: {', '.join(sorted(known))})")
    return known[name]
