"""The Detectors dashboard: scores beside decision levels, warnings per detector and per day,
and the latest evaluation results (measurement ``evaluation``, see :mod:`dashboards.evaluation_sink`).

One row per configured detector (``ingest.detectors``), so each detector's score and decision
level sit side by side. A partner's copy (one per language, :mod:`dashboards.audience`) fixes
``partner`` to its own stations; the evaluation results concern the detectors, not a partner,
and are the same in every copy.

Examples
--------
>>> model = detectors_board(["level_threshold", "rate_of_rise"])
>>> [p.title for p in model.panels if p.type_val != "row"][:2]
['Warnings raised per detector', 'Warnings raised per day']
>>> from dashboards.audience import Audience
>>> german = detectors_board(["level_threshold"], Audience("rivertown", "Rivertown", "de", "Europe/Berlin"))
>>> german.uid, german.title, german.timezone, [p.title for p in german.panels][-1]
('rw-detectors-rivertown', 'Riverwatch — Detektoren (Rivertown)', 'Europe/Berlin', 'level_threshold: Entscheidungsstufe')
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from riverwatch.storage import SCORE, WARNING
from dashboards.audience import SHARED, Audience
from dashboards.build import (
    UID_DETECTORS, Cell, dashboard, finish, influx, mapping, query_variable, ref_ids, row, stat,
    steps, table, timeseries, transformation,
)
from dashboards.evaluation_sink import MEASUREMENT, METRICS
from dashboards.i18n import headers, localised, text
from dashboards.station import LEVEL_NAMES, partner_variable

PARTNERS = f'SHOW TAG VALUES FROM "{SCORE}" WITH KEY = "partner"'
STATIONS = f'SHOW TAG VALUES FROM "{SCORE}" WITH KEY = "station" WHERE "partner" =~ /^$partner$/'
_FILTER = '"partner" =~ /^$partner$/ AND "station" =~ /^$station$/'

#: The latest of every result field (column headers from :func:`dashboards.i18n.headers`).
EVALUATION = ("SELECT " + ", ".join(f'last("{name}") AS "{name}"' for name in METRICS)
              + f' FROM "{MEASUREMENT}" GROUP BY "detector", "dataset"')


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


def evaluation_table(cell: Cell, lang: str):
    """The latest result of every detector on every data set, best F1 first, headers in ``lang``."""
    names = ("detector", "dataset", *(f for f in METRICS if f != "f1"))
    organize = transformation("organize", {"renameByName": headers(names, lang)})
    return table(text("panel.evaluation", lang), [influx(EVALUATION, table=True)], cell, sort_by="f1",
                 description=text("panel.evaluation.description", lang), transformations=[organize], lang=lang)


def detector_row(board: db.Dashboard, detector: str, y: int, lang: str) -> None:
    """A row at ``y`` with ``detector``'s score beside its decision level."""
    legend = dict(alias="$tag_station $tag_quantity")
    board.with_row(row(detector, y))
    board.with_panel(timeseries(text("panel.detector_score", lang, detector=detector),
                                [influx(score_query(detector), **legend)], Cell(0, y + 1, 12, 8)))
    board.with_panel(timeseries(text("panel.detector_level", lang, detector=detector),
                                [influx(level_query(detector), **legend)], Cell(12, y + 1, 12, 8),
                                mappings=[mapping(localised(LEVEL_NAMES, lang))], decimals=0, minimum=0))


def detectors_board(detectors: Sequence[str], audience: Audience = SHARED) -> dm.Dashboard:
    """Build the Detectors dashboard for the configured ``detectors``, for ``audience``."""
    t = partial(text, lang=audience.lang)
    board = dashboard(audience.uid(UID_DETECTORS), audience.title(t("detectors.title")),
                      t("detectors.description"), time_from="now-7d", timezone=audience.timezone,
                      tags=audience.tags)
    board.with_variable(partner_variable(audience, PARTNERS))
    board.with_variable(query_variable("station", t("var.station"), STATIONS, include_all=True, multi=True))

    refs = ref_ids(detectors)
    board.with_panel(stat(t("panel.warnings_per_detector"),
                          [influx(warnings_total_query(d), r) for d, r in zip(detectors, refs)],
                          Cell(0, 0, 8, 8), thresholds=steps("blue")))
    board.with_panel(timeseries(t("panel.warnings_per_day"),
                                [influx(warnings_per_day_query(d), r) for d, r in zip(detectors, refs)],
                                Cell(8, 0, 16, 8), bars=True, decimals=0, minimum=0))
    board.with_panel(evaluation_table(Cell(0, 8, 24, 7), audience.lang))
    for i, detector in enumerate(detectors):
        detector_row(board, detector, 15 + 9 * i, audience.lang)
    return finish(board)
