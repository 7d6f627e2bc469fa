"""What a quantity warns of and at which levels: its hazard, its catalog thresholds, the level table.

Examples
--------
>>> hazard_for("discharge"), hazard_for("turbidity"), hazard_for("wind_speed"), hazard_for("battery")
('flood', 'water_quality', 'weather', 'sensor')
>>> LEVEL_OF[2] is Level.WATCH
True
"""

from __future__ import annotations

from riverwatch.model import Level

FLOOD_QUANTITIES = frozenset({"water_level", "discharge"})
WATER_QUALITY_QUANTITIES = frozenset({"turbidity", "conductivity", "ph", "redox", "chlorine",
                                      "dissolved_oxygen", "water_temperature"})
WEATHER_QUANTITIES = frozenset({"air_temperature", "dew_point", "relative_humidity", "air_pressure",
                                "wind_speed", "precipitation"})

LEVEL_ORDER = (Level.ADVISORY, Level.WATCH, Level.WARNING, Level.EMERGENCY)


class _LevelTable(dict):
    """``int -> Level`` without ``Level(i)``'s enum machinery; an unknown int raises as ``Level(i)``."""

    def __missing__(self, key):
        return Level(key)


#: ``LEVEL_OF[i] is Level(i)``, a dict lookup instead of an enum call on the hot path.
LEVEL_OF = _LevelTable({int(lvl): lvl for lvl in Level})


def hazard_for(quantity: str | None) -> str:
    """The hazard a threshold on ``quantity`` warns of: flood, water_quality, weather or sensor."""
    if quantity in FLOOD_QUANTITIES:
        return "flood"
    if quantity in WATER_QUALITY_QUANTITIES:
        return "water_quality"
    if quantity in WEATHER_QUANTITIES:
        return "weather"
    return "sensor"


def catalog_levels(spec) -> tuple[tuple[Level, float], ...]:
    """``(level, threshold)`` pairs of a QuantitySpec, least severe level first.

    >>> from riverwatch.catalog import QuantitySpec
    >>> catalog_levels(QuantitySpec(levels={"warning": 3.0, "watch": 2.5}))
    ((<Level.WATCH: 2>, 2.5), (<Level.WARNING: 3>, 3.0))
    """
    if spec is None:
        return ()
    return tuple((lvl, spec.levels[lvl.name.lower()]) for lvl in LEVEL_ORDER
                 if lvl.name.lower() in spec.levels)
