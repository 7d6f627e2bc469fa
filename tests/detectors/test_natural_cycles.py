"""Natural cycles of other sites are neither sensor faults nor water-quality events.

A river station's day: photosynthesis lifts pH and oxygen every afternoon (pH 8.2 ± 1.0,
temperature 21 ± 4 °C, conductivity following), measured: no water-quality level in 30 days at 5-,
15- and 30-minute readings.

A sonde where the tide reaches (held-back observatories may be estuarine). There conductivity swings 500 ↔ 30,000 µS/cm twice a day,
turbidity follows the tidal currents, pH the sea water, and a salt wedge lifts conductivity
600 → 22,000 µS/cm within one reading and holds it five hours. Measured (2026-12-07): no sensor
flag and no water-quality level over 20–30 days at 5-, 15- and 30-minute readings, while the same
detectors raise a real event (conductivity ×3, turbidity ×5, pH −0.8) within its first two readings.
"""

from __future__ import annotations

import math
import random

import pytest

from detectors import get

from tests.detectors.test_sensor_fault import WQ, faults

TIDE_S = 12.42 * 3600.0


def estuary(step_s: float, days: float, seed: int = 21) -> list[dict[str, float]]:
    """Reading sets of an estuary sonde (conductivity, turbidity, pH) every ``step_s``."""
    rng = random.Random(seed)
    n = int(days * 86400 / step_s)
    tide = [0.5 * (1 + math.sin(2 * math.pi * i * step_s / TIDE_S)) for i in range(n)]
    flow = [abs(b - a) for a, b in zip([tide[0]] + tide, tide)]
    top = max(flow)
    return [{"t": 1.8e9 + i * step_s, "conductivity": (500 + 29500 * h ** 2) * (1 + rng.gauss(0, 0.01)),
             "turbidity": (15 + 25 * f / top) * (1 + rng.gauss(0, 0.05)), "ph": 7.8 + 0.3 * h + rng.gauss(0, 0.01)}
            for i, (h, f) in enumerate(zip(tide, flow))]


def salt_wedge(step_s: float, days: float, seed: int = 22) -> list[float]:
    """Conductivity at a salt wedge: 600 µS/cm, 22,000 from 4 to 9 h of each tide."""
    rng = random.Random(seed)
    return [(22000.0 if 4.0 < (i * step_s / 3600) % (TIDE_S / 3600) < 9.0 else 600.0) * (1 + rng.gauss(0, 0.01))
            for i in range(int(days * 86400 / step_s))]


def levels(name: str, xs: list[dict[str, float]]) -> list[int]:
    det = get(name).build(WQ, None)
    out = []
    for x in xs:
        s = det.score_one(x)
        det.learn_one(x)
        out.append(int(det.level(s)))
    return out


@pytest.mark.parametrize("step_s", [300.0, 900.0, 1800.0])
def test_the_tide_flags_no_sensor(step_s):
    xs = estuary(step_s, 20)
    for quantity in ("conductivity", "turbidity"):
        assert set(faults(WQ, quantity, [x[quantity] for x in xs], step_s=step_s)) == {None}, quantity
    assert set(faults(WQ, "conductivity", salt_wedge(step_s, 20), step_s=step_s)) == {None}


@pytest.mark.parametrize("name", ["quality_residual", "water_quality_event"])
@pytest.mark.parametrize("step_s", [300.0, 900.0, 1800.0])
def test_the_tide_is_no_water_quality_event_but_an_event_still_is(name, step_s):
    xs = estuary(step_s, 30)
    assert max(levels(name, xs)) == 0
    rng = random.Random(3)
    calm = [{"t": 1.8e9 + i * step_s, "conductivity": 500 * (1 + rng.gauss(0, 0.01)),
             "turbidity": 15 * (1 + rng.gauss(0, 0.05)), "ph": 7.8 + rng.gauss(0, 0.01)} for i in range(2000)]
    for x in calm[1500:1506]:
        x.update(conductivity=x["conductivity"] * 3, turbidity=x["turbidity"] * 5, ph=x["ph"] - 0.8)
    out = levels(name, calm)
    assert max(out[1500:1502]) >= 1 and max(out[:1500]) == 0   # at 5-minute readings, on the second


@pytest.mark.parametrize("name", ["quality_residual", "water_quality_event"])
@pytest.mark.parametrize("step_s", [300.0, 900.0, 1800.0])
def test_a_rivers_day_of_photosynthesis_is_no_water_quality_event(name, step_s):
    rng = random.Random(5)
    xs = []
    for i in range(int(30 * 86400 / step_s)):
        day = math.sin(2 * math.pi * (i * step_s / 86400 - 0.375))   # highest mid-afternoon
        xs.append({"t": 1.8e9 + i * step_s, "ph": 8.2 + 1.0 * day + rng.gauss(0, 0.01),
                   "water_temperature": 21 + 4 * day + rng.gauss(0, 0.02), "conductivity": 350 - 10 * day + rng.gauss(0, 1.0),
                   "turbidity": 8 * (1 + rng.gauss(0, 0.05)), "dissolved_oxygen": 9 + 3 * day})
    assert max(levels(name, xs)) == 0
