"""USGS flood events and the NOAA ISD hourly weather recorded beside them.

``usgs`` is a folder of flood-event CSVs (stage in ft, discharge in cfs) with
``station_event_summary.csv``; events are the runs of ``rise_label`` = 1 per station, lead time is
measured from the first half-rise crossing of each run. ``weather_<event>.csv`` (NOAA ISD hourly
airport weather) adds one ``weather`` series per airport measuring precipitation
(``precip_1hr_mm``); it has no events of its own.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path
from typing import Iterable

import numpy as np

from riverwatch.errors import ConfigError
from riverwatch.units import conversion

from evaluation.series import Event, Series, events_from_labels, parse_time, sorted_columns, synthetic_station, to_float

_USGS_COLUMNS = {"gage_height_ft": ("water_level", "ft"), "discharge_cfs": ("discharge", "cfs")}
#: NOAA ISD hourly weather: rain of the hour ending at ``timestamp`` (UTC), mm; ``-0.1`` codes a trace.
ISD_RAIN_COLUMN = "precip_1hr_mm"
ISD_TRACE_MM = -0.1
WEATHER_KIND = "weather"


def load_usgs(path: Path, *, events: Iterable[str] | None = None, weather: bool = True) -> list[Series]:
    """USGS flood events: one series per station and event, stage and discharge in SI units.

    Events are the runs of ``rise_label`` = 1; the first run's lead reference is the summary's
    ``first_crossing_utc``. An event file where no station has a labelled rise is ``quiet``
    (``camp_mystic_2007``): no warning at all is expected there. With ``weather``, the event's
    ``weather_<event>.csv`` follows its gauges as one ``weather`` series per airport
    (:func:`load_isd_rain`, same ``category`` and ``quiet``; no file, no weather series).
    """
    summary = _usgs_summary(path / "station_event_summary.csv")
    wanted = set(events) if events else None
    out = []
    for file in sorted(path.glob("*.csv")):
        if file.name == "station_event_summary.csv" or file.name.startswith("weather_"):
            continue
        if wanted is not None and file.stem not in wanted:
            continue
        series = _usgs_event(file, summary)
        quiet = not any(s.events for s in series)
        out.extend(Series(s.name, s.category, s.station, s.t, s.columns, s.events, quiet, s.meta)
                   for s in series)
        rain_file = file.with_name(f"weather_{file.name}")
        if weather and rain_file.exists():
            out.extend(load_isd_rain(rain_file, category=file.stem, quiet=quiet))
    if not out:
        raise ConfigError(f"evaluate: no USGS event files in {path}")
    return out


def _usgs_summary(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    if not path.exists():
        raise ConfigError(f"evaluate: {path} not found (the USGS layout needs it)")
    with open(path, newline="") as fh:
        return {(row["event"], row["station_id"]): row for row in csv.DictReader(fh)}


def _usgs_event(file: Path, summary: dict) -> list[Series]:
    per_station: dict[str, dict[str, list]] = {}
    event_name, names = "", {}
    scales = {col: conversion(q, unit) for col, (q, unit) in _USGS_COLUMNS.items()}
    with open(file, newline="") as fh:
        for row in csv.DictReader(fh):
            event_name = row["event_name"]
            sid = row["station_id"]
            names[sid] = row["station_name"]
            rec = per_station.setdefault(sid, {"t": [], "label": [], **{q: [] for q, _ in _USGS_COLUMNS.values()}})
            rec["t"].append(parse_time(row["time_utc"]))
            rec["label"].append(row.get("rise_label", "0").strip() in ("1", "1.0", "True", "true"))
            for col, (q, _) in _USGS_COLUMNS.items():
                scale, offset = scales[col]
                rec[q].append(to_float(row.get(col, "")) * scale + offset)
    out = []
    for sid, rec in sorted(per_station.items()):
        cols = {q: rec[q] for q, _ in _USGS_COLUMNS.values()}
        t, arrays, labels = sorted_columns(rec["t"], cols, rec["label"])
        arrays = {q: v for q, v in arrays.items() if np.isfinite(v).any()}
        if not arrays:
            print(f"evaluate: {file.name}: station {sid} has no stage or discharge readings; left out",
                  file=sys.stderr)
            continue
        info = summary.get((event_name, sid), {})
        evs = list(events_from_labels(t, labels))
        crossing = info.get("first_crossing_utc", "").strip()
        if evs and crossing:
            evs[0] = Event(evs[0].start, evs[0].end, parse_time(crossing))
        station = synthetic_station(f"usgs-{sid}", list(arrays), kind="river_gauge")
        out.append(Series(f"{sid}.csv", file.stem, station, t, arrays, tuple(evs),
                          meta={"station_name": names[sid], "event": event_name}))
    return out


# --- NOAA ISD hourly weather (beside the USGS events) -----------------------------------------------

def is_weather(series: Series) -> bool:
    """Whether ``series`` is a weather station (the rain beside a USGS event), not a river gauge."""
    return series.station.kind == WEATHER_KIND


def isd_rain_mm(text: str) -> float:
    """Rain of one ISD hour in mm: a trace (``-0.1``) is 0, empty or any other negative is unknown (NaN).

    >>> isd_rain_mm("12.4"), isd_rain_mm("-0.1"), isd_rain_mm(""), isd_rain_mm("-999.9")
    (12.4, 0.0, nan, nan)
    """
    v = to_float(text)
    if v == ISD_TRACE_MM:
        return 0.0
    return v if v >= 0 else math.nan


def load_isd_rain(file: Path, *, category: str, quiet: bool = False) -> list[Series]:
    """Hourly rain of a NOAA ISD weather CSV: one ``weather`` series per ``station_id``.

    ``precip_1hr_mm`` is the rain of the hour ending at ``timestamp`` (UTC), the amount since the
    previous hourly report, as the MQTT contract's ``precipitation``. An hour not reported (empty
    cell) is NaN, unknown: the replay leaves it out, so the rainfall detector sees a gap, never a
    dry hour. Rows without a ``timestamp`` (GHCN daily summaries in the same file) are skipped.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "weather_x.csv"
    >>> _ = f.write_text("station_id,timestamp,precip_1hr_mm,date,precip_mm\\n"
    ...                  "A,2015-05-24T01:00:00,4.1,,\\nA,2015-05-24T02:00:00,,,\\nA,,,2015-05-24,9.0\\n")
    >>> [s] = load_isd_rain(f, category="x")
    >>> s.name, s.station.kind, s.columns["precipitation"].tolist()
    ('weather-A.csv', 'weather', [4.1, nan])
    """
    per_station: dict[str, tuple[list[float], list[float]]] = {}
    with open(file, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("station_id", "timestamp", ISD_RAIN_COLUMN) if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"evaluate: {file} is not an ISD weather file (missing {', '.join(missing)})")
        for row in reader:
            stamp = (row["timestamp"] or "").strip()
            if not stamp:
                continue
            t, v = per_station.setdefault(row["station_id"].strip(), ([], []))
            t.append(parse_time(stamp))
            v.append(isd_rain_mm(row[ISD_RAIN_COLUMN]))
    out = []
    for sid, (t, v) in sorted(per_station.items()):
        tt, cols, _ = sorted_columns(t, {"precipitation": v}, None)
        station = synthetic_station(f"isd-{sid}", ["precipitation"], kind=WEATHER_KIND)
        out.append(Series(f"weather-{sid}.csv", category, station, tt, cols, (), quiet,
                          meta={"station_name": f"ISD {sid}", "event": category, "source": file.name,
                                "unknown_hours": int(np.isnan(cols["precipitation"]).sum())}))
    return out
