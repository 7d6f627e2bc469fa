"""hst and change_point: flag a level shift / outlier, stay quiet otherwise, re-learn after shifts."""

from __future__ import annotations

import random
from pathlib import Path

from detectors import get
from riverwatch.catalog import load_catalog
from riverwatch.model import Level
from tests.helpers import detector_levels

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "catalog" / "demo.toml")
GAUGE = CATALOG.station("rivertown", "gauge-hochtal")


def series(n, shift_at=None, seed=0):
    rng = random.Random(seed)
    return [1.2 + rng.gauss(0, 0.02) + (1.0 if shift_at is not None and i >= shift_at else 0.0)
            for i in range(n)]


def levels(det, values):
    return detector_levels(det, [(1.8e9 + i * 600.0, v) for i, v in enumerate(values)])


def test_change_point_fires_near_a_level_shift_only():
    out = levels(get("change_point").build(GAUGE, "water_level"), series(1200, shift_at=800))
    hits = [i for i, lvl in enumerate(out) if lvl]
    assert hits and 800 <= hits[0] < 830
    assert not [i for i in hits if i < 800]


def test_hst_flags_outlier_and_relearns_after_level_shift():
    det = get("hst").build(GAUGE, "water_level", {"window_size": 100, "warmup": 100})
    values = series(1500, shift_at=700)
    out = levels(det, values)
    assert any(out[700:720])                              # the shift is anomalous at first
    assert sum(1 for lvl in out[1100:] if lvl) <= 10      # and the new normal later is not
    assert det.level(det.score_one({"t": 1.9e9, "water_level": 9.0})) == Level.ADVISORY
