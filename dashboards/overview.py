"""The Overview dashboard: one shared operating picture for every partner.

Layout (24 columns)::

    y=0   [ Stations per partner ][ Stations at advisory+ ][ Open warnings per partner ]   stats, h=4
    y=4   [ Map of stations, coloured by state (w=14) ][ Data freshness per station (w=10) ]   h=13
    y=17  [ Open warnings: level, partner, station, hazard, since, message, evidence (w=24) ]  h=10
    y=27  [ Acknowledgements and reminders: who, which warning, how long after the raise ]  h=8

Map markers, table rows and freshness tiles link to the Station dashboard for that station.

Examples
--------
>>> model = overview()
>>> model.uid, [p.type_val for p in model.panels]
('rw-overview', ['stat', 'stat', 'stat', 'geomap', 'stat', 'table', 'table'])
"""

from __future__ import annotations

import re
from functools import partial

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from riverwatch.storage import ACK, REVIEW, STATION_STATE, WARNING
from dashboards.build import (
    RECENT, STATION_STATES, UID_OVERVIEW, UID_STATION, Cell, dashboard, finish, geomap, influx, mapping,
    stat, state_thresholds, station_link, steps, table, transformation,
)
from dashboards.audience import SHARED, Audience
from dashboards.i18n import headers, localised, text
from dashboards.influxql import InfluxQL, datasource_ref

#: Latest state of every station (one row each), for the map. Only ``state`` is a number other
#: than the coordinates, so the state mappings apply to it alone.
STATION_ROWS = (
    'SELECT last("state") AS "state", last("name") AS "name", last("lat") AS "lat", '
    f'last("lon") AS "lon" FROM "{STATION_STATE}" WHERE {RECENT} '
    'GROUP BY "partner", "station", "kind"'
)
_LATEST_PER_STATION = ('SELECT last("state") AS "state", last("open_warnings") AS "open_warnings" '
                       f'FROM "{STATION_STATE}" WHERE {RECENT} GROUP BY "partner", "station"')
STATIONS_PER_PARTNER = f'SELECT count("state") AS "stations" FROM ({_LATEST_PER_STATION}) GROUP BY "partner"'
#: Stations at advisory (state 2) or above: floor((state + 4) / 6) is 1 for states 2..5 and 0 for
#: 0..1, so a partner with none shows 0 (not "no data", which is kept for a silent pipeline).
ALERTING_PER_PARTNER = (f'SELECT sum("alerting") AS "stations" FROM (SELECT floor(("state" + 4) / 6) '
                        f'AS "alerting" FROM ({_LATEST_PER_STATION})) GROUP BY "partner"')
WARNINGS_PER_PARTNER = (f'SELECT sum("open_warnings") AS "open warnings" FROM ({_LATEST_PER_STATION}) '
                        'GROUP BY "partner"')
FRESHNESS = (f'SELECT last("last_seen_age_s") AS "age" FROM "{STATION_STATE}" WHERE {RECENT} '
             'GROUP BY "partner", "station"')
#: The latest event of each warning series that is not an all-clear (time = last update).
OPEN_WARNINGS = (
    'SELECT "level", "level_name", "hazard", "partner", "station", "message", "evidence", "id", '
    '"detector", "state" FROM (SELECT "level", "level_name", "message", "evidence", "id", "detector", '
    f'"state" FROM "{WARNING}" '
    'WHERE $timeFilter GROUP BY "partner", "station", "hazard" ORDER BY time DESC LIMIT 1) '
    'WHERE "state" != \'cleared\' ORDER BY time DESC'
)
#: When each warning was raised (joined to OPEN_WARNINGS by id: the "since" column).
RAISED = f'SELECT "id" FROM "{WARNING}" WHERE $timeFilter AND "state" = \'raised\''

#: Acknowledgements (who, how long after the raise) and reminders, newest first.
ACKS = ('SELECT "kind", "partner", "by", "role", "station", "hazard", "after_s" / 60 AS "after_min", "action", '
        f'"comment", "id" FROM "{ACK}" WHERE $timeFilter ORDER BY time DESC LIMIT 500')

#: After-action reviews written (``riverwatch review``), marking the incidents they cover.
REVIEWS = (f'SELECT "report" AS "text", "title" AS "title", "partner" AS "tags" FROM "{REVIEW}" '
           'WHERE $timeFilter')

#: Data older than this many seconds is flagged (yellow, orange, red).
FRESHNESS_STEPS = ((120.0, "yellow"), (600.0, "orange"), (1800.0, "red"))


def for_partner(query: str, partner: str | None) -> str:
    """``query`` restricted to one partner's rows (every ``FROM "measurement" WHERE``).

    >>> for_partner(f'SELECT last("state") FROM "{STATION_STATE}" WHERE {RECENT}', "p")
    'SELECT last("state") FROM "station_state" WHERE "partner" = \\'p\\' AND time > now() - 5m'
    """
    if partner is None:
        return query
    return re.sub(r'(FROM "\w+" WHERE )', lambda m: f"{m.group(1)}\"partner\" = '{partner}' AND ", query)


