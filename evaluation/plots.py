"""PNG plots of a replay (matplotlib, Agg backend): the series, labelled windows, raised warnings and
the score with its threshold; an overview bar chart of per-series results; the rain of an event
against its gauges' flood waves; and a station's replayed history against production's warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from riverwatch.errors import ConfigError

try:
    import matplotlib
except ImportError:  # an optional dependency: the "plots" extra
    raise ConfigError("plots need matplotlib: pip install 'riverwatch[plots]'") from None

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from evaluation.replay import ReplayResult  # noqa: E402
from evaluation.visible_rise import visible_minutes  # noqa: E402

_MAX_PANELS = 4
#: Quantities a replay plot draws at most (a water-quality station has nine: turbidity is the sixth).
_MAX_REPLAY_PANELS = 10


def _dates(t: np.ndarray) -> np.ndarray:
    return (np.asarray(t) * 1e3).astype("datetime64[ms]")


def _save(fig, path: Path, dpi: int, *, title: str = "", fontsize: int = 9) -> Path:
    """Title, lay out, write ``path`` (its folder created) and free the figure; ``path`` back."""
    if title:
        fig.suptitle(title, fontsize=fontsize)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


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
                dpi: int = 70, waves: bool = False) -> Path:
    """Draw one series: its quantities (up to ten), event windows (red), warnings (orange; sensor
    problems grey), labelled sensor-fault runs (grey bands on their quantity), the score; with
    ``waves`` (floods), on the stage each wave's crossing and where it became visible at the gauge."""
    series = result.series
    quantities = list(series.columns)[:_MAX_REPLAY_PANELS]
    height = 1.6 if len(quantities) <= 4 else 1.1
    fig, axes = plt.subplots(len(quantities) + 1, 1, figsize=(11, height * (len(quantities) + 1) + 0.6),
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
    _shade_faults(dict(zip(quantities, axes[:, 0])), series)
    if waves:
        _mark_visible(dict(zip(quantities, axes[:, 0])), series)
    score_ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(score_ax.xaxis.get_major_locator()))
    return _save(fig, path, dpi, title=title or f"{series.category}/{series.name}", fontsize=9)


def _mark_visible(axes: dict, series) -> None:
    """On the stage panel, each wave's crossing (red, dashed) and where it became visible at the gauge
    (green, dotted: 10 % of the rise, :mod:`evaluation.visible_rise`), the earliest a stage-only warning
    could come."""
    ax = axes.get("water_level")
    if ax is None:
        return
    for ev in series.events:
        minutes = visible_minutes(series.t, series.columns["water_level"], ev.reference, 0.1)
        ax.axvline(_dates(np.array([ev.reference]))[0], color="tab:red", ls="--", lw=0.9)
        if np.isfinite(minutes):
            ax.axvline(_dates(np.array([ev.reference - 60.0 * minutes]))[0], color="tab:green", ls=":", lw=1.2)


def _shade_faults(axes: dict, series) -> None:
    """A grey band over each labelled sensor-fault run (``meta["faults"]``) on its quantity's panel."""
    t = series.t
    for f in series.meta.get("faults", ()):
        ax = axes.get(f.quantity)
        if ax is not None:
            end = t[min(f.last + 1, len(t) - 1)]
            ax.axvspan(*_dates(np.array([t[f.first], end])), color="0.3", alpha=0.3, lw=0)


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
    return _save(fig, path, dpi)


def rolling_sum(t: np.ndarray, values: np.ndarray, span_s: float) -> np.ndarray:
    """Sum of ``values`` over ``(t − span_s, t]`` at every ``t`` (sorted; NaN counts as nothing).

    >>> rolling_sum(np.array([0.0, 3600.0, 7200.0, 10800.0]), np.array([1.0, np.nan, 2.0, 4.0]), 7200.0).tolist()
    [1.0, 1.0, 2.0, 6.0]
    """
    t = np.asarray(t, dtype=float)
    total = np.r_[0.0, np.cumsum(np.nan_to_num(np.asarray(values, dtype=float)))]
    first = np.searchsorted(t, t - span_s, side="right")
    return total[1:] - total[first]


