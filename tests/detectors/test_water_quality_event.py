"""water_quality_event: several quantities moving together, not one noisy sensor."""

from __future__ import annotations

import random
from pathlib import Path

from detectors import get
from riverwatch.catalog import load_catalog
from riverwatch.model import Level

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "catalog" / "demo.toml")
WQ = CATALOG.station("lacville", "wq-lacville")


def run(plume_quantities, n=600, start=400, seed=0):
    det = get("water_quality_event").build(WQ, None)
    rng = random.Random(seed)
    levels, findings = [], []
    for i in range(n):
        x = {"t": 1.8e9 + i * 600.0, "turbidity": 4 + rng.gauss(0, 0.3),
             "conductivity": 450 + rng.gauss(0, 5),
             "ph": 7.6 + rng.gauss(0, 0.03), "dissolved_oxygen": 9 + rng.gauss(0, 0.1),
             "water_temperature": 12.0}
        if i >= start:
            shift = min(1.0, (i - start) / 6)
            x["turbidity"] += 60 * shift if "turbidity" in plume_quantities else 0
            x["conductivity"] += 400 * shift if "conductivity" in plume_quantities else 0
            x["ph"] -= 0.8 * shift if "ph" in plume_quantities else 0
        if "noisy" in plume_quantities and i >= start:
            x["turbidity"] = 4 + rng.gauss(0, 0.3) + (80 if i % 7 == 0 else 0)
        s = det.score_one(x)
        det.learn_one(x)
        levels.append(det.level(s))
        findings.append(det.evidence(x, s) if det.level(s) else None)
    return levels, findings


def test_applies_once_per_water_quality_station():
    spec = get("water_quality_event")
    assert spec.applies(WQ) == [None]
    assert spec.applies(CATALOG.station("rivertown", "gauge-hochtal")) == []


def test_three_quantities_moving_together_fire():
    levels, findings = run({"turbidity", "conductivity", "ph"})
    assert max(levels[:400]) == Level.NONE
    assert max(levels[400:420]) >= Level.WATCH
    f = next(f for f in findings if f is not None)
    assert f.hazard == "water_quality"
    assert set(dict(f.details)["quantities"].split(",")) >= {"turbidity", "conductivity", "ph"}


def test_one_noisy_sensor_does_not_fire():
    levels, _ = run({"noisy"})
    assert max(levels) == Level.NONE
    levels, _ = run({"turbidity"})
    assert max(levels) == Level.NONE
