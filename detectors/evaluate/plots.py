"""PNG plots of a replay (matplotlib, Agg backend): the series, labelled windows, raised warnings and
the score with its threshold; plus an overview bar chart of per-series results."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from detectors.evaluate.replay import ReplayResult  # noqa: E402

_MAX_PANELS = 4


def _dates(t: np.ndarray) -> np.ndarray:
    return (np.asarray(t) * 1e3).astype("datetime64[ms]")


def with_gaps(t: np.ndarray, *columns: np.ndarray, factor: float = 4.0) -> tuple[np.ndarray, ...]:
    """``t`` and ``columns`` with a NaN row inserted in every gap longer than ``factor`` × the median
    interval, so a plotted line breaks where the data stops instead of bridging the silence.

    >>> t, v = with_gaps(np.array([0.0, 1.0, 2.0, 10.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    >>> v.tolist()
    [1.0, 2.0, 3.0, nan, 4.0]
    """
    t = np.asarray(t, dtype=float)
    if len(t) < 3:
        return (t, *(np.asarray(c, dtype=float) for c in columns))
    dt = np.diff(t)
    cut = np.flatnonzero(dt > factor * np.median(dt)) + 1
    gap_t = (t[cut - 1] + t[cut]) / 2
    return (np.insert(t, cut, gap_t), *(np.insert(np.asarray(c, dtype=float), cut, np.nan) for c in columns))


def plot_replay(result: ReplayResult, path: Path, *, threshold: float | None = None, title: str = "",
                dpi: int = 70) -> Path:
    """Draw one series: up to four quantities, event windows (red), warnings (orange), the score."""
    series = result.series
    quantities = list(series.columns)[:_MAX_PANELS]
    fig, axes = plt.subplots(len(quantities) + 1, 1, figsize=(11, 1.6 * (len(quantities) + 1) + 0.6),
                             sharex=True, squeeze=False)
    t, scores, *columns = with_gaps(series.t, result.scores, *(series.columns[q] for q in quantities))
    when = _dates(t)
    for ax, q, values in zip(axes[:, 0], quantities, columns):
        ax.plot(when, values, lw=0.5, color="tab:blue")
        ax.set_ylabel(q, fontsize=7)
    score_ax = axes[-1, 0]
    score_ax.plot(when, scores, lw=0.5, color="tab:purple")
    score_ax.set_ylim(-0.02, 1.02)
    score_ax.set_ylabel("score", fontsize=7)
    if threshold is not None and np.isfinite(threshold):
        score_ax.axhline(threshold, color="k", lw=0.7, ls="--")
    for ax in axes[:, 0]:
        for ev in series.events:
            ax.axvspan(*_dates(np.array([ev.start, ev.end])), color="tab:red", alpha=0.18, lw=0)
        for w in result.warnings:
            ax.axvline(_dates(np.array([w.time]))[0], color="tab:orange" if w.hazard != "sensor" else "tab:gray",
                       lw=0.8, alpha=0.9)
        ax.tick_params(labelsize=7)
    score_ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(score_ax.xaxis.get_major_locator()))
    fig.suptitle(title or f"{series.category}/{series.name}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_overview(labels: Sequence[str], values: Sequence[float], path: Path, *, xlabel: str,
                  dpi: int = 70) -> Path:
    """Horizontal bar chart of one figure per series (e.g. NAB raw score, missed events)."""
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(labels) + 1.0))
    y = np.arange(len(labels))
    ax.barh(y, values, color=["tab:green" if v >= 0 else "tab:red" for v in values])
    ax.set_yticks(y, [label[:40] for label in labels], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
