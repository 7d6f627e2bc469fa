"""Unit conversion to canonical units."""

import pytest

from riverwatch.errors import DecodeError
from riverwatch.units import QUANTITIES, canonical_unit, conversion, to_canonical


@pytest.mark.parametrize("quantity, value, unit, expected", [
    ("water_level", 250.0, "cm", 2.5),
    ("water_level", 1.0, "ft", 0.3048),
    ("discharge", 1.0, "cfs", 0.028316846592),
    ("discharge", 1500.0, "L/s", 1.5),
    ("water_temperature", 32.0, "degF", 0.0),
    ("water_temperature", 273.15, "K", 0.0),
    ("conductivity", 1.2, "mS/cm", 1200.0),
    ("air_pressure", 101325.0, "Pa", 1013.25),
    ("wind_speed", 36.0, "km/h", 10.0),
    ("precipitation", 1.0, "in", 25.4),
    ("relative_humidity", 0.5, "1", 50.0),
])
def test_conversions(quantity, value, unit, expected):
    assert to_canonical(quantity, value, unit) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_every_canonical_unit_is_identity():
    for name, quantity in QUANTITIES.items():
        assert conversion(name, canonical_unit(name)) == (1.0, 0.0)
        low, high = quantity.plausible
        assert low < high


@pytest.mark.parametrize("quantity, unit, reason", [("stage", "m", "unknown_quantity"), ("water_level", "furlong", "unknown_unit")])
def test_unknown_quantity_or_unit(quantity, unit, reason):
    with pytest.raises(DecodeError) as err:
        conversion(quantity, unit)
    assert err.value.reason == reason
