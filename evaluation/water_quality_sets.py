"""Water-quality recordings: GECCO multivariate CSVs and Queensland river sondes with sensor faults.

``gecco`` is one GECCO water-quality CSV (one multivariate station); events are the runs of
EVENT=true. ``qld`` is a river sonde CSV ``Timestamp,Level,Cond,Tur,label_<var>,type_<var>`` (m,
µS/cm, NTU) with expert labels of sensor faults; no hazard events (real high flows are labelled
normal), the fault runs (per variable and fault type) are in ``meta["faults"]``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from riverwatch.errors import ConfigError
from riverwatch.units import QUANTITIES, conversion

from evaluation.series import (FaultRun, Series, events_from_labels, parse_time, runs, scale_of, sorted_columns,
                               synthetic_station, to_float)

#: GECCO column -> (quantity key in ``x``, unit).  Keys without a catalog quantity (a second chlorine
#: sensor, a second flow meter) are passed to detectors in ``x`` but are not station quantities.
GECCO_COLUMNS = {
    "Tp": ("water_temperature", "degC"), "Cl": ("chlorine", "mg/L"), "pH": ("ph", "pH"),
    "Redox": ("redox", "mV"), "Leit": ("conductivity", "uS/cm"), "Trueb": ("turbidity", "NTU"),
    "Cl_2": ("chlorine_2", "mg/L"), "Fm": ("discharge", "m3/h"), "Fm_2": ("discharge_2", "m3/h"),
}
QLD_COLUMNS = {"Level": ("water_level", "m"), "Cond": ("conductivity", "uS/cm"), "Tur": ("turbidity", "NTU")}


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
    tt, arrays, labs = sorted_columns(t, cols, labels)
    quantities = [key for key, _ in GECCO_COLUMNS.values() if key in QUANTITIES]
    station = synthetic_station(path.stem, quantities, kind="water_quality")
    return [Series(path.name, "gecco", station, tt, arrays, events_from_labels(tt, labs),
                   meta={"labels": labs})]


# --- QLD sensor faults --------------------------------------------------------------------------

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