def open_warnings_table(cell: Cell, audience: Audience = SHARED):
    """Open warnings, highest level first, with the time each was raised.

    Query A gives the latest event of each open warning, query B every raise; joined on ``id``
    their times become ``Time 1`` (last update) and ``Time 2`` (raised: "since"). The join is
    outer, then rows without a level (raises of warnings no longer open) are dropped, so an open
    warning whose raise is not found still shows (with an empty "since"). Headers are in the
    audience's language; links go to its Station dashboard.
    """
    lang, partner = audience.lang, audience.partner
    renames = headers(("partner", "station", "hazard", "message", "evidence", "detector", "id"), lang)
    renames.update({"level_name": text("column.level", lang), "Time 1": text("column.updated", lang),
                    "Time 2": text("column.since", lang)})
    join = [
        transformation("joinByField", {"byField": "id", "mode": "outerTabular"}),
        transformation("filterByValue", {"type": "exclude", "match": "any",
                                         "filters": [{"fieldName": "level", "config": {"id": "isNull",
                                                                                       "options": {}}}]}),
        transformation("sortBy", {"fields": {}, "sort": [{"field": "level", "desc": True}]}),
        transformation("organize", {
            "excludeByName": {"state": True, "level": True},
            "indexByName": {"level_name": 0, "partner": 1, "station": 2, "hazard": 3, "Time 2": 4,
                            "message": 5, "evidence": 6, "detector": 7, "Time 1": 8, "id": 9},
            "renameByName": renames,
        }),
    ]
    targets = [influx(for_partner(OPEN_WARNINGS, partner), "A", table=True),
               influx(for_partner(RAISED, partner), "B", table=True)]
    return table(text("panel.open_warnings", lang), targets, cell,
                 description=text("panel.open_warnings.description", lang),
                 links=[station_link(uid=audience.uid(UID_STATION))], transformations=join, lang=lang)


def acks_table(cell: Cell, audience: Audience = SHARED):
    """Acknowledgements and reminders of the time range, newest first, headers in the audience's
    language (a partner's copy: its own acknowledgements and the reminders of its warnings)."""
    lang = audience.lang
    names = ("kind", "partner", "by", "role", "station", "hazard", "after_min", "action", "comment", "id")
    renames = {**headers(names, lang), "Time": text("column.time", lang)}
    organize = transformation("organize", {"indexByName": {name: i + 1 for i, name in enumerate(names)},
                                           "renameByName": renames})
    return table(text("panel.acks", lang), [influx(for_partner(ACKS, audience.partner), "A", table=True)], cell,
                 description=text("panel.acks.description", lang), transformations=[organize], lang=lang)


def review_annotation(lang: str = "en") -> db.AnnotationQuery:
    """Each after-action review as an annotation at the start of the incident it covers; its text
    is where the report was written."""
    target = (InfluxQL(REVIEWS).ref_id("Reviews").table()
              .annotation_columns(text="text", title="title", tags="tags"))
    return (db.AnnotationQuery().name(text("annotation.reviews", lang)).datasource(datasource_ref()).enable(True)
            .hide(False).icon_color("blue").target(target))


def overview(audience: Audience = SHARED) -> dm.Dashboard:
    """Build the Overview: every partner's stations, or for a partner's ``audience`` that
    partner's own, in the audience's language and time zone, linking to its Station dashboard."""
    lang, partner, station_uid = audience.lang, audience.partner, audience.uid(UID_STATION)
    t = partial(text, lang=lang)
    q = partial(for_partner, partner=partner)
    board = dashboard(audience.uid(UID_OVERVIEW), audience.title(t("overview.title")), t("overview.description"),
                      time_from="now-24h", timezone=audience.timezone, tags=audience.tags)
    per_partner = dict(alias="$tag_partner")
    board.with_panel(stat(t("panel.stations"), [influx(q(STATIONS_PER_PARTNER), **per_partner)],
                          Cell(0, 0, 8, 4), thresholds=steps("blue"), no_value=t("no_data")))
    board.with_panel(stat(t("panel.alerting"), [influx(q(ALERTING_PER_PARTNER), **per_partner)],
                          Cell(8, 0, 8, 4), thresholds=steps("green", (1, "orange"))))
    board.with_panel(stat(t("panel.warnings_per_partner"), [influx(q(WARNINGS_PER_PARTNER), **per_partner)],
                          Cell(16, 0, 8, 4), thresholds=steps("green", (1, "red")), no_value=t("no_data")))
    board.with_panel(geomap(t("panel.map"), [influx(q(STATION_ROWS), table=True)], Cell(0, 4, 14, 13),
                            max_zoom=12, colour_field="state", label_field="name",
                            mappings=[mapping(localised(STATION_STATES, lang))],
                            thresholds=state_thresholds(), links=[station_link(uid=station_uid)],
                            description=t("panel.map.description")))
    freshness_link = station_link("${__field.labels.partner}", "${__field.labels.station}", uid=station_uid)
    freshness = stat(t("panel.freshness"), [influx(q(FRESHNESS), alias="$tag_station")], Cell(14, 4, 10, 13),
                     unit="s", thresholds=steps("green", *FRESHNESS_STEPS), no_value=t("no_data"))
    board.with_panel(freshness.data_links([freshness_link]))
    board.with_panel(open_warnings_table(Cell(0, 17, 24, 10), audience))
    board.with_panel(acks_table(Cell(0, 27, 24, 8), audience))
    board.annotation(review_annotation(lang))
    return finish(board)
