"""The Overview dashboard: one shared operating picture for every partner.

Layout (24 columns)::

    y=0   [ Stations per partner ][ Stations at advisory+ ][ Open warnings per partner ]   stats, h=4
    y=4   [ Map of stations, coloured by state (w=14) ][ Data freshness per station (w=10) ]   h=13
    y=17  [ Open warnings: level, partner, station, hazard, since, message, evidence (w=24) ]  h=10

Map markers, table rows and freshness tiles link to the Station dashboard for that station.

Examples
--------
>>> model = overview()
>>> model.uid, [p.type_val for p in model.panels]
('rw-overview', ['stat', 'stat', 'stat', 'geomap', 'stat', 'table'])
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as dm

from riverwatch.storage import STATION_STATE, WARNING
from dashboards.build import (
    UID_OVERVIEW, Cell, dashboard, finish, geomap, influx, stat, state_mappings,
    state_thresholds, station_link, steps, table, transformation,
)

#: Latest state of every station (one row each), for the map. Only ``state`` is a number other
#: than the coordinates, so the state mappings apply to it alone.
STATION_ROWS = (
    'SELECT last("state") AS "state", last("name") AS "name", last("lat") AS "lat", '
    f'last("lon") AS "lon" FROM "{STATION_STATE}" WHERE $timeFilter '
    'GROUP BY "partner", "station", "kind"'
)
_LATEST_PER_STATION = ('SELECT last("state") AS "state", last("open_warnings") AS "open_warnings" '
                       f'FROM "{STATION_STATE}" WHERE $timeFilter GROUP BY "partner", "station"')
STATIONS_PER_PARTNER = f'SELECT count("state") AS "stations" FROM ({_LATEST_PER_STATION}) GROUP BY "partner"'
ALERTING_PER_PARTNER = (f'SELECT count("state") AS "stations" FROM ({_LATEST_PER_STATION}) '
                        'WHERE "state" >= 2 GROUP BY "partner"')
WARNINGS_PER_PARTNER = (f'SELECT sum("open_warnings") AS "open warnings" FROM ({_LATEST_PER_STATION}) '
                        'GROUP BY "partner"')
FRESHNESS = (f'SELECT last("last_seen_age_s") AS "age" FROM "{STATION_STATE}" WHERE $timeFilter '
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

#: Data older than this many seconds is flagged (yellow, orange, red).
FRESHNESS_STEPS = ((120.0, "yellow"), (600.0, "orange"), (1800.0, "red"))


def open_warnings_table(cell: Cell):
    """Open warnings, highest level first, with the time each was raised.

    Query A gives the latest event of each open warning, query B every raise; joined on ``id``
    their times become ``Time 1`` (last update) and ``Time 2`` (raised: "since"). The join is
    outer, then rows without a level (raises of warnings no longer open) are dropped, so an open
    warning whose raise is not found still shows (with an empty "since").
    """
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
            "renameByName": {"level_name": "level", "Time 1": "updated", "Time 2": "since"},
        }),
    ]
    return table("Open warnings", [influx(OPEN_WARNINGS, "A", table=True), influx(RAISED, "B", table=True)],
                 cell, description="Every warning whose latest event is not an all-clear.",
                 links=[station_link()], transformations=join)


def overview() -> dm.Dashboard:
    """Build the Overview dashboard (every partner and station found in ``station_state``)."""
    board = dashboard(UID_OVERVIEW, "Riverwatch — Overview",
                      "Every station of every partner: current state, open warnings, data freshness.",
                      time_from="now-24h")
    per_partner = dict(alias="$tag_partner")
    board.with_panel(stat("Stations per partner", [influx(STATIONS_PER_PARTNER, **per_partner)],
                          Cell(0, 0, 8, 4), thresholds=steps("blue")))
    board.with_panel(stat("Stations at advisory or above", [influx(ALERTING_PER_PARTNER, **per_partner)],
                          Cell(8, 0, 8, 4), thresholds=steps("green", (1, "orange"))))
    board.with_panel(stat("Open warnings per partner", [influx(WARNINGS_PER_PARTNER, **per_partner)],
                          Cell(16, 0, 8, 4), thresholds=steps("green", (1, "red"))))
    board.with_panel(geomap("Stations", [influx(STATION_ROWS, table=True)], Cell(0, 4, 14, 13),
                            max_zoom=12, colour_field="state",
                            label_field="name", mappings=state_mappings(),
                            thresholds=state_thresholds(), links=[station_link()],
                            description="Colour: normal, suspect sensor, advisory, watch, warning, "
                                        "emergency. Click a station for its dashboard."))
    freshness_link = station_link("${__field.labels.partner}", "${__field.labels.station}")
    freshness = stat("Data freshness (seconds since last reading)",
                     [influx(FRESHNESS, alias="$tag_station")], Cell(14, 4, 10, 13), unit="s",
                     thresholds=steps("green", *FRESHNESS_STEPS), no_value="no data")
    board.with_panel(freshness.data_links([freshness_link]))
    board.with_panel(open_warnings_table(Cell(0, 17, 24, 10)))
    return finish(board)
