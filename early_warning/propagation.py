"""A flood travelling downstream: the evidence of the ``propagation`` watch that a warning at one
station raises at each station below it (the chain is :meth:`riverwatch.catalog.Catalog.downstream`).

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> cat = load_catalog("catalog/demo.toml")
>>> w = OpenWarning("rivertown", "gauge-hochtal", "flood", level=3)
>>> f = propagated_finding(w, cat.by_id("gauge-hochtal"), 7200.0, 1.8e9, Level.WATCH)
>>> f.detector, f.level.name, f.expected_at, dict(f.details)["travel_time_min"]
('propagation', 'WATCH', 1800007200.0, '120')
"""

from __future__ import annotations

from detectors.base import Finding
from early_warning.params import PROPAGATION
from early_warning.records import OpenWarning
from riverwatch.catalog import Station
from riverwatch.model import Level


def propagated_finding(w: OpenWarning, origin: Station | None, travel_s: float, t_s: float,
                       level: Level) -> Finding:
    """The finding of the ``level`` watch that ``w`` (at ``origin``) raises ``travel_s`` downstream,
    expected there at ``t_s + travel_s``; value and quantity come from ``w``'s driving stream."""
    src = w.streams.get(w.driver)
    f = src.finding if src is not None else None
    return Finding(PROPAGATION, w.hazard, Level(level),
                   f.quantity if f else "water_level", f.value if f else 0.0,
                   f.score if f else 0.0, f.threshold if f else None, t_s + travel_s,
                   f"{w.hazard}.upstream",
                   (("upstream", w.station), ("upstream_partner", w.partner),
                    ("upstream_name", origin.name if origin else w.station),
                    ("upstream_level", Level(w.level).name.lower()),
                    ("travel_time_min", f"{travel_s / 60.0:g}")))
