"""The one detector protocol, the findings detectors report, and the registry.

A detector watches one *stream*: a station, and for univariate detectors one of its quantities.
It speaks river's language — ``score_one(x)`` (higher = more anomalous) before ``learn_one(x)`` —
where ``x`` is the station's reading set in canonical units plus ``"t"``, the time in epoch seconds::

    x = {"t": 1795348800.0, "water_level": 2.61, "water_temperature": 11.2}

and then turns its score into a decision with ``level(score)``. ``evidence(x, score)`` is called
only when a warning is opened or changed, so it may be slow.

A new detector is one file, ``detectors/<name>.py``::

    class Params(BaseModel): ...

    @register("name", params=Params, hazard="flood")
    def make(station: Station, quantity: str | None, params: Params) -> Detector: ...

plus ``applies(station, params)`` (which streams of a station it watches with those parameters)
and its test; the core is not edited.
The detector keeps its state in the ``__slots__`` of a :class:`riverwatch.state.Slotted` subclass,
so checkpoints are versioned (the contract tests check it, nested helpers included).
:func:`registry` finds it by importing every top-level module of this package (subpackages such
as ``detectors.stats``, the shared statistics, hold no detectors and are not imported; importing
``base`` again is harmless), so there is no list of detectors, nor of modules that are not.

Examples
--------
>>> from detectors import registry
>>> "level_threshold" in registry()
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError

from riverwatch.catalog import Station
from riverwatch.errors import ConfigError
from riverwatch.plugins import import_plugins
from riverwatch.model import Level

X = Mapping[str, float]


@runtime_checkable
class Detector(Protocol):
    """What every detector instance offers the pipeline (river-compatible scoring)."""

    def score_one(self, x: X) -> float:
        """Score ``x`` before learning it; finite, higher means more anomalous."""

    def learn_one(self, x: X) -> None:
        """Update the detector's state with ``x``."""

    def level(self, score: float) -> Level:
        """The warning level this score calls for (``Level.NONE`` when quiet)."""

    def evidence(self, x: X, score: float) -> Finding:
        """Why: the quantity, value, threshold, forecast crossing time, … behind the level."""


@dataclass(frozen=True, slots=True)
class Finding:
    """The evidence a detector gives for its level; the warning lifecycle turns it into events.

    ``hazard`` groups findings into one warning per station (``flood``, ``water_quality``,
    ``weather``, ``anomaly``) or marks a sensor problem (``sensor``); ``expected_at`` is the
    forecast threshold crossing in epoch seconds.
    """

    detector: str
    hazard: str
    level: Level
    quantity: str
    value: float
    score: float
    threshold: float | None = None
    expected_at: float | None = None
    message_key: str = ""
    details: tuple[tuple[str, str], ...] = ()


Factory = Callable[[Station, "str | None", Any], Detector]
Applies = Callable[[Station, Any], "list[str | None]"]   # (station, parsed params) -> streams


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """A registered detector: its factory, parameter model, hazard and which streams it watches."""

    name: str
    factory: Factory
    params: type[BaseModel]
    hazard: str
    applies: Applies
    skip_checks: frozenset[str] = frozenset()

    def streams(self, station: Station, params: Mapping | BaseModel | None = None) -> list[str | None]:
        """The streams it watches at ``station`` with ``params`` (defaults when None).

        >>> get("rate_of_rise").streams(example_station(["water_level", "turbidity"]), {"quantities": ["water_level"]})
        ['water_level']
        """
        return self.applies(station, self.parse_params(params))

    def build(self, station: Station, quantity: str | None, params: Mapping | BaseModel | None = None
              ) -> Detector:
        """Create the detector for one stream, checking ``params`` against the parameter model."""
        return self.factory(station, quantity, self.parse_params(params))

    def parse_params(self, params: Mapping | BaseModel | None) -> BaseModel:
        """Validate parameters once, at start-up; the error names the detector and option."""
        if isinstance(params, self.params):
            return params
        try:
            return self.params.model_validate(dict(params or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConfigError(f"detector {self.name}: option {'.'.join(map(str, first['loc']))}: "
                              f"{first['msg']}") from None


_REGISTRY: dict[str, DetectorSpec] = {}


def all_quantities(station: Station, params: Any = None) -> list[str | None]:
    """Default ``applies``: one stream per quantity the station measures."""
    return list(station.quantities)


def register(name: str, *, params: type[BaseModel], hazard: str, applies: Applies = all_quantities,
             skip_checks: tuple[str, ...] = ()) -> Callable[[Factory], Factory]:
    """Register a detector factory under ``name`` (used as a decorator).

    ``skip_checks`` names contract checks this detector opts out of, visibly.
    """

    def decorate(factory: Factory) -> Factory:
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise ConfigError(f"detector {name!r} is registered twice")
        _REGISTRY[name] = DetectorSpec(name, factory, params, hazard, applies, frozenset(skip_checks))
        return factory

    return decorate


def registry() -> dict[str, DetectorSpec]:
    """Every registered detector, importing each ``detectors/<name>.py`` once."""
    import detectors

    import_plugins(detectors)
    return dict(_REGISTRY)


def get(name: str) -> DetectorSpec:
    """The registered detector called ``name``; ConfigError lists the known ones otherwise."""
    known = registry()
    if name not in known:
        raise ConfigError(f"unknown detector {name!r} (known: {', '.join(sorted(known))})")
    return known[name]


def example_station(quantities: Iterable[str] | Mapping[str, Mapping], *, kind: str = "river_gauge",
                    station_id: str = "example") -> Station:
    """A catalog station measuring ``quantities`` (names, or name → QuantitySpec fields), for
    examples and tests.

    >>> st = example_station({"water_level": {"levels": {"watch": 2.5}}, "discharge": {}})
    >>> st.quantities["water_level"].levels, st.kind
    ({'watch': 2.5}, 'river_gauge')
    """
    specs = dict(quantities) if isinstance(quantities, Mapping) else {q: {} for q in quantities}
    return Station(id=station_id, partner="example", kind=kind, name=station_id, lat=0.0, lon=0.0,
                   quantities=specs)
