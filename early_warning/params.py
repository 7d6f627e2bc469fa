"""What the warning book is told and the names its feeders share: the lifecycle parameters, stream
names, a detector's hazard, and the order in which a station's streams are fed.

The parameters are the ``[lifecycle]`` settings (:class:`riverwatch.settings.LifecycleSettings`):
default times, hazard policy, and per-hazard times in ``[lifecycle.<hazard>]`` tables.

Examples
--------
>>> from riverwatch.settings import Settings
>>> params = lifecycle_params(Settings(lifecycle={"flood": {"clear_after_s": 3600}}))
>>> params.times("flood").clear_after_s, params.times("anomaly").clear_after_s
(3600.0, 1800.0)
"""

from __future__ import annotations

from typing import Callable, Iterable, TypeVar

from detectors.base import registry
from riverwatch.errors import ConfigError
from riverwatch.settings import LifecycleSettings, LifecycleTimes, Settings

T = TypeVar("T")

#: Parameters of the warning lifecycle: the ``[lifecycle]`` settings (defaults when built empty).
LifecycleParams = LifecycleSettings

#: Detector name of the warnings a flood upstream raises downstream.
PROPAGATION = "propagation"


def lifecycle_params(settings: Settings) -> LifecycleParams:
    """The ``lifecycle`` settings, checked once: every ``[lifecycle.<hazard>]`` table names a
    hazard some registered detector or the lifecycle policy knows.

    Raises
    ------
    ConfigError
        naming the option of an unknown hazard.
    """
    params = settings.lifecycle
    if not params.hazards:
        return params
    known = {spec.hazard for spec in registry().values()}
    known.update(*(getattr(params, k) for k in ("corroborate_hazards", "private_hazards",
                                                 "propagate_hazards", "hold_hazards")))
    for hazard in params.hazards:
        if hazard not in known:
            raise ConfigError(f"option lifecycle.{hazard}: no detector warns of hazard {hazard!r} "
                              f"(hazards: {', '.join(sorted(known))})")
    return params


def stream_id(detector: str, quantity: str | None) -> str:
    """The stream name the book expects: ``detector`` or ``detector:quantity``.

    >>> stream_id("level_threshold", "water_level"), stream_id("water_quality_event", None)
    ('level_threshold:water_level', 'water_quality_event')
    """
    return f"{detector}:{quantity}" if quantity else detector


def hazard_of(detector: object, default: str) -> str:
    """The hazard of a detector instance (``.hazard`` when it has one, e.g. level_threshold's
    quantity-dependent hazard), else the registered ``default``."""
    return getattr(detector, "hazard", None) or default


def sensor_streams_first(streams: Iterable[T], hazard: Callable[[T], str],
                         private: Iterable[str] = ("sensor",)) -> list[T]:
    """``streams`` in the order the warning book is fed: the ``private`` hazards' (sensor) first.

    The book holds back a warning resting only on quantities a sensor stream flags, and it can
    judge a reading's warning together with that reading's flag only when the flag comes first
    (see :mod:`early_warning.lifecycle`). Each group keeps its own order. The station stepper
    (:mod:`early_warning.stepper`) feeds the book in this order.

    >>> names = ["level_threshold:flood", "sensor_fault:sensor", "rate_of_rise:flood"]
    >>> sensor_streams_first(names, lambda s: s.split(":")[1])
    ['sensor_fault:sensor', 'level_threshold:flood', 'rate_of_rise:flood']
    """
    private = frozenset(private)
    return sorted(streams, key=lambda stream: hazard(stream) not in private)


__all__ = ["LifecycleParams", "LifecycleTimes", "PROPAGATION", "hazard_of", "lifecycle_params",
           "sensor_streams_first", "stream_id"]
