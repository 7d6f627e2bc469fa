"""The review's plot: each quantity that crossed a threshold over the incident, its thresholds and
the warnings raised for it, as PNG bytes for a data URI (matplotlib, Agg backend, imported only
when drawing; without it the report has no plot and says so)."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from application.review.i18n import label, word
from application.review.timeline import NS, Timeline

#: Threshold and warning colours by level (those of the alert pages).
LEVEL_COLOURS = {"advisory": "#c9a400", "watch": "#f08a00", "warning": "#d0191c", "emergency": "#6a1b9a",
                 "none": "#2e7d32"}
MAX_PANELS = 6


def plotted(timeline: Timeline, order: list[str] | None = None) -> list[tuple[str, str, str]]:
    """The series worth a panel: those that crossed a threshold, at most :data:`MAX_PANELS`, in the
    order of the station ids ``order`` (the catalog's: upstream to downstream)."""
    rank = {station: i for i, station in enumerate(order or [])}
    keys = sorted({(r.partner, r.station, r.quantity) for r in timeline.of("crossing")},
                  key=lambda k: (rank.get(k[1], len(rank)), k))
    return [k for k in keys if timeline.series.get(k)][:MAX_PANELS]


def incident_png(timeline: Timeline, names: dict[str, str], lang: str, tz: str) -> bytes | None:
    """One panel per plotted series, times in ``tz``; None without matplotlib or anything to draw.

    ``names`` maps station ids to display names, in the order of the panels.
    """
    keys = plotted(timeline, list(names))
    if not keys:
        return None
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    fig, axes = plt.subplots(len(keys), 1, figsize=(9.5, 2.3 * len(keys) + 0.4), sharex=True, squeeze=False)
    raises = [r for r in timeline.of("warning") if r.state in ("raised", "escalated") and r.public]
    for ax, key in zip(axes[:, 0], keys):
        points = timeline.series[key]
        times = [datetime.fromtimestamp(t / NS, timezone.utc) for t, _ in points]
        ax.plot(times, [v for _, v in points], color="#1f4e79", linewidth=1.4)
        for name, threshold in timeline.thresholds.get(key, {}).items():
            values = [v for _, v in points]
            near = threshold >= min(values) * 0.8 if key in timeline.below else threshold <= max(values) * 1.25
            if near:
                ax.axhline(threshold, color=LEVEL_COLOURS[name], linestyle="--", linewidth=0.9)
                ax.annotate(word("level", name, lang), (1.0, threshold), xycoords=("axes fraction", "data"),
                            xytext=(3, 0), textcoords="offset points", fontsize=7, va="center",
                            color=LEVEL_COLOURS[name])
        for r in raises:
            if (r.partner, r.station) == key[:2]:
                ax.axvline(datetime.fromtimestamp(r.time_s, timezone.utc), color=LEVEL_COLOURS.get(r.level, "#555"),
                           linewidth=1.1, alpha=0.8)
        ax.set_title(f"{names.get(key[1], key[1])} · {word('quantity', key[2], lang)}", fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.25)
    axes[-1, 0].xaxis.set_major_formatter(mdates.DateFormatter("%d.%m. %H:%M", tz=zone))
    axes[-1, 0].set_xlabel(f"{label('time', lang)} ({tz})", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()
