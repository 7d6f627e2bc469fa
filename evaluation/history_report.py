"""``riverwatch evaluate --format influx``: the comparison of the replayed warnings with production's.

Both sides become :class:`~evaluation.metrics.WarningSpan` lists (one per warning id, raised in the
span) compared by :func:`~evaluation.metrics.history_metrics`; the summary, the per-station CSVs
of paired warnings, the plots and the printed headline come from here.

Examples
--------
>>> headline({"matched": 1, "earlier_minutes_median": -5.0, "extra": 0, "missed": 1})
'these settings would have warned 5 min later (median of 1 matched), with 0 extra warnings and 1 missed'
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any, Sequence

from early_warning.params import PROPAGATION
from evaluation.history_query import public_url
from evaluation.history_replay import HistoryReplay, StationRun
from evaluation.history_span import NS, Span, stamp
from evaluation.metrics import HISTORY_KEYS, WarningSpan, combine_history, history_metrics, utc
from riverwatch.settings import Settings

FORMAT = "influx"


def _upstream(row: dict) -> str:
    if "upstream" in row:
        return row["upstream"] or ""
    try:
        return str(json.loads(row.get("evidence") or "{}").get("upstream", ""))
    except (ValueError, AttributeError):
        return ""


def warning_spans(rows: Sequence[dict], since_ns: int, until_ns: int) -> list[WarningSpan]:
    """One :class:`WarningSpan` per warning id raised in ``[since, until)``, from its rows (time order).

    The raise is the ``since`` field (the id's first row when absent); the warning ended at its last
    row when that row is ``cleared``.

    >>> rows = [{"time": 10 * NS, "id": "a", "state": "raised", "level": 1, "public": True, "hazard": "flood",
    ...          "since": 10 * NS}, {"time": 70 * NS, "id": "a", "state": "cleared", "level": 0,
    ...          "public": True, "hazard": "flood"}]
    >>> w = warning_spans(rows, 0, 100 * NS)[0]
    >>> (w.raised, w.ended, w.level, w.public)
    (10.0, 70.0, 1, True)
    """
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        if row.get("id"):
            grouped.setdefault(row["id"], []).append(row)
    out = []
    for wid, life in grouped.items():
        first, last = life[0], life[-1]
        raised_ns = int(first.get("since") or first["time"])
        if not since_ns <= raised_ns < until_ns:
            continue
        out.append(WarningSpan(
            wid, first.get("hazard") or "", raised_ns / NS,
            int(last["time"]) / NS if last.get("state") == "cleared" else None,
            max(int(r.get("level") or 0) for r in life), any(bool(r.get("public")) for r in life),
            first.get("detector") or "", first.get("quantity") or "",
            _upstream(first) if first.get("detector") == PROPAGATION else ""))
    out.sort(key=lambda w: (w.raised, w.id))
    return out


def compare_station(run: StationRun, production_rows: Sequence[dict], span: Span, replayed: set[str],
                    private: set[str], window_s: float) -> tuple[dict, list[WarningSpan], list[WarningSpan]]:
    """One station's comparison: :func:`history_metrics` over the hazards the candidate can raise,
    and the production and candidate warnings compared.

    Production warnings of other hazards, and those raised by propagation from a station not
    replayed, cannot be reproduced: they are counted apart (``not_compared``); maintenance notices
    (private hazards) are counted apart on both sides.
    """
    production = warning_spans(production_rows, span.since_ns, span.until_ns)
    candidate = warning_spans(run.events, span.since_ns, span.until_ns)
    hazards = (set(run.hazards) | {w.hazard for w in candidate}) - private
    compared = [w for w in production if w.hazard in hazards and not (w.upstream and w.upstream not in replayed)]
    skipped = [w for w in production if w not in compared and w.hazard not in private]
    mine = [w for w in candidate if w.hazard not in private]
    out = history_metrics(compared, mine, window_s)
    out["not_compared"] = len(skipped)
    out["not_compared_ids"] = [w.id for w in skipped]
    out["maintenance_notices"] = {"production": sum(w.hazard in private for w in production),
                                  "candidate": sum(w.hazard in private for w in candidate)}
    return out, compared, mine


def summarise(replay: HistoryReplay, production: dict, span: Span, names: Sequence[str], params: dict,
              settings: Settings, args: argparse.Namespace, window_s: float, n_chunks: int
              ) -> tuple[dict, dict[str, tuple[list[WarningSpan], list[WarningSpan]]]]:
    """The summary (the span and settings, ``history`` totals, the per-station table) and, per
    station, the production and candidate warnings compared (for the plots)."""
    replayed = {st.station.id for st in replay.runs.values()}
    per_series, compared = [], {}
    for key, run in replay.runs.items():
        cmp, ours, theirs = compare_station(run, production.get(key, ()), span, replayed, replay.private, window_s)
        compared[run.name] = (ours, theirs)
        per_series.append({
            "series": run.name, "readings": run.readings, "values_failed_qc": run.failed,
            "detector_errors": run.errors,
            "first_utc": utc(run.first_ns / NS) if run.first_ns else None,
            "last_utc": utc(run.last_ns / NS) if run.last_ns else None, "hazards": run.hazards,
            "history": {k: v for k, v in cmp.items() if k != "pairs"}, "warnings": cmp["pairs"]})
        _write_warnings(args.out, run, cmp["pairs"])
    readings = sum(r.readings for r in replay.runs.values())
    totals = combine_history([row["history"] for row in per_series])
    totals["not_compared"] = sum(row["history"]["not_compared"] for row in per_series)
    summary = {
        "format": FORMAT, "data": [r.name for r in replay.runs.values()],
        "database": settings.influx.database, "url": public_url(settings.influx.url),
        "since": stamp(span.since_ns), "until": stamp(span.until_ns), "warmup_hours": span.warmup_ns / NS / 3600.0,
        "chunks": n_chunks, "detectors": list(names), "params": params,
        "production_detectors": list(settings.ingest.detectors),
        "production_params": settings.ingest.detector_params,
        "series": len(per_series), "readings": readings,
        "values_failed_qc": sum(r.failed for r in replay.runs.values()),
        "replay_seconds": round(replay.seconds, 3),
        "readings_per_s": round(readings / replay.seconds) if replay.seconds else None,
        "lead_window_minutes": window_s / 60.0, "history": totals, "per_series": per_series}
    return summary, compared


def _write_warnings(out: Path, run: StationRun, pairs: Sequence[dict]) -> None:
    """``out/<partner>/<station>_warnings.csv``: every compared warning of both sides, paired."""
    path = out / run.station.partner / f"{run.station.id}_warnings.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = ["hazard", "production_id", "production_raised_utc", "production_level", "production_public",
            "candidate_id", "candidate_raised_utc", "candidate_level", "candidate_public", "earlier_minutes"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(keys)
        for row in pairs:
            w.writerow(["" if row[k] is None else row[k] for k in keys])


def draw_plots(replay: HistoryReplay, summary: dict, compared: dict, out: Path, max_plots: int) -> list[str]:
    """``plots/<partner>__<station>.png`` for the stations that disagree most (first ``max_plots``)."""
    from evaluation.plots import plot_history  # matplotlib: only when drawing

    rows = {row["series"]: row["history"] for row in summary["per_series"]}
    runs = sorted((r for r in replay.runs.values() if r.readings),
                  key=lambda r: -(rows[r.name]["extra"] + rows[r.name]["missed"]))
    drawn = []
    for run in runs[:max(max_plots, 0)]:
        h = rows[run.name]
        data = run.plot.array()
        q = len(run.quantities)
        title = (f"{run.name}: production {h['production_warnings']} warnings (red, dashed), candidate "
                 f"{h['candidate_warnings']} (orange); matched {h['matched']}, earlier by "
                 f"{_fmt(h['earlier_minutes_median'])} min (median), extra {h['extra']}, missed {h['missed']}\n"
                 f"{summary['since']} → {summary['until']}")
        path = plot_history(data[:, 0], {name: data[:, 1 + k] for k, name in enumerate(run.quantities)},
                            data[:, 1 + q], data[:, 2 + q], *compared[run.name],
                            out / "plots" / f"{run.station.partner}__{run.station.id}.png", title=title)
        drawn.append(str(path.relative_to(out)))
    return drawn


def _fmt(v: Any) -> str:
    return "n/a" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def headline(h: dict) -> str:
    """The sentence engineers quote.

    >>> headline({"matched": 3, "earlier_minutes_median": 25.0, "extra": 2, "missed": 0})
    'these settings would have warned 25 min earlier (median of 3 matched), with 2 extra warnings and 0 missed'
    >>> headline({"matched": 0, "earlier_minutes_median": None, "extra": 1, "missed": 2})
    'these settings matched none of the production warnings, with 1 extra warning and 2 missed'
    """
    m = h["earlier_minutes_median"]
    extra = f"{h['extra']} extra warning{'s' if h['extra'] != 1 else ''} and {h['missed']} missed"
    if not h["matched"]:
        return f"these settings matched none of the production warnings, with {extra}"
    when = ("at the same time" if m == 0 else f"{abs(m):g} min {'earlier' if m > 0 else 'later'}")
    return f"these settings would have warned {when} (median of {h['matched']} matched), with {extra}"


def print_history(summary: dict) -> None:
    """Print the span, one line per station and the headline figures."""
    print(f"detectors: {', '.join(summary['detectors'])}   stations: {summary['series']}   readings: "
          f"{summary['readings']} ({_fmt(summary['readings_per_s'])}/s)   {summary['since']} → {summary['until']}")
    for row in summary["per_series"]:
        h = row["history"]
        if not row["readings"] and not h["production_warnings"] and not h["candidate_warnings"]:
            print(f"  {row['series']}: no readings and no warnings in the span")
            continue
        own = "" if row["readings"] else "(no readings of its own) "
        print(f"  {row['series']}: {own}production {h['production_warnings']} warnings ({h['production_public']} "
              f"public), candidate {h['candidate_warnings']} ({h['candidate_public']} public); matched {h['matched']}, "
              f"earlier by {_fmt(h['earlier_minutes_median'])} min (median), extra {h['extra']}, "
              f"missed {h['missed']}" + (f", not comparable {h['not_compared']}" if h["not_compared"] else ""))
    h = summary["history"]
    print("history: " + "  ".join(f"{k}={_fmt(h[k])}" for k in HISTORY_KEYS))
    print(headline(h))
