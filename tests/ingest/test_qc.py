"""QC flags: gross range, rate of change, flat line."""

from __future__ import annotations

from riverwatch.catalog import load_catalog
from riverwatch.model import QC, Observation
from riverwatch.settings import REPO_ROOT

from ingest.qc import QualityControl

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
GAUGE = ("rivertown", "gauge-hochtal")
WX = ("rivertown", "wx-rivertown")


def test_gross_range_fails_outside_plausible():
    qc = QualityControl(CATALOG)
    assert qc.check(GAUGE, "water_level", 0.0, 1.0) is QC.PASS
    assert qc.check(GAUGE, "water_level", 600.0, 9999.0) is QC.FAIL     # a logger's "no data"
    assert qc.check(GAUGE, "water_level", 1200.0, -9999.0) is QC.FAIL
    # a failed value does not become the reference for the next rate check
    assert qc.check(GAUGE, "water_level", 1800.0, 1.01) is QC.PASS


def test_a_level_reported_above_sea_level_passes():
    # many agencies publish water level on a height datum, not the gauge's zero (before: the
    # plausible range ended at 100 m, so every reading of such a gauge failed)
    qc = QualityControl(CATALOG)
    for i, level in enumerate((245.31, 245.32, 245.30)):
        assert qc.check(GAUGE, "water_level", 900.0 * i, level) is QC.PASS
    below_sea_level = QualityControl(CATALOG)                            # the Caspian's shore
    assert below_sea_level.check(GAUGE, "water_level", 0.0, -28.4) is QC.PASS


def test_rate_of_change_is_suspect():
    qc = QualityControl(CATALOG)  # max 1.5 m/h at gauge-hochtal
    assert qc.check(GAUGE, "water_level", 0.0, 1.0) is QC.PASS
    assert qc.check(GAUGE, "water_level", 3600.0, 2.4) is QC.PASS      # 1.4 m in an hour
    assert qc.check(GAUGE, "water_level", 3660.0, 2.9) is QC.SUSPECT   # 0.5 m in a minute
    assert qc.check(GAUGE, "discharge", 0.0, 1.0) is QC.PASS            # no rate limit configured
    assert qc.check(GAUGE, "discharge", 60.0, 900.0) is QC.PASS


def test_a_flat_line_is_suspect_once_it_lasts_both_the_readings_and_three_hours_and_never_fails():
    qc = QualityControl(CATALOG)
    stuck_after = CATALOG.station(*GAUGE).quantities["water_level"].stuck_after
    quarter_hourly = [qc.check(GAUGE, "water_level", 900.0 * i, 1.5) for i in range(200)]   # 50 h
    assert quarter_hourly[: stuck_after] == [QC.PASS] * stuck_after                # 12 readings: 2.75 h
    assert quarter_hourly[stuck_after] is QC.SUSPECT                               # 3 h
    assert set(quarter_hourly[stuck_after:]) == {QC.SUSPECT}                       # never FAIL
    assert qc.check(GAUGE, "water_level", 900.0 * 200, 1.51) is QC.PASS            # moving again


def test_a_gauge_read_every_minute_holding_a_value_for_an_hour_is_not_suspect():
    """At 1 cm and a reading a minute, a steady river repeats its value for tens of readings: 24 of
    them (24 min) failed it, and a failed reading never reaches the detectors."""
    qc = QualityControl(CATALOG)
    flags = [qc.check(GAUGE, "water_level", 60.0 * i, 1.5 + 0.01 * (i // 60)) for i in range(6 * 60)]
    assert set(flags) == {QC.PASS}


def test_a_checkpoint_from_before_the_flat_line_duration_restores():
    qc = QualityControl(CATALOG)
    stream = qc.stream(GAUGE, "water_level")
    for i in range(5):
        qc.check(GAUGE, "water_level", 900.0 * i, 1.5)
    state = stream.__getstate__()
    old = (state[0], {k: v for k, v in state[1].items() if k != "same_since"})
    restored = type(stream).__new__(type(stream))
    restored.__setstate__(old)
    assert restored.same_since == 900.0 * 4 and restored.check(900.0 * 5, 1.5) is QC.PASS


def test_no_rain_for_hours_is_not_stuck():
    qc = QualityControl(CATALOG)
    assert {qc.check(WX, "precipitation", 600.0 * i, 0.0) for i in range(100)} == {QC.PASS}


def test_late_reading_gets_range_test_only():
    qc = QualityControl(CATALOG)
    qc.check(GAUGE, "water_level", 3600.0, 1.0)
    assert qc.check(GAUGE, "water_level", 60.0, 3.0) is QC.PASS
    assert qc.check(GAUGE, "water_level", 3660.0, 1.01) is QC.PASS


def test_readings_carry_their_flags():
    qc = QualityControl(CATALOG)
    obs = Observation("rivertown", "gauge-hochtal", 10**18, 4, (("water_level", 1.0), ("discharge", -5.0)))
    assert [(r.quantity, r.qc) for r in qc.readings(obs)] == [("water_level", QC.PASS), ("discharge", QC.FAIL)]
    assert qc.suspect_stations() == {GAUGE}
