"""``riverwatch evaluate``: replay a recorded data set through the production detectors and score it.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_commands(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["evaluate", "data", "--format", "nab", "--out", "o", "--param", "hold=50"])
>>> args.format, args.param, args.func is run
('nab', ['hold=50'], True)
>>> args = parser.parse_args(["evaluate", "rivertown/gauge-hochtal", "rivertown/wq-hochtal", "--format", "influx",
...                           "--out", "o", "--since", "7d"])
>>> args.data, args.since, args.until
(['rivertown/gauge-hochtal', 'rivertown/wq-hochtal'], '7d', 'now')
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evaluation import datasets, history, nab_score
from evaluation.corpus import default_detectors, load_paths, replay_corpus
from evaluation.fault_metrics import fault_metrics
from evaluation.folds import event_item
from evaluation.metrics import event_metrics, rain_precursor
from evaluation.report import write_results
from evaluation.search import add_search_options
from evaluation.visible_rise import summarise_visible
from evaluation.replay import ReplayResult, split_params

log = logging.getLogger(__name__)

#: How long before an event a warning still counts as its early warning, minutes, per format (influx:
#: how long before a production warning a candidate one that has ended by then still counts as it).
DEFAULT_LEAD_WINDOW_MIN = {"nab": 0.0, "csv": 60.0, "usgs": 1440.0, "gecco": 30.0, "qld": 0.0, "influx": 60.0}
#: Every ``--format``: the recorded files of :mod:`datasets`, and a station's own history in InfluxDB.
FORMATS = (*datasets.FORMATS, history.FORMAT)
FAULT_KEYS = ("fault_runs", "fault_runs_flagged", "fault_recall", "public_warnings_in_fault_runs",
              "false_sensor_flags_per_day")
SUMMARY_KEYS = ("precision", "recall", "f1", "lead_time_median_minutes", "lead_time_p10_minutes",
                "false_warnings_per_day")
#: The detector the weather series beside USGS events are replayed through (default parameters and
#: levels), and how long before a flood wave's crossing its warning counts as a precursor, minutes.
RAIN_DETECTOR = "rainfall"
RAIN_WINDOW_MIN = 1440.0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` to the ``riverwatch`` command."""
    p = subparsers.add_parser("evaluate", help="replay recorded data through the detectors and score them",
                              description=__doc__.splitlines()[0])
    p.add_argument("data", nargs="+", help="data folder (nab, usgs) or CSV file (gecco, csv, qld); influx: "
                   "partner/station (several, or a comma list; partner/* for all of a partner)")
    p.add_argument("--format", required=True, choices=FORMATS,
                   help="layout of DATA: nab (folder of NAB category folders), gecco (GECCO water-quality CSV), "
                        "usgs (folder of USGS flood-event CSVs), csv (timestamp,value[,label]), qld (river "
                        "sonde CSV with fault labels), influx (a station's own history in InfluxDB)")
    p.add_argument("--detector", action="append", default=[],
                   help="registered detector to run (repeatable; default: those of the format's hazard; "
                   "influx: production's ingest.detectors)")
    p.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="detector parameter, k=v for every selected detector having it or name.k=v")
    p.add_argument("--out", type=Path, required=True, help="results folder")
    p.add_argument("--categories", default="", help="nab: comma-separated category folders, or 'real'")
    p.add_argument("--limit", type=int, default=0, help="replay only the first N series")
    p.add_argument("--lead-window", type=float, default=None,
                   help="minutes before an event a warning still counts (default per format)")
    p.add_argument("--every", default="0", metavar="DURATION",
                   help="replay as a gauge reporting at most every DURATION (30m, 1h) would have sent it; "
                        "events keep their times")
    p.add_argument("--max-plots", type=int, default=8, help="series plots to draw (worst and best)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    h = p.add_argument_group("influx (replay a station's own history)")
    h.add_argument("--config", type=Path, default=None, help="settings TOML file: InfluxDB, catalog and "
                   "production's detectors (default riverwatch.toml)")
    h.add_argument("--since", default="7d", help="RFC 3339 time or a duration ago (7d, 12h); default 7d")
    h.add_argument("--until", default="now", help="RFC 3339 time, a duration ago, or now (default)")
    h.add_argument("--warmup", default="0", help="replayed before --since to settle detectors, not compared (e.g. 2d)")
    h.add_argument("--chunk", default="1d", help="time queried at once (default 1d; smaller = less memory)")
    c = p.add_argument_group("cross-validation (evaluation.cv)")
    c.add_argument("--cv", action="store_true", help="choose settings on the other folds, score each fold held "
                   "out (nab: by category; gecco: by file or month; usgs: by event, several folders allowed; "
                   "qld: by site or season)")
    add_search_options(c)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replay, score, write results, summary and plots; print the summary.

    ``--format influx`` replays stations' own history against production's warnings instead
    (:func:`evaluation.history.run`).

    Weather series (the rain beside USGS events) are replayed apart, through :data:`RAIN_DETECTOR`
    with its defaults, and scored as flood precursors under ``rain_precursor``; the warning metrics
    above it are those of the other series alone.
    """
    lead_window = 60.0 * (args.lead_window if args.lead_window is not None
                          else DEFAULT_LEAD_WINDOW_MIN[args.format])
    if args.format == history.FORMAT:
        return history.run(args, lead_window)
    if getattr(args, "cv", False):
        from evaluation import cv  # cross-validation: only when asked

        return cv.run(args, lead_window)
    started = time.perf_counter()
    names = args.detector or default_detectors(args.format)
    params = split_params(names, args.param)
    series = load_paths(args)
    args = _first_path(args)
    weather = [s for s in series if datasets.is_weather(s)]
    series = [s for s in series if not datasets.is_weather(s)]
    results = replay_corpus(series, names, params, fmt=args.format, progress=not args.no_progress)
    summary = with_end_to_end(summarise(results, names, params, args, lead_window), started)
    write_results(results, args.out, args.format)
    summary["plots"] = draw_plots(results, args.out, summary, args.max_plots)
    if weather:
        rain = replay_corpus(weather, [RAIN_DETECTOR], {RAIN_DETECTOR: {}}, fmt=args.format,
                             progress=not args.no_progress)
        write_results(rain, args.out, args.format)
        summary["rain_precursor"] = summarise_rain(results, rain, args.out, args.max_plots)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=_jsonable) + "\n")
    print_summary(summary)
    return 0


def _first_path(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with ``data`` as its first path (NAB's profiles are read there) and ``sources``, all of them."""
    return argparse.Namespace(**{**vars(args), "data": Path(args.data[0]), "sources": [str(p) for p in args.data]})


def nab_files(results: Sequence[ReplayResult]) -> list[nab_score.ScoredFile]:
    """The replayed NAB series as files for the NAB scorer."""
    return [nab_score.ScoredFile(f"{r.series.category}/{r.series.name}", r.scores,
                                 nab_score.window_rows(r.series.t, [(e.start, e.end) for e in r.series.events]),
                                 nab_score.probation_rows(len(r.series)))
            for r in results]


def summarise(results: Sequence[ReplayResult], names: Sequence[str], params: dict,
              args: argparse.Namespace, lead_window: float) -> dict:
    """The summary: event metrics, NAB scores (nab format), throughput and a per-series table."""
    items = [event_item(r, args.format) for r in results]
    metrics = event_metrics(items, lead_window)
    readings = sum(len(r.series) for r in results)
    seconds = sum(r.seconds for r in results)
    summary: dict[str, Any] = {key: getattr(metrics, key) for key in SUMMARY_KEYS}
    summary.update({
        "format": args.format, "data": ", ".join(args.sources), "detectors": list(names), "params": params,
        "series": len(results), "readings": readings, "replay_seconds": round(seconds, 3),
        "readings_per_s": round(readings / seconds) if seconds else None,
        "lead_window_minutes": lead_window / 60.0, "events": metrics.as_dict(),
        "sensor_warnings": sum(1 for r in results for w in r.warnings if w.hazard == "sensor"),
        "values_failed_qc": sum(r.values_failed_qc for r in results),
    })
    faulty = [r for r in results if "faults" in r.series.meta]
    if faulty:
        parts = [fault_metrics(r.series.meta["faults"], r.stream_levels, r.stream_hazards, r.lifecycle, r.series.t,
                               present={q: ~np.isnan(v) for q, v in r.series.columns.items()},
                               failed_qc=r.failed_qc)
                 for r in faulty]
        summary.update(parts[0] if len(parts) == 1 else {"fault_series": parts})
    per_series = []
    if args.format == "nab":
        files = nab_files(results)
        profiles = nab_score.profiles_from(datasets.nab_profiles(args.data)) \
            if (args.data / "profiles.json").exists() else nab_score.default_profiles()
        scored = nab_score.score_corpus(files, profiles)
        summary["nab"] = {name: round(res.score, 2) for name, res in scored.items()}
        summary["nab_detail"] = {name: {"threshold": res.threshold, "tp": res.tp, "fp": res.fp, "fn": res.fn,
                                        "raw": round(res.raw, 3)} for name, res in scored.items()}
        std = profiles.get("standard") or next(iter(profiles.values()))
        best = scored[std.name].threshold
        for f, r in zip(files, results):
            one = nab_score.corpus_score([f], std, best)
            per_series.append({"series": f.name, "raw": round(one.raw, 3), "tp": one.tp, "fp": one.fp,
                               "fn": one.fn})
    if not per_series:
        per_series = [{"series": f"{r.series.category}/{r.series.name}"} for r in results]
    for row, item, r in zip(per_series, items, results):
        one = event_metrics([item], lead_window)
        row.update({"values_failed_qc": r.values_failed_qc,
                    "events": one.events, "detected": one.detected, "warnings": one.warnings,
                    "false_warnings": one.false_warnings, "quiet": r.series.quiet,
                    "lead_times_minutes": [round(v, 1) for v in one.lead_times_minutes]})
    summary["per_series"] = per_series
    if args.format == "usgs":
        summary["visible_rise"] = summarise_visible([(r.series.t, r.series.columns["water_level"], e.reference)
                                                     for r in results if "water_level" in r.series.columns
                                                     for e in r.series.events])
    return summary


def with_end_to_end(summary: dict, started: float) -> dict:
    """``summary`` with ``end_to_end_seconds`` (loading, replay and scoring, from ``started``) and the
    readings per second over it after ``readings_per_s`` (which times the detector loop alone)."""
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {}
    for key, value in summary.items():
        out[key] = value
        if key == "readings_per_s":
            out["end_to_end_seconds"] = round(seconds, 3)
            out["readings_per_s_end_to_end"] = round(summary["readings"] / seconds) if seconds else None
    return out


def summarise_rain(results: Sequence[ReplayResult], rain: Sequence[ReplayResult], out: Path,
                   max_plots: int) -> dict:
    """Rain warnings as flood precursors (:func:`metrics.rain_precursor`) and one plot per event."""
    gauges = [r.series for r in results]
    summary: dict[str, Any] = {"detector": RAIN_DETECTOR, "params": "defaults",
                               "weather_series": len(rain), "readings": sum(len(r.series) for r in rain),
                               "unknown_hours": sum(r.series.meta.get("unknown_hours", 0) for r in rain)}
    summary.update(rain_precursor(gauges, [(r.series, r.levels) for r in rain], RAIN_WINDOW_MIN * 60.0))
    summary["plots"] = draw_rain_plots(gauges, rain, out, summary, max_plots)
    return summary


def draw_rain_plots(gauges: Sequence[datasets.Series], rain: Sequence[ReplayResult], out: Path, summary: dict,
                    max_plots: int) -> list[str]:
    """``plots/rain__<event>.png`` for the first ``max_plots`` events with weather."""
    from evaluation.plots import plot_rain  # matplotlib: only when drawing

    drawn = []
    for row in [e for e in summary["events"] if e["weather_stations"]][:max(max_plots, 0)]:
        event = row["event"]
        lead = row["rain_lead_minutes"]
        title = (f"{event}: rain warnings ({RAIN_DETECTOR}, defaults; orange) and flood-wave crossings (red)\n"
                 f"first rain warning {row['first_rain_warning_utc'] or 'none'}, earliest crossing "
                 f"{row['earliest_crossing_utc'] or 'none'}" + (f", lead {lead:+.0f} min" if lead is not None else "")
                 + f"; waves with a rain warning in the 24 h before: {row['waves_with_rain_warning_24h']}"
                 f"/{row['waves_with_weather']}")
        path = plot_rain([r for r in rain if r.series.category == event],
                         [s for s in gauges if s.category == event], out / "plots" / f"rain__{event}.png",
                         title=title)
        drawn.append(str(path.relative_to(out)))
    return drawn


def draw_plots(results: Sequence[ReplayResult], out: Path, summary: dict, max_plots: int) -> list[str]:
    """One plot per series (the worst and best few when there are more than ``max_plots``) + overview."""
    from evaluation.plots import plot_overview, plot_replay  # matplotlib: only when drawing

    rows = summary["per_series"]
    if "raw" in rows[0]:
        badness = [-row["raw"] for row in rows]
        values, xlabel = [row["raw"] for row in rows], "NAB raw score (standard, corpus threshold)"
    else:
        badness = [(row["events"] - row["detected"]) + row["false_warnings"] * 0.5 for row in rows]
        values, xlabel = [row["detected"] - row["events"] - row["false_warnings"] for row in rows], \
            "detected − events − false warnings"
    order = sorted(range(len(rows)), key=lambda k: badness[k], reverse=True)
    if len(order) > max_plots:
        half = max(max_plots // 2, 1)
        order = order[:half] + order[-(max_plots - half):] if max_plots > 1 else order[:1]
    threshold = None
    if "nab_detail" in summary:
        threshold = summary["nab_detail"].get("standard", {}).get("threshold")
    drawn = []
    for k in order[:max_plots]:
        r = results[k]
        path = out / "plots" / f"{r.series.category}__{r.series.name.removesuffix('.csv')}.png"
        plot_replay(r, path, threshold=threshold, waves=summary["format"] == "usgs",
                    title=f"{rows[k]['series']} — {xlabel.split('(')[0]}: {values[k]:.2f}")
        drawn.append(str(path.relative_to(out)))
    if len(rows) > 1:
        drawn.append(str(plot_overview([row["series"] for row in rows], values, out / "plots" / "overview.png",
                                       xlabel=xlabel).relative_to(out)))
    return drawn


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return str(v)


def print_summary(summary: dict) -> None:
    """Print the headline figures."""
    def fmt(v: Any) -> str:
        return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))
    ev = summary["events"]
    print(f"detectors: {', '.join(summary['detectors'])}   series: {summary['series']}   "
          f"readings: {summary['readings']} ({fmt(summary['readings_per_s'])}/s)"
          + (f"   values failed QC (not replayed): {summary['values_failed_qc']}" if summary.get("values_failed_qc") else ""))
    print(f"events: {ev['events']} detected: {ev['detected']} warnings: {ev['warnings']} "
          f"false: {ev['false_warnings']} quiet-period warnings: {ev['quiet_warnings']} "
          f"sensor warnings: {summary['sensor_warnings']}")
    print("  ".join(f"{k}={fmt(summary[k])}" for k in SUMMARY_KEYS))
    if "fault_runs" in summary:
        print("sensor faults: " + "  ".join(f"{k}={fmt(summary[k])}" for k in FAULT_KEYS)
              + f"  per type: {json.dumps({k: v['recall'] for k, v in summary['fault_recall_per_type'].items()})}"
              + f"  public warnings raised: {summary['public_warnings_by_hazard']}")
    if "nab" in summary:
        print("NAB: " + "  ".join(f"{k}={v:.1f} (threshold {summary['nab_detail'][k]['threshold']:.4f})"
                                  for k, v in summary["nab"].items()))
    if "visible_rise" in summary:
        print("waves visible at the gauge before their crossing (the most a stage-only warning can lead by): "
              + "  ".join(f"at {float(k.split('_')[1]):.0%} of the rise: median {fmt(v['median_minutes'])} min"
                          for k, v in summary["visible_rise"].items()))
    if "rain_precursor" in summary:
        print_rain(summary["rain_precursor"])


def print_rain(rain: dict) -> None:
    """Print the rain-precursor figures, one line per event."""
    print(f"rain precursor ({rain['detector']}, {rain['params']}; {rain['weather_series']} weather series): "
          f"waves with a rain warning in the {rain['window_hours']:g} h before their crossing: "
          f"{rain['waves_with_rain_warning_24h']}/{rain['waves_with_weather']} "
          f"(of {rain['waves']}: the others have no rain reported in that window)  rain warnings: "
          f"{rain['rain_warnings']}  in quiet periods: {rain['quiet_rain_warnings']}")
    for e in rain["events"]:
        if not e["weather_stations"]:
            print(f"  {e['event']}: no weather file ({e['waves']} waves)")
            continue
        lead = e["rain_lead_minutes"]
        print(f"  {e['event']}: first rain warning {e['first_rain_warning_utc'] or 'none'} "
              f"{e['first_rain_warning_level'] or ''} ({e['first_rain_warning_station'] or '-'}), earliest "
              f"crossing {e['earliest_crossing_utc'] or 'none'} ({e['earliest_crossing_station'] or '-'}), lead "
              f"{'n/a' if lead is None else f'{lead:.0f} min'}, {e['rain_warnings']} rain warnings "
              f"(highest {e['highest_rain_level']}), waves warned within {rain['window_hours']:g} h: "
              f"{e['waves_with_rain_warning_24h']}/{e['waves_with_weather']} (of {e['waves']})"
              + ("  [quiet]" if e["quiet"] else ""))
