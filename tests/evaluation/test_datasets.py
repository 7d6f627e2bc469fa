"""Loaders on small synthetic fixtures (no shared data needed)."""

import json

import numpy as np
import pytest

from evaluation import datasets
from riverwatch.errors import ConfigError


def write_nab(root):
    (root / "realX").mkdir(parents=True)
    rows = "\n".join(f"2020-01-01 {h:02d}:{m:02d}:00,{v}" for v, (h, m) in
                     enumerate((h, m) for h in range(2) for m in range(0, 60, 5)))
    (root / "realX" / "a.csv").write_text("timestamp,value\n" + rows + "\n")
    (root / "combined_windows.json").write_text(json.dumps(
        {"realX/a.csv": [["2020-01-01 00:30:00.000000", "2020-01-01 00:45:00.000000"]],
         "realX/missing.csv": []}))
    (root / "profiles.json").write_text(json.dumps(
        {"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}}}))
    return root


def test_nab_layout(tmp_path):
    [s] = datasets.load("nab", write_nab(tmp_path))
    assert (s.category, s.name, len(s)) == ("realX", "a.csv", 24)
    assert s.events[0].start == datasets.parse_time("2020-01-01 00:30:00")
    assert s.columns["water_level"][3] == 3.0
    assert s.station.quantities["water_level"].plausible is None
    assert datasets.nab_profiles(tmp_path) == {"standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0}}


def test_csv_with_labels_and_gaps(tmp_path):
    f = tmp_path / "one.csv"
    f.write_text("timestamp,value,label\n2020-01-01T00:10:00Z,2,0\n2020-01-01T00:00:00Z,1,0\n"
                 "2020-01-01T00:20:00Z,,1\n2020-01-01T00:30:00Z,4,1\n2020-01-01T00:40:00Z,5,0\n")
    [s] = datasets.load("csv", f)
    assert s.t.tolist() == sorted(s.t.tolist())
    assert np.isnan(s.columns["water_level"][2])
    assert len(s.events) == 1 and s.events[0].end - s.events[0].start == 600


def test_gecco_columns_units_and_events(tmp_path):
    f = tmp_path / "g.csv"
    header = "Time,Tp,Cl,pH,Redox,Leit,Trueb,Cl_2,Fm,Fm_2,EVENT\n"
    rows = ["2016-02-15 11:54:00,4.4,0.14,8.38,755,232,0.009,0.110,3600,1020,False",
            "2016-02-15 11:55:00,4.4,0.14,8.38,755,232,0.009,0.111,3600,1018,True",
            "2016-02-15 11:56:00,,,,,,,,,,False",
            "2016-02-15 11:57:00,4.5,0.15,8.37,754,233,0.010,0.111,3600,1018,True"]
    f.write_text(header + "\n".join(rows) + "\n")
    [s] = datasets.load("gecco", f)
    assert s.columns["discharge"][0] == pytest.approx(1.0)  # 3600 m³/h = 1 m³/s
    assert s.columns["chlorine_2"][1] == pytest.approx(0.111)
    assert np.isnan(s.columns["ph"][2])
    assert len(s.events) == 2
    assert "chlorine_2" not in s.station.quantities and "turbidity" in s.station.quantities


def test_usgs_units_events_and_quiet(tmp_path):
    head = "time_local_usgs,time_utc,station_id,station_name,gage_height_ft,discharge_cfs,event_name,rise_label\n"
    flood = [f"x,2013-10-31T0{h}:00:00Z,1,\"A\",{10 + 10 * (h > 4)},{100},Flood,{int(h > 4)}" for h in range(8)]
    quiet = [f"x,2007-06-27T0{h}:00:00Z,2,\"B\",,{50},Quiet,0" for h in range(4)]
    (tmp_path / "flood.csv").write_text(head + "\n".join(flood) + "\n")
    (tmp_path / "quiet.csv").write_text(head + "\n".join(quiet) + "\n")
    (tmp_path / "weather_flood.csv").write_text("ignored\n")
    (tmp_path / "station_event_summary.csv").write_text(
        "event,station_id,significant_rise,first_crossing_utc\n"
        "Flood,1,True,2013-10-31 04:30:00+00:00\nQuiet,2,False,\n")
    series = {s.category: s for s in datasets.load("usgs", tmp_path, weather=False)}
    flood_s, quiet_s = series["flood"], series["quiet"]
    assert flood_s.columns["water_level"][0] == pytest.approx(10 * 0.3048)
    assert flood_s.columns["discharge"][0] == pytest.approx(100 * 0.3048 ** 3)
    assert flood_s.events[0].reference == datasets.parse_time("2013-10-31T04:30:00Z")
    assert flood_s.events[0].start == datasets.parse_time("2013-10-31T05:00:00Z")
    assert quiet_s.quiet and not flood_s.quiet and "water_level" not in quiet_s.columns


def test_a_usgs_station_without_readings_is_left_out_with_a_note(tmp_path, capsys):
    head = "time_local_usgs,time_utc,station_id,station_name,gage_height_ft,discharge_cfs,event_name,rise_label\n"
    rows = [f"x,2013-10-31T0{h}:00:00Z,1,\"A\",{10 + h},,Flood,0" for h in range(4)]
    rows += [f"x,2013-10-31T0{h}:00:00Z,2,\"B\",,,Flood,0" for h in range(4)]   # neither stage nor discharge
    (tmp_path / "flood.csv").write_text(head + "\n".join(rows) + "\n")
    (tmp_path / "station_event_summary.csv").write_text("event,station_id,significant_rise,first_crossing_utc\n")
    series = datasets.load("usgs", tmp_path, weather=False)
    assert [s.name for s in series] == ["1.csv"]
    assert "station 2 has no stage or discharge readings; left out" in capsys.readouterr().err


START = "2020-06-01T00:00:00"
USGS_HEAD = "time_local_usgs,time_utc,station_id,station_name,gage_height_ft,discharge_cfs,event_name,rise_label\n"
ISD_HEAD = "date,precip_1hr_mm,precip_mm,source,station_id,temp_c,timestamp\n"


def hour(h: float) -> str:
    """ISO time ``h`` hours after START (UTC)."""
    return str(np.datetime64(START) + np.timedelta64(int(h * 60), "m"))


def write_gauge(path, event, sid, wave=None, hours=48):
    """A gauge every 30 min, 1 ft, rising to 10 ft over ``wave`` = (first, last) hour (rise_label 1)."""
    rows = []
    for k in range(2 * hours):
        h = k / 2
        up = wave is not None and wave[0] <= h <= wave[1]
        rows.append(f"x,{hour(h)}Z,{sid},\"G{sid}\",{10 if up else 1},100,{event},{int(up)}")
    path.write_text(USGS_HEAD + "\n".join(rows) + "\n")


def write_isd(path, station, rain: dict, hours=48):
    """ISD hourly weather: ``rain`` {hour: cell text}, "0.0" otherwise; one GHCN daily row (no timestamp)."""
    rows = [f",{rain.get(h, '0.0')},,,{station},20.0,{hour(h)}" for h in range(hours)]
    rows.insert(3, f"2020-06-01,,55.0,ghcn_daily,{station},,")
    path.write_text(ISD_HEAD + "\n".join(rows) + "\n")


def write_usgs_with_weather(root):
    """A tiny USGS folder: ``flood`` (one wave crossing at hour 31, 12 mm of rain in hours 26 and 27, an
    unreported hour 5, a trace at 6), ``quiet`` (no wave, 15 mm in hours 10 and 11) and ``dry`` (a
    wave, no weather file)."""
    write_gauge(root / "flood.csv", "Flood", "1", wave=(31, 40))
    write_gauge(root / "quiet.csv", "Quiet", "2")
    write_gauge(root / "dry.csv", "Dry", "3", wave=(20, 22))
    write_isd(root / "weather_flood.csv", "WX1", {5: "", 6: "-0.1", 26: "12.0", 27: "12.0"})
    write_isd(root / "weather_quiet.csv", "WX2", {10: "15.0", 11: "15.0"})
    (root / "station_event_summary.csv").write_text(
        "event,station_id,significant_rise,first_crossing_utc\n"
        f"Flood,1,True,{hour(31)}+00:00\nQuiet,2,False,\nDry,3,True,{hour(20)}+00:00\n")
    return root


def test_usgs_weather_is_one_rain_series_per_airport_with_unknown_hours(tmp_path):
    series = datasets.load("usgs", write_usgs_with_weather(tmp_path))
    weather = {s.category: s for s in series if datasets.is_weather(s)}
    assert sorted(weather) == ["flood", "quiet"]            # no weather file for "dry": no series
    wx = weather["flood"]
    assert (wx.name, wx.station.kind, list(wx.columns), wx.events) == ("weather-WX1.csv", "weather",
                                                                       ["precipitation"], ())
    rain = wx.columns["precipitation"]
    assert len(wx) == 48                                    # the daily GHCN row is not an hour
    assert np.isnan(rain[5]) and wx.meta["unknown_hours"] == 1   # not reported: unknown, not 0
    assert rain[6] == 0.0 and rain[26] == 12.0              # a trace is no measurable rain
    assert wx.t[1] - wx.t[0] == 3600.0 and wx.t[0] == datasets.parse_time(START)
    assert weather["quiet"].quiet and not wx.quiet
    from evaluation.replay import readings
    assert "precipitation" not in readings(wx)[5] and readings(wx)[6]["precipitation"] == 0.0
    gauges = [s for s in series if not datasets.is_weather(s)]
    assert [s.category for s in gauges] == ["dry", "flood", "quiet"]
    assert [s.name for s in datasets.load("usgs", tmp_path, weather=False)] == [s.name for s in gauges]


def test_weather_file_needs_its_columns(tmp_path):
    write_usgs_with_weather(tmp_path)
    (tmp_path / "weather_flood.csv").write_text("timestamp,temp_c\n2020-06-01T00:00:00,20\n")
    with pytest.raises(ConfigError, match="precip_1hr_mm"):
        datasets.load("usgs", tmp_path)


def test_unknown_format_and_missing_path(tmp_path):
    with pytest.raises(ConfigError, match="--format"):
        datasets.load("xml", tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        datasets.load("csv", tmp_path / "nope.csv")


def write_qld(path, n=400):
    rng = np.random.default_rng(3)
    lines = ["Timestamp,Level,Cond,Tur,label_Level,label_Cond,label_Tur,type_Level,type_Cond,type_Tur"]
    for i in range(n):
        stamp = str(np.datetime64("2017-03-12T00:00") + np.timedelta64(90 * i, "m")).replace("T", " ")
        level, cond, tur = 0.6 + rng.normal(0, 0.002), 300 + rng.normal(0, 2), 10 + rng.normal(0, 0.3)
        spike = i == 300
        erratic = 340 <= i < 360
        tur = 150.0 if spike else tur + (rng.normal(0, 4) if erratic else 0)
        lines.append(f"{stamp},{level:.3f},{cond:.2f},{tur:.2f},0,0,{int(spike or erratic)},,,"
                     f"{'A' if spike else 'E' if erratic else ''}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_qld_layout(tmp_path):
    [s] = datasets.load("qld", write_qld(tmp_path / "creek.csv"))
    assert set(s.columns) == {"water_level", "conductivity", "turbidity"} and s.events == ()
    assert s.station.kind == "water_quality"
    assert [(f.quantity, f.kind, f.first, f.last) for f in s.meta["faults"]] == [
        ("turbidity", "A", 300, 300), ("turbidity", "E", 340, 359)]


def test_qld_needs_its_columns(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("Timestamp,Level\n2017-01-01 00:00,1\n")
    with pytest.raises(ConfigError, match="QLD"):
        datasets.load("qld", f)
