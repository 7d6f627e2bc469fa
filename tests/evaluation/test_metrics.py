"""Event-level warning metrics."""

import pytest

from evaluation.datasets import Event
from evaluation.metrics import (HISTORY_KEYS, WarningSpan, combine_history, event_metrics, history_metrics,
                                        match_events, match_warnings)

HOUR = 3600.0


def test_lead_time_relative_to_reference():
    ev = Event(10 * HOUR, 12 * HOUR, 9 * HOUR)  # reference (e.g. first crossing) before the window
    leads, false = match_events([ev], [7 * HOUR, 11 * HOUR], lead_window=4 * HOUR)
    assert leads == [2 * HOUR] and false == 0


def test_precision_recall_f1_and_false_rate():
    events = [Event(100.0, 200.0, 100.0), Event(1000.0, 1100.0, 1000.0)]
    m = event_metrics([(events, [150.0, 160.0, 5000.0], 2.0, False)], lead_window=0.0)
    assert (m.events, m.detected, m.false_warnings, m.warnings) == (2, 1, 1, 3)
    assert m.precision == 0.5 and m.recall == 0.5 and m.f1 == pytest.approx(0.5)
    assert m.false_warnings_per_day == 0.5
    assert m.lead_time_median_minutes == pytest.approx(-50 / 60)


def test_quiet_period_warnings_are_false_and_counted():
    m = event_metrics([((), [10.0, 20.0], 1.0, True), ((Event(0, 10, 0),), [5.0], 1.0, False)], 0.0)
    assert m.quiet_warnings == 2 and m.false_warnings == 2 and m.recall == 1.0


def test_undefined_figures_are_none():
    m = event_metrics([((), [], 1.0, True)], 0.0)
    assert m.precision is None and m.recall is None and m.f1 is None
    assert m.lead_time_median_minutes is None and m.false_warnings_per_day == 0.0


def test_p10_lead_time():
    events = [Event(k * 1e5, k * 1e5 + 100, k * 1e5) for k in range(1, 11)]
    warnings = [k * 1e5 - 60.0 * k for k in range(1, 11)]  # leads 1..10 minutes
    m = event_metrics([(events, warnings, 1.0, False)], lead_window=3600.0)
    assert m.lead_time_median_minutes == pytest.approx(5.5)
    assert m.lead_time_p10_minutes == pytest.approx(1.9)


def test_a_warning_counts_for_one_wave_only():
    waves = [Event(100.0, 200.0, 100.0), Event(250.0, 300.0, 250.0)]
    leads, false = match_events(waves, [90.0], lead_window=1000.0)
    assert leads == [10.0, None] and false == 0


