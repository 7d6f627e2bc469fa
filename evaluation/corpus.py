"""The corpus of one ``riverwatch evaluate`` run: which detectors, which series, and their replay.

Shared by the plain evaluation (:mod:`evaluation.cli`) and cross-validation (:mod:`evaluation.cv`).

Examples
--------
>>> default_detectors("nab"), default_detectors("csv")
(['anomaly_ensemble'], ['adaptive_anomaly'])
>>> "rate_of_rise" in default_detectors("usgs")
True
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from tqdm import tqdm

from detectors.base import registry
from evaluation import datasets, nab_score
from evaluation.history_span import parse_duration
from evaluation.replay import ReplayResult, replay
from evaluation.series import thinned

#: Hazards scored per format when no ``--detector`` is given (sensor problems are never warnings).
DEFAULT_HAZARDS = {"nab": ("anomaly",), "csv": ("anomaly",), "usgs": ("flood",), "gecco": ("water_quality",),
                   "qld": ("flood", "water_quality", "sensor")}
#: Formats replayed through the warning lifecycle too (which warnings would be public).
LIFECYCLE_FORMATS = ("qld",)
#: Formats whose data may come as several paths, read as one corpus (Texas and UK floods together).
MULTI_PATH_FORMATS = ("usgs", "gecco", "qld", "csv")


def default_detectors(fmt: str) -> list[str]:
    """``anomaly_ensemble`` for NAB (cross-validated by category it beats ``adaptive_anomaly`` alone: 67.47
    against 65.32 on the real series, docs/detectors.md), ``adaptive_anomaly`` for generic series; the
    registered detectors of the hazard otherwise."""
    if fmt == "nab":
        return ["anomaly_ensemble"]
    if fmt == "csv":
        return ["adaptive_anomaly"]
    hazards = DEFAULT_HAZARDS[fmt]
    names = sorted(name for name, spec in registry().items() if spec.hazard in hazards)
    return names or ["adaptive_anomaly"]



def load_series(args: argparse.Namespace) -> list[datasets.Series]:
    """The series of ``args.data`` in ``args.format`` (categories and limit applied)."""
    options: dict[str, Any] = {}
    if args.format == "nab" and args.categories:
        cats = args.categories.split(",")
        if cats == ["real"]:
            cats = [p.name for p in sorted(args.data.iterdir()) if p.is_dir() and p.name.startswith("real")]
        options["categories"] = cats
    series = datasets.load(args.format, args.data, **options)
    weather = [s for s in series if datasets.is_weather(s)]
    series = [s for s in series if not datasets.is_weather(s)]
    series = series[: args.limit] if args.limit else series
    kept = {s.category for s in series}
    return series + [s for s in weather if s.category in kept]


def load_paths(args: argparse.Namespace) -> list[datasets.Series]:
    """The series of every path in ``args.data`` (a list), as :func:`load_series` reads each, thinned to
    a reading at most every ``args.every`` (a duration such as ``1h``; see :func:`~evaluation.series.thinned`).

    >>> load_paths(argparse.Namespace(format="nab", data=["a", "b"]))
    Traceback (most recent call last):
    ...
    riverwatch.errors.ConfigError: evaluate: --format nab takes one data path, not 2
    """
    from riverwatch.errors import ConfigError

    every = parse_duration(getattr(args, "every", None) or "0", "--every")   # a reading at most this often
    if len(args.data) > 1 and args.format not in MULTI_PATH_FORMATS:
        raise ConfigError(f"evaluate: --format {args.format} takes one data path, not {len(args.data)}")
    series: list[datasets.Series] = []
    for path in args.data:
        series += load_series(argparse.Namespace(**{**vars(args), "data": Path(path)}))
    if not any(not datasets.is_weather(s) for s in series):
        raise ConfigError(f"evaluate: no series found in {', '.join(map(str, args.data))}")
    return [thinned(s, every) for s in series] if every else series



def replay_corpus(series: Sequence[datasets.Series], names: Sequence[str], params: dict, *, fmt: str,
                  progress: bool = True) -> list[ReplayResult]:
    """Replay every series with one progress bar over all readings.

    NAB files get NAB's probationary period (15 %, at most 750 rows) as ``probation`` unless set.
    """
    total = sum(len(s) for s in series)
    bar = tqdm(total=total, unit="rd", unit_scale=True, desc="replay", disable=not progress, file=sys.stderr,
               mininterval=2.0)
    out = []
    with bar:
        for s in series:
            per = {name: dict(p) for name, p in params.items()}
            if fmt == "nab":
                for name in names:
                    if "probation" in registry()[name].params.model_fields:
                        per[name].setdefault("probation", nab_score.probation_rows(len(s)))
            out.append(replay(s, names, per, progress=bar, lifecycle=fmt in LIFECYCLE_FORMATS))
    return out
