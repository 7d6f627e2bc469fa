"""Loaders that turn recorded data sets into :class:`Series` the replay feeds to detectors.

Every loader returns series in canonical units (``riverwatch.units``) with their labelled events,
so the replay and the metrics never see a file format. Layouts (see ``../shared/data/README.md``):

``nab``   a folder of category folders of ``timestamp,value`` CSVs with ``combined_windows.json``
          (anomaly windows) and ``profiles.json`` at its root.
``usgs``  a folder of flood-event CSVs (stage in ft, discharge in cfs) with
          ``station_event_summary.csv``; events are the runs of ``rise_label`` = 1 per station, lead
          time is measured from the first half-rise crossing of each run. ``weather_<event>.csv``
          (NOAA ISD hourly airport weather) adds one ``weather`` series per airport measuring
          precipitation (``precip_1hr_mm``); it has no events of its own.
``gecco`` one GECCO water-quality CSV (one multivariate station); events are the runs of EVENT=true.
``csv``   generic ``timestamp,value[,label]``; events are the runs of label = 1/true.
``qld``   a river sonde CSV ``Timestamp,Level,Cond,Tur,label_<var>,type_<var>`` (m, µS/cm, NTU) with
          expert labels of sensor faults; no hazard events (real high flows are labelled normal),
          the fault runs (per variable and fault type) are in ``meta["faults"]``.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "s.csv").write_text("timestamp,value,label\\n2020-01-01 00:00,1,0\\n2020-01-01 00:05,9,1\\n")
>>> [s] = load("csv", d / "s.csv")
>>> s.name, len(s), bool(s.events[0].start == s.t[1])
('s.csv', 2, True)
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from riverwatch.catalog import Station
from riverwatch.errors import ConfigError
from riverwatch.units import QUANTITIES, conversion

FORMATS = ("nab", "gecco", "usgs", "csv", "qld")

#: GECCO column -> (quantity key in ``x``, unit).  Keys without a catalog quantity (a second chlorine
#: sensor, a second flow meter) are passed to detectors in ``x`` but are not station quantities.
GECCO_COLUMNS = {
    "Tp": ("water_temperature", "degC"), "Cl": ("chlorine", "mg/L"), "pH": ("ph", "pH"),
    "Redox": ("redox", "mV"), "Leit": ("conductivity", "uS/cm"), "Trueb": ("turbidity", "NTU"),
    "Cl_2": ("chlorine_2", "mg/L"), "Fm": ("discharge", "m3/h"), "Fm_2": ("discharge_2", "m3/h"),
}
_EXTRA_SCALES = {"m3/h": 1 / 3600.0}
QLD_COLUMNS = {"Level": ("water_level", "m"), "Cond": ("conductivity", "uS/cm"), "Tur": ("turbidity", "NTU")}
_USGS_COLUMNS = {"gage_height_ft": ("water_level", "ft"), "discharge_cfs": ("discharge", "cfs")}
#: NOAA ISD hourly weather: rain of the hour ending at ``timestamp`` (UTC), mm; ``-0.1`` codes a trace.
ISD_RAIN_COLUMN = "precip_1hr_mm"
ISD_TRACE_MM = -0.1
WEATHER_KIND = "weather"


@dataclass(frozen=True, slots=True)
class Event:
    """A labelled event: its window ``[start, end]`` and the time lead is measured against (epoch s)."""

    start: float
    end: float
    reference: float


@dataclass(frozen=True, slots=True, eq=False)
class Series:
    """One recorded station stream set, ready to replay.

    ``t`` are epoch seconds (sorted), ``columns`` maps each quantity key to its canonical values
    (NaN where missing), ``events`` are the labelled events and ``quiet`` marks a period where no
    warning at all is expected. ``category`` and ``name`` place the results (``DIR/category/name``).
    """

    name: str
    category: str
    station: Station
    t: np.ndarray
    columns: dict[str, np.ndarray]
    events: tuple[Event, ...] = ()
    quiet: bool = False
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t)

    @property
    def days(self) -> float:
        """Length of the recording in days."""
        return float(self.t[-1] - self.t[0]) / 86400.0 if len(self.t) > 1 else 0.0


def load(fmt: str, path: str | Path, **options) -> list[Series]:
    """Load the data set at ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    loaders: dict[str, Callable[..., list[Series]]] = {
        "nab": load_nab, "gecco": load_gecco, "usgs": load_usgs, "csv": load_csv, "qld": load_qld}
    if fmt not in loaders:
        raise ConfigError(f"option --format: {fmt!r} is not one of {', '.join(FORMATS)}")
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"evaluate: data {path} not found")
    return loaders[fmt](path, **options)


# --- helpers -----------------------------------------------------------------------------------

