"""Quantities and units: one canonical unit per quantity, affine conversions from the others.

Devices may send any unit listed for a quantity; ingest converts to the canonical unit once, with
a factor looked up once per (quantity, unit) pair and cached, not parsed per reading.

Examples
--------
>>> to_canonical("water_level", 10.0, "ft")
3.048
>>> round(to_canonical("discharge", 1000.0, "cfs"), 3)
28.317
>>> to_canonical("air_temperature", 212.0, "degF")
100.0
>>> canonical_unit("conductivity")
'uS/cm'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from riverwatch.errors import DecodeError


@dataclass(frozen=True, slots=True)
class Quantity:
    """A measured quantity, its canonical unit and what else devices may send.

    Parameters
    ----------
    name
        Wire name, e.g. ``"water_level"``.
    unit
        Canonical unit stored in InfluxDB.
    units
        Accepted units mapped to ``(scale, offset)``: ``canonical = value * scale + offset``.
    plausible
        Physically possible range in the canonical unit (QARTOD gross range, "fail" outside).
    label
        Human-readable name for dashboards.
    """

    name: str
    unit: str
    units: dict[str, tuple[float, float]]
    plausible: tuple[float, float]
    label: str

    def __post_init__(self) -> None:
        if self.units.get(self.unit) != (1.0, 0.0):
            raise ValueError(f"{self.name}: canonical unit {self.unit!r} must map to (1.0, 0.0)")
        if not self.plausible[0] < self.plausible[1]:
            raise ValueError(f"{self.name}: plausible range {self.plausible} is empty")


_FT = 0.3048
_CELSIUS = {"degC": (1.0, 0.0), "°C": (1.0, 0.0), "C": (1.0, 0.0), "Cel": (1.0, 0.0), "K": (1.0, -273.15),
            "degF": (5 / 9, -32 * 5 / 9), "°F": (5 / 9, -32 * 5 / 9), "F": (5 / 9, -32 * 5 / 9)}

QUANTITIES: dict[str, Quantity] = {q.name: q for q in (
    Quantity("water_level", "m", {"m": (1.0, 0.0), "cm": (0.01, 0.0), "mm": (0.001, 0.0),
                                  "ft": (_FT, 0.0)}, (-450.0, 6500.0), "River stage"),
    Quantity("discharge", "m3/s", {"m3/s": (1.0, 0.0), "m^3/s": (1.0, 0.0), "L/s": (0.001, 0.0), "l/s": (0.001, 0.0),
                                   "cfs": (_FT ** 3, 0.0), "ft3/s": (_FT ** 3, 0.0)},
             (0.0, 1.0e6), "Discharge"),
    Quantity("water_temperature", "degC", dict(_CELSIUS), (-5.0, 50.0), "Water temperature"),
    Quantity("air_temperature", "degC", dict(_CELSIUS), (-80.0, 60.0), "Air temperature"),
    Quantity("dew_point", "degC", dict(_CELSIUS), (-90.0, 40.0), "Dew point"),
    Quantity("relative_humidity", "%", {"%": (1.0, 0.0), "%RH": (1.0, 0.0), "1": (100.0, 0.0)}, (0.0, 100.0),
             "Relative humidity"),
    Quantity("air_pressure", "hPa", {"hPa": (1.0, 0.0), "mbar": (1.0, 0.0), "Pa": (0.01, 0.0),
                                     "kPa": (10.0, 0.0), "inHg": (33.8639, 0.0)},
             (850.0, 1090.0), "Air pressure"),
    Quantity("wind_speed", "m/s", {"m/s": (1.0, 0.0), "km/h": (1 / 3.6, 0.0),
                                   "kn": (0.514444, 0.0), "mph": (0.44704, 0.0)},
             (0.0, 110.0), "Wind speed"),
    Quantity("precipitation", "mm", {"mm": (1.0, 0.0), "in": (25.4, 0.0)}, (0.0, 500.0),
             "Precipitation in the interval"),
    Quantity("turbidity", "NTU", {"NTU": (1.0, 0.0), "FNU": (1.0, 0.0)}, (0.0, 4000.0),
             "Turbidity"),
    Quantity("conductivity", "uS/cm", {"uS/cm": (1.0, 0.0), "µS/cm": (1.0, 0.0),
                                       "mS/cm": (1000.0, 0.0), "S/m": (10000.0, 0.0)},
             (0.0, 200000.0), "Specific conductance"),
    Quantity("ph", "pH", {"pH": (1.0, 0.0), "1": (1.0, 0.0)}, (0.0, 14.0), "pH"),
    Quantity("redox", "mV", {"mV": (1.0, 0.0), "V": (1000.0, 0.0)}, (-2000.0, 2000.0),
             "Redox potential"),
    Quantity("chlorine", "mg/L", {"mg/L": (1.0, 0.0), "ppm": (1.0, 0.0)}, (0.0, 20.0),
             "Free chlorine"),
    Quantity("dissolved_oxygen", "mg/L", {"mg/L": (1.0, 0.0), "ppm": (1.0, 0.0)}, (0.0, 25.0),
             "Dissolved oxygen"),
    Quantity("battery", "V", {"V": (1.0, 0.0), "mV": (0.001, 0.0)}, (0.0, 60.0),
             "Battery voltage"),
)}


def canonical_unit(quantity: str) -> str:
    """Return the canonical unit of ``quantity``.

    Raises
    ------
    DecodeError
        ``unknown_quantity`` when riverwatch does not know the quantity.
    """
    try:
        return QUANTITIES[quantity].unit
    except KeyError:
        raise DecodeError("unknown_quantity", f"quantity {quantity!r} is not in the contract") from None


@lru_cache(maxsize=4096)
def conversion(quantity: str, unit: str) -> tuple[float, float]:
    """Return ``(scale, offset)`` turning ``unit`` into the canonical unit (cached per pair).

    Examples
    --------
    >>> conversion("water_level", "cm")
    (0.01, 0.0)
    """
    spec = QUANTITIES.get(quantity)
    if spec is None:
        raise DecodeError("unknown_quantity", f"quantity {quantity!r} is not in the contract")
    factor = spec.units.get(unit)
    if factor is None:
        raise DecodeError("unknown_unit", f"unit {unit!r} is not accepted for {quantity} "
                                          f"(use one of {', '.join(spec.units)})")
    return factor


def to_canonical(quantity: str, value: float, unit: str) -> float:
    """Convert one value of ``quantity`` from ``unit`` to the canonical unit."""
    scale, offset = conversion(quantity, unit)
    return round(value * scale + offset, 12)
