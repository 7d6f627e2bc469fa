"""Cross-validation folds of recorded data sets, and the part of a replay that falls in one.

A :class:`Fold` is a set of :class:`Piece` s: a series (by its index in the corpus) and a time window
of it. Folds make sense per format (:func:`make_folds`):

``nab``    leave one category out (the series of one folder).
``gecco``  by file when there are several (2017 ↔ 2018-train, both directions); by calendar month
           (UTC) within one file.
``usgs``   leave one flood event (event file, all its stations) out.
``qld``    by site when there are several files (the Herbert folder); by season (three calendar
           months: DJF, MAM, JJA, SON) within one site.
``csv``    by file when there are several; by month within one.

A series split in time is replayed whole (its detectors learn online, as in production); only the
scoring is restricted to each piece's window.

Examples
--------
>>> import numpy as np
>>> from evaluation.datasets import Series, synthetic_station
>>> st = synthetic_station("s", ["water_level"])
>>> t = np.arange(0, 100 * 86400.0, 3600.0)                  # 1970-01-01 .. 04-10
>>> s = Series("s.csv", "x", st, t, {"water_level": np.zeros(len(t))})
>>> [f.name for f in make_folds("gecco", [s])]
['1970-01', '1970-02', '1970-03', '1970-04']
>>> [f.name for f in make_folds("qld", [s])]
['1970-DJF', '1970-MAM']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Sequence

import numpy as np

from evaluation.datasets import Series

#: Formats whose warnings are credited to an event only when open at its crossing or opened within
#: the lead window before it (:func:`evaluation.credit.credit_open`).
OPEN_CREDIT_FORMATS = ("usgs",)
_SEASONS = {12: "DJF", 1: "DJF", 2: "DJF", 3: "MAM", 4: "MAM", 5: "MAM", 6: "JJA", 7: "JJA", 8: "JJA",
            9: "SON", 10: "SON", 11: "SON"}


@dataclass(frozen=True, slots=True)
class Piece:
    """Series ``index`` of the corpus, scored over ``[lo, hi)`` (epoch s)."""

    index: int
    lo: float = -math.inf
    hi: float = math.inf

    def rows(self, t: np.ndarray) -> tuple[int, int]:
        """The row range ``[a, b)`` of ``t`` inside the window."""
        return int(np.searchsorted(t, self.lo, side="left")), int(np.searchsorted(t, self.hi, side="left"))


@dataclass(frozen=True, slots=True)
class Fold:
    """One left-out part of the corpus: a name and its pieces."""

    name: str
    pieces: tuple[Piece, ...]


def make_folds(fmt: str, series: Sequence[Series]) -> list[Fold]:
    """The folds of ``series`` for ``fmt`` (see the module doc); at least two, or a ValueError."""
    if fmt in ("nab", "usgs"):
        folds = _by(series, lambda s: s.category)
    elif len(series) > 1:
        folds = _by(series, lambda s: s.name.removesuffix(".csv"))
    else:
        folds = _blocks(series[0], _season if fmt == "qld" else _month)
    if len(folds) < 2:
        raise ValueError(f"cross-validation needs at least two folds; {fmt} data gives {len(folds)}")
    return folds


def training(folds: Sequence[Fold], k: int) -> tuple[Piece, ...]:
    """The pieces of every fold but ``k``."""
    return tuple(p for j, f in enumerate(folds) if j != k for p in f.pieces)


def _by(series: Sequence[Series], key: Callable[[Series], str]) -> list[Fold]:
    groups: dict[str, list[Piece]] = {}
    for k, s in enumerate(series):
        groups.setdefault(key(s), []).append(Piece(k))
    return [Fold(name, tuple(pieces)) for name, pieces in groups.items()]


def _month(d: datetime) -> tuple[str, datetime]:
    return f"{d.year}-{d.month:02d}", datetime(d.year, d.month, 1, tzinfo=timezone.utc)


def _season(d: datetime) -> tuple[str, datetime]:
    year = d.year + (d.month == 12)
    first = {"DJF": (year - 1, 12), "MAM": (year, 3), "JJA": (year, 6), "SON": (year, 9)}[_SEASONS[d.month]]
    return f"{year}-{_SEASONS[d.month]}", datetime(*first, 1, tzinfo=timezone.utc)


def _blocks(s: Series, block: Callable[[datetime], tuple[str, datetime]]) -> list[Fold]:
    """Consecutive calendar blocks of one series (each from its first day to the next block's)."""
    starts: dict[str, float] = {}
    for t in (s.t[0], *s.t[1:][np.diff(s.t) > 0]):
        name, first = block(datetime.fromtimestamp(float(t), tz=timezone.utc))
        starts.setdefault(name, first.timestamp())
    names = sorted(starts, key=starts.get)
    edges = [starts[n] for n in names] + [math.inf]
    return [Fold(name, (Piece(0, edges[i], edges[i + 1]),)) for i, name in enumerate(names)]


def event_item(result, fmt: str, piece: Piece | None = None) -> tuple:
    """``(events, warning times, days, quiet[, ends])`` of a replay for :func:`event_metrics`, over the
    window of ``piece`` (whole series without): events starting and warnings raised in it, sensor
    problems left out; with the warnings' ends for :data:`OPEN_CREDIT_FORMATS`."""
    s = result.series
    lo, hi = (piece.lo, piece.hi) if piece is not None else (-math.inf, math.inf)
    warnings = [w for w in result.warnings_for() if lo <= w.time < hi]
    events = [e for e in s.events if lo <= e.start < hi]
    if piece is None:
        days = s.days
    else:
        a, b = piece.rows(s.t)
        days = float(s.t[b - 1] - s.t[a]) / 86400.0 if b - a > 1 else 0.0
    item = (events if piece is not None else s.events, [w.time for w in warnings], days, s.quiet)
    if fmt in OPEN_CREDIT_FORMATS:
        return (*item, [w.end_time for w in warnings])
    return item
