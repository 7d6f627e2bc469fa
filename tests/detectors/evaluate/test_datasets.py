"""Loaders on small synthetic fixtures (no shared data needed)."""

import json

import numpy as np
import pytest

from detectors.evaluate import datasets
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
    series = {s.category: s for s in datasets.load("usgs", tmp_path)}
    flood_s, quiet_s = series["flood"], series["quiet"]
    assert flood_s.columns["water_level"][0] == pytest.approx(10 * 0.3048)
    assert flood_s.columns["discharge"][0] == pytest.approx(100 * 0.3048 ** 3)
    assert flood_s.events[0].reference == datasets.parse_time("2013-10-31T04:30:00Z")
    assert flood_s.events[0].start == datasets.parse_time("2013-10-31T05:00:00Z")
    assert quiet_s.quiet and not flood_s.quiet and "water_level" not in quiet_s.columns


def test_unknown_format_and_missing_path(tmp_path):
    with pytest.raises(ConfigError, match="--format"):
        datasets.load("xml", tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        datasets.load("csv", tmp_path / "nope.csv")


def test_runs():
    assert datasets.runs([1, 1, 0, 0, 1, 1]) == [(0, 1), (4, 5)]
    assert datasets.runs([]) == []


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