def parse_time(text: str) -> float:
    """Epoch seconds of an ISO-8601 time; naive times are UTC.

    >>> parse_time("2014-04-01 00:05:00"), parse_time("2013-10-24T00:00:00.000-05:00")
    (1396310700.0, 1382590800.0)
    """
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def to_float(text: str) -> float:
    """``float(text)``, NaN for empty, ``NA`` or otherwise unreadable cells."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def runs(flags: Iterable[bool]) -> list[tuple[int, int]]:
    """Index ranges ``(first, last)`` of the runs of true flags.

    >>> runs([0, 1, 1, 0, 1])
    [(1, 2), (4, 4)]
    """
    out, start = [], None
    i = -1
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, i))
    return out


def scale_of(quantity: str, unit: str) -> tuple[float, float]:
    """Conversion ``(scale, offset)`` to canonical units, also for the GECCO-only keys."""
    if unit in _EXTRA_SCALES:
        return _EXTRA_SCALES[unit], 0.0
    try:
        return conversion(quantity, unit)
    except Exception:  # a quantity outside the contract (e.g. chlorine_2): same unit as its sibling
        return conversion(quantity.rsplit("_", 1)[0], unit)


def synthetic_station(name: str, quantities: Iterable[str], *, kind: str = "replay",
                      partner: str = "replay", plausible: bool = True) -> Station:
    """A catalog station for a recorded series (no thresholds: the data set has none).

    ``plausible=False`` lifts the plausible range (generic series such as NAB's are not physical).
    """
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in name)[:64] or "series"
    specs = {q: ({} if plausible else {"plausible": None}) for q in quantities}
    return Station(id=safe, partner=partner, kind=kind, name=name, lat=0.0, lon=0.0, quantities=specs)


def events_from_labels(t: np.ndarray, labels: Iterable[bool]) -> tuple[Event, ...]:
    """One event per run of true labels, lead measured from the run's first row."""
    return tuple(Event(float(t[a]), float(t[b]), float(t[a])) for a, b in runs(labels))


def _sorted(t: list[float], columns: dict[str, list[float]], labels: list[bool] | None):
    order = np.argsort(np.asarray(t), kind="stable")
    tt = np.asarray(t, dtype=float)[order]
    cols = {k: np.asarray(v, dtype=float)[order] for k, v in columns.items()}
    labs = None if labels is None else np.asarray(labels, dtype=bool)[order]
    return tt, cols, labs


# --- NAB -----------------------------------------------------------------------------------------

def load_nab(path: Path, *, categories: Iterable[str] | None = None, quantity: str = "water_level",
             limit: int | None = None) -> list[Series]:
    """NAB corpus: one series per CSV, events from ``combined_windows.json``.

    ``categories`` restricts to some category folders (e.g. the five ``real*`` ones); the value is
    handed to detectors under ``quantity`` (NAB values are not physical: no plausible range).
    """
    windows = json.loads((path / "combined_windows.json").read_text())
    wanted = set(categories) if categories else None
    out = []
    for key in sorted(windows):
        category, file = key.split("/", 1)
        if wanted is not None and category not in wanted:
            continue
        csv_path = path / category / file
        if not csv_path.exists():
            continue
        t, cols, _ = _read_simple(csv_path, quantity)
        events = tuple(Event(parse_time(a), parse_time(b), parse_time(a)) for a, b in windows[key])
        station = synthetic_station(file.removesuffix(".csv"), [quantity], plausible=False)
        out.append(Series(file, category, station, t, cols, events, meta={"key": key}))
        if limit and len(out) >= limit:
            break
    return out


def nab_profiles(path: Path) -> dict[str, dict[str, float]]:
    """The scoring profiles of a NAB folder: ``{profile: {tp, fp, fn}}`` weights."""
    raw = json.loads((path / "profiles.json").read_text())
    return {name: {"tp": p["CostMatrix"]["tpWeight"], "fp": p["CostMatrix"]["fpWeight"],
                   "fn": p["CostMatrix"]["fnWeight"]} for name, p in raw.items()}


def _read_simple(csv_path: Path, quantity: str):
    t, v, lab = [], [], []
    with open(csv_path, newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader)]
        if header[:2] != ["timestamp", "value"]:
            raise ConfigError(f"evaluate: {csv_path} must have columns timestamp,value[,label]")
        has_label = len(header) > 2
        for row in reader:
            if not row:
                continue
            t.append(parse_time(row[0]))
            v.append(to_float(row[1]))
            if has_label:
                lab.append(row[2].strip().lower() in ("1", "true", "yes", "1.0"))
    tt, cols, labs = _sorted(t, {quantity: v}, lab if has_label else None)
    return tt, cols, labs


# --- generic CSV ---------------------------------------------------------------------------------