def fixture_module():
    """test_datasets.py, for its synthetic USGS folder writer (tests have no package to import from)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("datasets_fixture", Path(__file__).with_name("test_datasets.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rain_precursor_on_a_tiny_folder(tmp_path):
    from evaluation import datasets
    from evaluation.metrics import rain_precursor, utc
    from evaluation.replay import replay

    fx = fixture_module()
    series = datasets.load("usgs", fx.write_usgs_with_weather(tmp_path))
    gauges = [s for s in series if not datasets.is_weather(s)]
    rain = [(s, replay(s, ["rainfall"]).levels) for s in series if datasets.is_weather(s)]
    p = rain_precursor(gauges, rain)
    events = {e["event"]: e for e in p["events"]}
    flood = events["flood"]
    # 12 mm in hour 26 and 12 in hour 27: 1 h sum ≥ 10 mm twice (persistence 2) -> advisory at 27
    assert flood["first_rain_warning_utc"] == utc(datasets.parse_time(fx.hour(27)))
    assert flood["first_rain_warning_level"] == "ADVISORY" and flood["first_rain_warning_station"] == "weather-WX1"
    assert flood["earliest_crossing_utc"] == utc(datasets.parse_time(fx.hour(31)))
    assert flood["rain_lead_minutes"] == 240.0
    assert flood["rain_warnings"] == 1 and flood["waves_with_rain_warning_24h"] == 1
    assert events["quiet"]["quiet"] and events["quiet"]["rain_warnings"] == 1
    assert events["quiet"]["earliest_crossing_utc"] is None and events["quiet"]["rain_lead_minutes"] is None
    dry = events["dry"]                                     # a wave, but no rain record: not counted
    assert dry["weather_stations"] == [] and dry["waves"] == 1 and dry["waves_with_weather"] == 0
    assert (p["waves"], p["waves_with_weather"], p["waves_with_rain_warning_24h"]) == (2, 1, 1)
    assert (p["rain_warnings"], p["quiet_rain_warnings"]) == (2, 1)
    assert [w["rain_warning_24h"] for w in p["wave_detail"]] == [None, True]


def test_rain_precursor_window_and_unreported_rain():
    import numpy as np

    from evaluation.datasets import Series, synthetic_station
    from evaluation.metrics import rain_precursor

    t = np.arange(0.0, 60 * HOUR, HOUR)
    waves = (Event(30 * HOUR, 31 * HOUR, 30 * HOUR), Event(58 * HOUR, 59 * HOUR, 58 * HOUR))
    gauge = Series("g.csv", "ev", synthetic_station("g", ["water_level"]), t, {"water_level": np.zeros(60)}, waves)
    mm = np.zeros(60)
    mm[33:] = np.nan                                        # rain unreported after hour 33
    levels = np.zeros(60, dtype=int)
    levels[3:8] = 1                                         # raised 27 h before the first wave: too early
    levels[20:] = 2                                         # raised 10 h before it
    levels[29:] = 3                                         # escalated an hour before it
    wx = Series("w.csv", "ev", synthetic_station("w", ["precipitation"], kind="weather"), t, {"precipitation": mm})
    p = rain_precursor([gauge], [(wx, levels)])
    first, second = p["wave_detail"]
    assert first["rain_warning_24h"] and first["rain_lead_minutes"] == 600.0
    assert second["rain_warning_24h"] is None               # no reported hour in its 24 h: unknown
    e = p["events"][0]
    assert (e["rain_warnings"], e["rain_escalations"], e["highest_rain_level"]) == (2, 1, "WARNING")
    assert e["rain_lead_minutes"] == 27 * 60.0 and e["first_rain_warning_level"] == "ADVISORY"
    assert (p["waves"], p["waves_with_weather"], p["waves_with_rain_warning_24h"]) == (2, 1, 1)


# --- history: candidate warnings against production's ---------------------------------------------

def span(wid, raised, ended=None, hazard="flood", public=True):
    return WarningSpan(wid, hazard, raised, ended, 2, public)


def test_history_pairs_each_candidate_once():
    production = [span("p1", 1000.0, 2000.0), span("p2", 5000.0, 6000.0)]
    candidate = [span("c1", 800.0, 9000.0)]              # open across both: it can stand for one only
    h = history_metrics(production, candidate, window_s=0.0)
    assert [h[k] for k in HISTORY_KEYS] == [2, 1, 1, 3.3, 0, 1]
    assert [row["candidate_id"] for row in h["pairs"]] == ["c1", None]


def test_the_window_reaches_back_but_not_past_the_previous_warning():
    production = [span("p1", 1000.0, 2000.0), span("p2", 5000.0, 6000.0)]
    early = [span("c1", 1500.0, 1900.0), span("c2", 2500.0, 2600.0)]   # c2 ended 40 min before p2
    pairs, extra = match_warnings(production, early, window_s=3600.0)
    assert [(p.id, c and c.id) for p, c in pairs] == [("p1", "c1"), ("p2", "c2")] and extra == []
    pairs, extra = match_warnings(production, early, window_s=600.0)
    assert pairs[1][1] is None and [w.id for w in extra] == ["c2"]
    late = [span("c3", 1900.0, 2100.0)]                  # raised inside p1: not p2's early warning
    pairs, _ = match_warnings(production, late, window_s=86400.0)
    assert [(p.id, c and c.id) for p, c in pairs] == [("p1", "c3"), ("p2", None)]


def test_hazards_are_matched_apart_and_later_is_negative():
    production = [span("p1", 1000.0, 2000.0, "flood")]
    candidate = [span("c1", 1000.0, 2000.0, "weather"), span("c2", 1600.0, None, "flood", public=False)]
    h = history_metrics(production, candidate, window_s=0.0)
    assert (h["matched"], h["extra"], h["earlier_minutes"], h["public_differs"]) == (1, 1, [-10.0], 1)


def test_no_warnings_on_either_side():
    h = history_metrics([], [], window_s=0.0)
    assert [h[k] for k in HISTORY_KEYS] == [0, 0, 0, None, 0, 0]
    assert combine_history([h, h])["earlier_minutes_median"] is None


def test_flood_warnings_count_only_when_open_or_recent_at_the_crossing():
    from evaluation.datasets import Event
    from evaluation.metrics import event_metrics

    day = 86400.0
    flood = [Event(10 * day, 11 * day, 10 * day)]
    stale = ([flood[0]], [4 * day], 12 * day, False, [4 * day + 3600.0])       # days before, long cleared
    old = event_metrics([stale[:4]], lead_window=day)                           # raise times only: old rule
    new = event_metrics([stale], lead_window=day)
    assert old.detected == 0 and new.detected == 0 and new.false_warnings == 1
    open_ = ([flood[0]], [7 * day], 12 * day, False, [10.5 * day])              # still open at the crossing
    assert event_metrics([open_], lead_window=day).lead_time_median_minutes == 3 * 1440.0
    recent = ([flood[0]], [9.5 * day], 12 * day, False, [9.6 * day])            # opened 12 h before
    assert event_metrics([recent], lead_window=day).lead_time_median_minutes == 720.0
