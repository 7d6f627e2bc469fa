"""Storage rows → timeline: crossings and peaks come from the river, not from a faulty sensor."""

from __future__ import annotations

from riverwatch.catalog import load_catalog
from riverwatch.settings import REPO_ROOT

from application.review.query import station_rows
from application.review.timeline import Timeline

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
MIN = 60_000_000_000


def test_a_spike_the_sensor_fault_detector_flagged_is_neither_a_crossing_nor_the_peak():
    """The demo's storm: a 4.47 m spike on a 1.5 m river (QC suspect, sensor_fault flagging the
    reading after it) had counted as an emergency crossing and the peak, so the real warning looked
    69 min late."""
    levels = [1.5, 1.5, 4.466, 1.5, 2.0, 2.5, 2.8, 3.3, 3.5, 3.3]  # Grenzbrücke: warning 3.2 m, emergency 4.0 m
    key = {"partner": "rivertown", "station": "gauge-grenzbruecke", "quantity": "water_level"}
    readings = [{**key, "time": i * 15 * MIN, "value": v, "qc": 3 if v > 4 else 1} for i, v in enumerate(levels)]
    # the detector flags the spike when the sensor comes back: on the reading after it
    scores = [{**key, "time": i * 15 * MIN, "sensor_fault_level": int(i == 3)} for i in range(len(levels))]
    rows = station_rows(CATALOG, readings, scores, Timeline(0, 10**18))
    crossed = {r.level: r for r in rows if r.kind == "crossing"}
    assert "emergency" not in crossed and crossed["warning"].value == 3.3
    (top,) = [r for r in rows if r.kind == "peak"]
    assert (top.value, top.level, top.time_ns) == (3.5, "warning", 8 * 15 * MIN)