def load_csv(path: Path, *, quantity: str = "water_level") -> list[Series]:
    """Generic ``timestamp,value[,label]`` CSV (a file, or a folder of them)."""
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    out = []
    for file in files:
        t, cols, labels = _read_simple(file, quantity)
        events = events_from_labels(t, labels) if labels is not None else ()
        station = synthetic_station(file.stem, [quantity], plausible=False)
        out.append(Series(file.name, file.parent.name or "csv", station, t, cols, events))
    return out


# --- GECCO ---------------------------------------------------------------------------------------

def load_gecco(path: Path) -> list[Series]:
    """A GECCO water-quality CSV as one multivariate station (all-NaN rows kept as gaps, label false)."""
    t, labels = [], []
    cols: dict[str, list[float]] = {key: [] for key, _ in GECCO_COLUMNS.values()}
    scales = {col: scale_of(key, unit) for col, (key, unit) in GECCO_COLUMNS.items()}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in (*GECCO_COLUMNS, "Time", "EVENT") if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"evaluate: {path} is not a GECCO file (missing {', '.join(missing)})")
        for row in reader:
            t.append(parse_time(row["Time"]))
            labels.append(row["EVENT"].strip().lower() == "true")
            for col, (key, _) in GECCO_COLUMNS.items():
                scale, offset = scales[col]
                cols[key].append(to_float(row[col]) * scale + offset)
    tt, arrays, labs = _sorted(t, cols, labels)
    quantities = [key for key, _ in GECCO_COLUMNS.values() if key in QUANTITIES]
    station = synthetic_station(path.stem, quantities, kind="water_quality")
    return [Series(path.name, "gecco", station, tt, arrays, events_from_labels(tt, labs),
                   meta={"labels": labs})]


# --- QLD sensor faults --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FaultRun:
    """A labelled sensor fault: the quantity, the expert's fault type, first and last row."""

    quantity: str
    kind: str
    first: int
    last: int


def load_qld(path: Path) -> list[Series]:
    """A Queensland sonde CSV as one water-quality station (level, conductivity, turbidity).

    Fault runs are the runs of ``label_<var>`` = 1 of one ``type_<var>``; they go to
    ``meta["faults"]`` (tuple of :class:`FaultRun`), not to ``events``: they are sensor problems,
    not hazards.
    """
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    out = []
    for file in files:
        t, cols, kinds = [], {q: [] for q, _ in QLD_COLUMNS.values()}, {q: [] for q, _ in QLD_COLUMNS.values()}
        scales = {col: conversion(q, unit) for col, (q, unit) in QLD_COLUMNS.items()}
        with open(file, newline="") as fh:
            reader = csv.DictReader(fh)
            need = ["Timestamp", *QLD_COLUMNS, *(f"label_{c}" for c in QLD_COLUMNS)]
            missing = [c for c in need if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(f"evaluate: {file} is not a QLD sonde file (missing {', '.join(missing)})")
            for row in reader:
                t.append(parse_time(row["Timestamp"]))
                for col, (q, _) in QLD_COLUMNS.items():
                    scale, offset = scales[col]
                    cols[q].append(to_float(row[col]) * scale + offset)
                    faulty = row[f"label_{col}"].strip() in ("1", "1.0", "true", "TRUE", "True")
                    kinds[q].append(((row.get(f"type_{col}") or "").strip() or "?") if faulty else "")
        order = np.argsort(np.asarray(t), kind="stable").tolist()
        tt = np.asarray(t, dtype=float)[order]
        arrays = {q: np.asarray(v, dtype=float)[order] for q, v in cols.items()}
        faults = []
        for q, ks in kinds.items():
            ks = [ks[i] for i in order]
            for first, last in runs(k != "" for k in ks):
                start = first
                for i in range(first + 1, last + 2):
                    if i > last or ks[i] != ks[start]:
                        faults.append(FaultRun(q, ks[start], start, i - 1))
                        start = i
        faults.sort(key=lambda f: (f.first, f.quantity))
        station = synthetic_station(file.stem, list(arrays), kind="water_quality")
        out.append(Series(file.name, "qld", station, tt, arrays, (), meta={"faults": tuple(faults)}))
    return out


# --- USGS ----------------------------------------------------------------------------------------

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
        t, arrays, labels = _sorted(rec["t"], cols, rec["label"])
        arrays = {q: v for q, v in arrays.items() if np.isfinite(v).any()}
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
        tt, cols, _ = _sorted(t, {"precipitation": v}, None)
        station = synthetic_station(f"isd-{sid}", ["precipitation"], kind=WEATHER_KIND)
        out.append(Series(f"weather-{sid}.csv", category, station, tt, cols, (), quiet,
                          meta={"station_name": f"ISD {sid}", "event": category, "source": file.name,
                                "unknown_hours": int(np.isnan(cols["precipitation"]).sum())}))
    return out
