"""``riverwatch evaluate --format influx``: replay what stations recorded, with candidate detector
settings, and compare with the warnings production raised.

The parts, in the order a run uses them:

- :mod:`evaluation.history_span`: the replayed time (``--since``, ``--until``, ``--warmup``,
  ``--chunk``) and the ``partner/station`` items;
- :mod:`evaluation.history_query`: the ``reading`` rows of each chunk, pivoted into reading sets
  (QC ``FAIL`` values left out, as the pipeline leaves them out), and production's ``warning`` rows;
- :mod:`evaluation.history_replay`: each station's candidate streams stepped as production steps
  them (:class:`~early_warning.stepper.StationStepper`) and one production
  :class:`~early_warning.lifecycle.WarningBook` over the whole catalog, with production's
  ``[lifecycle]`` settings, ticking at every reading;
- :mod:`evaluation.history_report`: both sides as warning spans, compared by
  :func:`~evaluation.metrics.history_metrics`, and the summary, CSVs, plots and headline.

Examples
--------
>>> from riverwatch.settings import Settings
>>> candidate_settings(Settings(ingest={"detector_params": {"rate_of_rise": {"points": 8, "jump_s": 900}}}),
...                    ["rate_of_rise"], ["points=10"])
(['rate_of_rise'], {'rate_of_rise': {'points': 10, 'jump_s': 900}})
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from detectors.base import get
from early_warning.params import lifecycle_params
from evaluation.history_query import public_url, read_chunk, read_warnings
from evaluation.history_replay import HistoryReplay
from evaluation.history_report import FORMAT, draw_plots, print_history, summarise
from evaluation.history_span import NS, Span, parse_duration, resolve_stations
from evaluation.metrics import utc
from evaluation.replay import split_params
from riverwatch.catalog import Station, load_catalog
from riverwatch.errors import ConfigError
from riverwatch.settings import Settings

__all__ = ["FORMAT", "candidate_settings", "run"]


def candidate_settings(settings: Settings, detectors: Sequence[str], pairs: Sequence[str]
                       ) -> tuple[list[str], dict]:
    """The candidate detectors (``--detector``, else production's ``ingest.detectors``) and their
    parameters: production's ``ingest.detector_params`` overridden by ``--param``, checked once."""
    names = list(detectors) or list(settings.ingest.detectors)
    if not names:
        raise ConfigError("evaluate: no detectors: give --detector or set ingest.detectors")
    given = split_params(names, pairs)
    params = {}
    for name in names:
        merged = {**settings.ingest.detector_params.get(name, {}), **given[name]}
        get(name).parse_params(merged)
        params[name] = merged
    return names, params


def run(args: argparse.Namespace, lead_window_s: float) -> int:
    """Replay the stations' history with the candidate settings; write and print the comparison."""
    settings = Settings.load(args.config)
    catalog = load_catalog(settings.catalog)
    stations = resolve_stations(catalog, args.data, where=f"the catalog {settings.catalog}")
    names, params = candidate_settings(settings, args.detector, args.param)
    lifecycle = lifecycle_params(settings)
    span = Span.parse(args.since, args.until, args.warmup)
    chunks = span.chunks(int(round(parse_duration(args.chunk, "--chunk") * NS)))
    client = settings.influx.client()
    try:
        production = read_warnings(client, stations, span)
        replay = HistoryReplay(catalog, stations, names, params, production, lifecycle)
        args.out.mkdir(parents=True, exist_ok=True)
        _clear_outputs(args.out, stations)
        with tqdm(chunks, unit="chunk", desc="history", disable=args.no_progress, file=sys.stderr,
                  mininterval=1.0) as bar:
            for a, b in bar:
                replay.feed(read_chunk(client, stations, a, b))
                replay.flush(args.out)
                bar.set_postfix(readings=sum(r.readings for r in replay.runs.values()), refresh=False)
    finally:
        client.close()
    if not any(r.readings for r in replay.runs.values()):
        raise ConfigError(f"evaluate: no readings of {', '.join(r.name for r in replay.runs.values())} "
                          f"from {utc(span.start_ns / NS)} to {utc(span.until_ns / NS)} UTC in database "
                          f"{settings.influx.database!r} at {public_url(settings.influx.url)}")
    summary, compared = summarise(replay, production, span, names, params, settings, args, lead_window_s,
                                  len(chunks))
    summary["plots"] = draw_plots(replay, summary, compared, args.out, args.max_plots)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_history(summary)
    return 0


def _clear_outputs(out: Path, stations: Sequence[Station]) -> None:
    """Remove the per-station CSVs of an earlier run (the replay appends to them)."""
    for st in stations:
        (out / st.partner / f"{st.id}.csv").unlink(missing_ok=True)
