"""The Detectors dashboard: scores beside decision levels, warnings per detector and per day,
and the latest evaluation results (measurement ``evaluation``, see :mod:`dashboards.evaluation_sink`).

One row per configured detector (``ingest.detectors``), so each detector's score and decision
level sit side by side.

Examples
--------
>>> model = detectors_board(["level_threshold", "rate_of_rise"])
>>> [p.title for p in model.panels if p.type_val != "row"][:2]
['Warnings raised per detector', 'Warnings raised per day']
"""

from __future__ import annotations

from typing import Sequence

from grafana_foundation_sdk.models import dashboard as dm

from riverwatch.storage import SCORE, WARNING
from dashboards.build import (
    UID_DETECTORS, Cell, dashboard, finish, influx, mapping, query_variable, ref_ids, row, stat,
    steps, table, timeseries,
)
from dashboards.evaluation_sink import MEASUREMENT
from dashboards.station import LEVEL_NAMES

PARTNERS = f'SHOW TAG VALUES FROM "{SCORE}" WITH KEY = "partner"'
STATIONS = f'SHOW TAG VALUES FROM "{SCORE}" WITH KEY = "station" WHERE "partner" =~ /^$partner$/'
_FILTER = '"partner" =~ /^$partner$/ AND "station" =~ /^$station$/'

EVALUATION = ('SELECT last("precision") AS "precision", last("recall") AS "recall", last("f1") AS "f1", '
              'last("lead_time_median_minutes") AS "lead time median (min)", '
              'last("false_warnings_per_day") AS "false warnings per day", '
              f'last("nab_standard") AS "NAB standard" FROM "{MEASUREMENT}" GROUP BY "detector", "dataset"')


def score_query(detector: str) -> str:
    """Mean score of ``detector`` per interval, station and quantity."""
    return (f'SELECT mean("{detector}") FROM "{SCORE}" WHERE {_FILTER} AND $timeFilter '
            'GROUP BY time($__interval), "station", "quantity" fill(none)')


def level_query(detector: str) -> str:
    """Highest decision level of ``detector`` per interval, station and quantity."""
    return (f'SELECT max("{detector}_level") FROM "{SCORE}" WHERE {_FILTER} AND $timeFilter '
            'GROUP BY time($__interval), "station", "quantity" fill(none)')


def warnings_per_day_query(detector: str) -> str:
    """Warnings raised by ``detector`` per day (``detector`` is a field of ``warning``)."""
    return (f'SELECT count("level") AS "{detector}" FROM "{WARNING}" WHERE "detector" = \'{detector}\' '
            f'AND "state" = \'raised\' AND {_FILTER} AND $timeFilter GROUP BY time(1d) fill(none)')


def warnings_total_query(detector: str) -> str:
    """Warnings raised by ``detector`` in the time range."""
    return (f'SELECT count("level") AS "{detector}" FROM "{WARNING}" WHERE "detector" = \'{detector}\' '
            f'AND "state" = \'raised\' AND {_FILTER} AND $timeFilter')


def detectors_board(detectors: Sequence[str]) -> dm.Dashboard:
    """Build the Detectors dashboard for the configured ``detectors``."""
    board = dashboard(UID_DETECTORS, "Riverwatch — Detectors",
                      "Detector scores and decisions side by side, warnings per detector, evaluation.",
                      time_from="now-7d")
    board.with_variable(query_variable("partner", "Partner", PARTNERS, include_all=True))
    board.with_variable(query_variable("station", "Station", STATIONS, include_all=True, multi=True))

    refs = ref_ids(detectors)
    board.with_panel(stat("Warnings raised per detector",
                          [influx(warnings_total_query(d), r) for d, r in zip(detectors, refs)],
                          Cell(0, 0, 8, 8), thresholds=steps("blue")))
    board.with_panel(timeseries("Warnings raised per day",
                                [influx(warnings_per_day_query(d), r) for d, r in zip(detectors, refs)],
                                Cell(8, 0, 16, 8), bars=True, decimals=0, minimum=0))
    board.with_panel(table("Latest evaluation results", [influx(EVALUATION, table=True)],
                           Cell(0, 8, 24, 7), sort_by="f1",
                           description="Written by the evaluation harness (measurement evaluation)."))
    y = 15
    for detector in detectors:
        board.with_row(row(detector, y))
        board.with_panel(timeseries(f"{detector}: score", [influx(score_query(detector),
                                                                  alias="$tag_station $tag_quantity")],
                                    Cell(0, y + 1, 12, 8)))
        board.with_panel(timeseries(f"{detector}: decision level",
                                    [influx(level_query(detector), alias="$tag_station $tag_quantity")],
                                    Cell(12, y + 1, 12, 8), mappings=[mapping(LEVEL_NAMES)],
                                    decimals=0, minimum=0))
        y += 9
    return finish(board)