def _relative(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to 0 at their lowest and 1 at their highest (NaN kept)."""
    lo, hi = np.nanmin(values), np.nanmax(values)
    return (values - lo) / (hi - lo) if hi > lo else values - lo


def plot_rain(rain: Sequence[ReplayResult], gauges: Sequence, path: Path, *, title: str = "",
              span: tuple[float, float] | None = None, dpi: int = 70) -> Path:
    """Rain of one event against its river.

    Per weather station: the hourly rain (bars; unreported hours shaded grey), its 6 h and 24 h
    sums, the rain warning levels (orange, darker = higher; a line where one is raised or
    escalated). Below: each gauge's stage (discharge without one) from its lowest (0) to its peak
    (1). Red dashed lines: the crossings of every flood wave, on every panel. ``span`` (epoch s)
    zooms in on part of the event.
    """
    fig, axes = plt.subplots(len(rain) + 1, 1, figsize=(11, 1.9 * len(rain) + 2.2), sharex=True, squeeze=False)
    crossings = sorted(ev.reference for s in gauges for ev in s.events)
    for ax, r in zip(axes[:-1, 0], rain):
        t, mm = r.series.t, r.series.columns["precipitation"]
        ax.bar(_dates(t - 3600.0), np.nan_to_num(mm), width=1 / 24, align="edge", color="tab:blue", zorder=3,
               label="rain in the hour (mm)")
        for k in np.flatnonzero(np.isnan(mm)).tolist():
            ax.axvspan(*_dates(np.array([t[k] - 3600.0, t[k]])), color="tab:gray", alpha=0.3, lw=0)
        ax.set_ylabel(f"{r.series.name.removesuffix('.csv')}\nmm / h", fontsize=7)
        acc = ax.twinx()
        for hours, style in ((6, ":"), (24, "-")):
            acc.plot(_dates(t), rolling_sum(t, mm, hours * 3600.0), lw=0.9, ls=style, color="tab:purple",
                     label=f"{hours} h sum (mm)")
        acc.set_ylabel("sum, mm", fontsize=7)
        acc.tick_params(labelsize=7)
        _shade_levels(ax, t, r.levels)
        handles = ax.get_legend_handles_labels()[0] + acc.get_legend_handles_labels()[0]
        ax.legend(handles=handles, fontsize=6, loc="upper left")
    river_ax = axes[-1, 0]
    for s in gauges:
        quantity = "water_level" if "water_level" in s.columns else next(iter(s.columns))
        t, v = with_gaps(s.t, _relative(s.columns[quantity]))
        river_ax.plot(_dates(t), v, lw=0.8, label=s.name.removesuffix(".csv"))
    river_ax.set_ylabel("gauges, low → peak", fontsize=7)
    river_ax.legend(fontsize=6, loc="upper left", ncol=max(len(gauges), 1))
    for ax in axes[:, 0]:
        for c in crossings:
            ax.axvline(_dates(np.array([c]))[0], color="tab:red", ls="--", lw=0.9)
        ax.tick_params(labelsize=7)
    if span is not None:
        river_ax.set_xlim(*_dates(np.asarray(span, dtype=float)))
    river_ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(river_ax.xaxis.get_major_locator()))
    return _save(fig, path, dpi, title=title, fontsize=9)


def _shade_levels(ax, t: np.ndarray, levels: np.ndarray) -> None:
    """Orange background per run of a warning level (alpha grows with the level), a line at each rise."""
    lv = np.asarray(levels, dtype=int)
    change = np.flatnonzero(np.diff(np.r_[0, lv]) != 0).tolist() + [len(lv)]
    for a, b in zip(change, change[1:]):
        if lv[a] > 0:
            end = t[b] if b < len(t) else t[-1]
            ax.axvspan(*_dates(np.array([t[a], end])), color="tab:orange", alpha=0.1 * lv[a], lw=0)
            if a == 0 or lv[a] > lv[a - 1]:
                ax.axvline(_dates(np.array([t[a]]))[0], color="tab:orange", lw=1.2)


def plot_history(t: np.ndarray, columns: dict[str, np.ndarray], candidate_level: np.ndarray,
                 production_level: np.ndarray, production: Sequence, candidate: Sequence, path: Path, *,
                 title: str = "", dpi: int = 70) -> Path:
    """One station's replayed history against what production raised.

    Up to four quantities, then the warning level over time: production's (red, dashed) and the
    candidate's (orange, solid). On every panel each production warning's raise is a red dashed
    line and each candidate warning's an orange solid one (``.raised``, epoch s; a public warning
    drawn bolder than a maintenance or held one).
    """
    quantities = list(columns)[:_MAX_PANELS]
    fig, axes = plt.subplots(len(quantities) + 1, 1, figsize=(11, 1.6 * (len(quantities) + 1) + 0.8),
                             sharex=True, squeeze=False)
    tt, cand, prod, *values = with_gaps(t, candidate_level, production_level, *(columns[q] for q in quantities))
    when = _dates(tt)
    for ax, q, v in zip(axes[:, 0], quantities, values):
        ax.plot(when, v, lw=0.6, color="tab:blue")
        ax.set_ylabel(q, fontsize=7)
    level_ax = axes[-1, 0]
    level_ax.plot(when, prod, drawstyle="steps-post", color="tab:red", ls="--", lw=1.2, label="production")
    level_ax.plot(when, cand, drawstyle="steps-post", color="tab:orange", lw=1.0, label="candidate")
    level_ax.set_ylim(-0.2, 4.4)
    level_ax.set_yticks([0, 1, 2, 3, 4], ["none", "advisory", "watch", "warning", "emergency"], fontsize=6)
    level_ax.set_ylabel("warning level", fontsize=7)
    level_ax.legend(fontsize=6, loc="upper left")
    for ax in axes[:, 0]:
        for w in production:
            ax.axvline(_dates(np.array([w.raised]))[0], color="tab:red", ls="--", lw=1.4 if w.public else 0.7)
        for w in candidate:
            ax.axvline(_dates(np.array([w.raised]))[0], color="tab:orange", lw=1.4 if w.public else 0.7, alpha=0.9)
        ax.tick_params(labelsize=7)
    level_ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(level_ax.xaxis.get_major_locator()))
    return _save(fig, path, dpi, title=title, fontsize=8)


def plot_cv_folds(folds: Sequence[str], in_sample: Sequence[float | None], held_out: Sequence[float | None],
                  path: Path, *, ylabel: str, pooled: tuple[float | None, float | None] | None = None,
                  dpi: int = 80) -> Path:
    """Per fold, the objective of the in-sample choice (grey) beside the held-out one (blue); the
    pooled figures as dashed lines."""
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(folds) + 2.0) + 2.6, 3.6))
    x = np.arange(len(folds))
    nums = [np.nan if v is None else v for v in in_sample], [np.nan if v is None else v for v in held_out]
    ax.bar(x - 0.2, nums[0], width=0.4, color="tab:gray", label="in-sample choice")
    ax.bar(x + 0.2, nums[1], width=0.4, color="tab:blue", label="held out (chosen on the other folds)")
    if pooled is not None:
        for v, color, name in zip(pooled, ("tab:gray", "tab:blue"), ("in-sample, all", "cross-validated, pooled")):
            if v is not None:
                ax.axhline(v, color=color, ls="--", lw=1.0, label=f"{name}: {v:.3g}")
    ax.set_xticks(x, [f[:18] for f in folds], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # beside the bars, never over them
    fig.subplots_adjust(right=0.68, bottom=0.25)
    return _save(fig, path, dpi, title="per fold: in-sample against held out", fontsize=9)


def plot_tradeoff(points: Sequence[dict], front: Sequence[int], picked: int, path: Path, *,
                  recall_label: str = "recall", dpi: int = 80) -> Path:
    """False warnings per day against recall and against median lead (held-out figures of each
    candidate); the Pareto front joined in red, the picked point circled."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    x = np.array([np.nan if p["false_per_day"] is None else p["false_per_day"] for p in points], dtype=float)
    for ax, key, label in ((axes[0], "recall", recall_label), (axes[1], "lead_median_minutes", "median lead, min")):
        y = np.array([np.nan if p.get(key) is None else p[key] for p in points], dtype=float)
        ax.scatter(x, y, s=18, color="tab:blue", zorder=3)
        for k, p in enumerate(points):
            ax.annotate(str(p["number"]), (x[k], y[k]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        order = sorted(front, key=lambda k: (x[k], y[k]))
        ax.plot(x[order], y[order], color="tab:red", lw=1.0, marker="o", ms=5, mfc="none", label="Pareto front")
        ax.scatter(x[[picked]], y[[picked]], s=140, facecolors="none", edgecolors="k", lw=1.5, label="picked",
                   zorder=4)
        ax.set_xlabel("false warnings per day (held out)", fontsize=8)
        ax.set_ylabel(f"{label} (held out)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    return _save(fig, path, dpi, title="cross-validated trade-off of the candidate settings", fontsize=9)
