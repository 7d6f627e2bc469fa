"""The Station dashboard: one station's readings against its thresholds, QC, scores and warnings.

Template variables chain ``partner → station → quantity`` (InfluxQL ``SHOW TAG VALUES``).
Readings are generated from the catalog: one row per station kind, one panel per quantity of that
kind in its canonical unit, and per station an override drawing that station's threshold bands.
Warnings of the station are annotations.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.settings import REPO_ROOT
>>> model = station(load_catalog(REPO_ROOT / "catalog" / "demo.toml"), ["level_threshold"])
>>> [v.name for v in model.templating.list_val]
['partner', 'station', 'quantity']
>>> [p.title for p in model.panels if p.type_val == "row"][:2]
['Readings: river gauge', 'Readings: water quality']
>>> gauge = model.panels[6]  # after 5 stats and the first row
>>> gauge.title, gauge.field_config.defaults.unit, gauge.field_config.overrides[0].matcher.options["names"]
('River stage (m)', 'lengthm', ['gauge-grenzbruecke'])
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from riverwatch.catalog import Catalog
from riverwatch.units import QUANTITIES
from riverwatch.storage import READING, SCORE, STATION_STATE, WARNING
from dashboards.build import (
    RECENT, UID_STATION, Cell, constant_variable, dashboard, finish, influx, level_bands, mapping, override,
    QC_FLAGS, STATION_STATES, query_variable, row, stat, state_thresholds, steps, table,
    timeseries, transformation,
)
from dashboards.audience import SHARED, Audience
from dashboards.i18n import headers, localised, text
from dashboards.influxql import InfluxQL, datasource_ref

#: Grafana unit ids of the canonical units (anything else is shown as a suffix).
GRAFANA_UNITS = {"m": "lengthm", "m3/s": "flowcms", "degC": "celsius", "%": "percent",
                 "hPa": "pressurehpa", "m/s": "velocityms", "mm": "lengthmm", "mV": "mvolt",
                 "V": "volt", "mg/L": "conmgL", "uS/cm": "suffix: µS/cm", "pH": "none"}

#: How canonical units are written in panel titles.
UNIT_SYMBOLS = {"degC": "°C", "uS/cm": "µS/cm", "m3/s": "m³/s"}

PARTNERS = f'SHOW TAG VALUES FROM "{READING}" WITH KEY = "partner"'
STATIONS = f'SHOW TAG VALUES FROM "{READING}" WITH KEY = "station" WHERE "partner" =~ /^$partner$/'
QUANTITIES_OF_STATION = (f'SHOW TAG VALUES FROM "{READING}" WITH KEY = "quantity" '
                         'WHERE "partner" =~ /^$partner$/ AND "station" =~ /^$station$/')

_STATION = '"partner" =~ /^$partner$/ AND "station" =~ /^$station$/'
STATE = f'SELECT last("state") AS "state" FROM "{STATION_STATE}" WHERE {_STATION} AND {RECENT}'
LAST_SEEN = f'SELECT last("last_seen_age_s") AS "last seen" FROM "{STATION_STATE}" WHERE {_STATION} AND {RECENT}'
OPEN = f'SELECT last("open_warnings") AS "open warnings" FROM "{STATION_STATE}" WHERE {_STATION} AND {RECENT}'
CROSSING = (f'SELECT last("expected_at") / 1000000 AS "expected crossing" FROM "{WARNING}" '
            f'WHERE {_STATION} AND $timeFilter GROUP BY "hazard"')
LEAD = f'SELECT last("lead_s") AS "lead time" FROM "{WARNING}" WHERE {_STATION} AND $timeFilter GROUP BY "hazard"'
QC = (f'SELECT max("qc") FROM "{READING}" WHERE {_STATION} AND "quantity" =~ /^$quantity$/ '
      'AND $timeFilter GROUP BY time($__interval), "quantity" fill(none)')
#: Columns of the warning events table besides ``level_name`` (headers in the partner's language).
WARNING_COLUMNS = ("state", "hazard", "detector", "quantity", "value", "threshold", "score", "message")
_WARNING_FIELDS = ", ".join(f'"{name}"' for name in WARNING_COLUMNS)
WARNINGS = (f'SELECT "level_name", {_WARNING_FIELDS} FROM "{WARNING}" WHERE {_STATION} AND $timeFilter '
            'ORDER BY time DESC')
ANNOTATIONS = (f'SELECT "message" AS "text", "level_name" AS "title", "hazard" AS "tags" FROM "{WARNING}" '
               f'WHERE {_STATION} AND $timeFilter')

LEVEL_NAMES = ((0, "none", "green"), (1, "advisory", "yellow"), (2, "watch", "orange"),
               (3, "warning", "red"), (4, "emergency", "dark-red"))


def scores_query(detectors: Sequence[str]) -> str:
    """Mean score of each detector per interval and quantity (fields of ``score``)."""
    fields = ", ".join(f'mean("{d}") AS "{d}"' for d in detectors)
    return (f'SELECT {fields} FROM "{SCORE}" WHERE {_STATION} AND "quantity" =~ /^$quantity$/ '
            'AND $timeFilter GROUP BY time($__interval), "quantity" fill(none)')


def levels_query(detectors: Sequence[str]) -> str:
    """Highest decision level of each detector per interval and quantity."""
    fields = ", ".join(f'max("{d}_level") AS "{d}"' for d in detectors)
    return (f'SELECT {fields} FROM "{SCORE}" WHERE {_STATION} AND "quantity" =~ /^$quantity$/ '
            'AND $timeFilter GROUP BY time($__interval), "quantity" fill(none)')


def grafana_unit(quantity: str) -> str:
    """Grafana's unit id for a quantity's canonical unit.

    >>> grafana_unit("water_level"), grafana_unit("turbidity")
    ('lengthm', 'suffix: NTU')
    """
    unit = QUANTITIES[quantity].unit
    return GRAFANA_UNITS.get(unit, f"suffix: {unit}")


def readings_query(quantity: str) -> str:
    """Mean reading of one quantity of the selected station, per interval."""
    return (f'SELECT mean("value") FROM "{READING}" WHERE {_STATION} AND "quantity" = \'{quantity}\' '
            'AND $timeFilter GROUP BY time($__interval), "station" fill(none)')


def quantities_by_kind(catalog: Catalog) -> dict[str, list[str]]:
    """Station kind -> the quantities its stations measure (kinds sorted, quantities in catalog order).

    >>> from riverwatch.catalog import load_catalog
    >>> from riverwatch.settings import REPO_ROOT
    >>> quantities_by_kind(load_catalog(REPO_ROOT / "catalog" / "demo.toml"))["river_gauge"]
    ['water_level', 'discharge', 'water_temperature']
    """
    kinds: dict[str, dict[str, None]] = {}
    for st in catalog.stations:
        kinds.setdefault(st.kind, {}).update(dict.fromkeys(st.quantities))
    return {kind: list(names) for kind, names in sorted(kinds.items())}


def band_overrides(catalog: Catalog, quantity: str) -> list[db.DashboardFieldConfigSourceOverrides]:
    """Per catalogued station with levels for ``quantity``: its threshold bands (series = station)."""
    overrides = []
    for st in sorted(catalog.stations, key=lambda s: s.id):
        spec = st.quantities.get(quantity)
        if spec is not None and spec.levels:
            bands = {"mode": "absolute", "steps": [s.to_json() for s in level_bands(spec.levels, spec.direction)]}
            overrides.append(override([st.id], ("thresholds", bands)))
    return overrides


def readings_panel(catalog: Catalog, quantity: str, cell: Cell, lang: str = "en"):
    """One quantity of the selected station in its canonical unit, with the station's bands."""
    q = QUANTITIES[quantity]
    shown = UNIT_SYMBOLS.get(q.unit, q.unit)
    label = text(f"quantity.{quantity}", lang)
    panel = timeseries(label if shown == q.label else f"{label} ({shown})",
                       [influx(readings_query(quantity), alias="$tag_station")],
                       cell, unit=grafana_unit(quantity), bands=True, thresholds=steps("transparent"),
                       description=text("panel.readings.description", lang, quantity=quantity))
    return panel.overrides(band_overrides(catalog, quantity))


def readings_rows(board: db.Dashboard, catalog: Catalog, y: int, lang: str = "en") -> int:
    """Add a row per station kind with its quantity panels (two per line); returns the next free y."""
    for kind, quantities in quantities_by_kind(catalog).items():
        board.with_row(row(text("row.readings", lang, kind=text(f"kind.{kind}", lang)), y))
        y += 1
        for i, quantity in enumerate(quantities):
            board.with_panel(readings_panel(catalog, quantity, Cell(12 * (i % 2), y + 8 * (i // 2), 12, 8), lang))
        y += 8 * ((len(quantities) + 1) // 2)
    return y


def warning_annotation(lang: str = "en") -> db.AnnotationQuery:
    """The station's warning events as annotations (InfluxQL on ``warning``), named in ``lang``."""
    target = (InfluxQL(ANNOTATIONS).ref_id("Anno").table()
              .annotation_columns(text="text", title="title", tags="tags"))
    return (db.AnnotationQuery().name(text("annotation.warnings", lang)).datasource(datasource_ref()).enable(True)
            .hide(False).icon_color("red").target(target))


def station(catalog: Catalog, detectors: Sequence[str], audience: Audience = SHARED) -> dm.Dashboard:
    """Build the Station dashboard; for a partner's ``audience`` its own copy (partner fixed), in
    the audience's language and time zone."""
    lang = audience.lang
    board = dashboard(audience.uid(UID_STATION), audience.title(text("station.title", lang)),
                      text("station.description", lang), timezone=audience.timezone, tags=audience.tags)
    board.with_variable(partner_variable(audience, PARTNERS))
    board.with_variable(query_variable("station", text("var.station", lang), STATIONS))
    board.with_variable(query_variable("quantity", text("var.quantity", lang), QUANTITIES_OF_STATION,
                                       include_all=True, multi=True))
    board.annotation(warning_annotation(lang))

    header_stats(board, lang)
    y = readings_rows(board, catalog, 4, lang)
    quality_panels(board, detectors, y, lang)
    return finish(board)


def partner_variable(audience: Audience, query: str):
    """``partner``: a hidden constant in a partner's copy, else chosen from ``query``'s tag values."""
    if audience.partner is not None:
        return constant_variable("partner", audience.partner)
    return query_variable("partner", text("var.partner", audience.lang), query, include_all=True)


def header_stats(board: db.Dashboard, lang: str) -> None:
    """The top line: state, last reading, open warnings, forecast crossing, lead time."""
    t = partial(text, lang=lang)
    board.with_panel(stat(t("panel.state"), [influx(STATE)], Cell(0, 0, 5, 4),
                          mappings=[mapping(localised(STATION_STATES, lang))], thresholds=state_thresholds()))
    board.with_panel(stat(t("panel.last_reading"), [influx(LAST_SEEN)], Cell(5, 0, 5, 4), unit="s",
                          thresholds=steps("green", (120, "yellow"), (600, "orange"), (1800, "red"))))
    board.with_panel(stat(t("panel.open_warnings"), [influx(OPEN)], Cell(10, 0, 4, 4),
                          thresholds=steps("green", (1, "red"))))
    board.with_panel(stat(t("panel.crossing"), [influx(CROSSING, alias="$tag_hazard")], Cell(14, 0, 5, 4),
                          unit="dateTimeAsIso", background=False, no_value=t("none"),
                          description=t("panel.crossing.description")))
    board.with_panel(stat(t("panel.lead_time"), [influx(LEAD, alias="$tag_hazard")], Cell(19, 0, 5, 4),
                          unit="s", background=False, no_value=t("none")))


def quality_panels(board: db.Dashboard, detectors: Sequence[str], y: int, lang: str) -> None:
    """The "Quality and detectors" row at ``y``: QC flags, scores, decision levels, warning events."""
    t = partial(text, lang=lang)
    board.with_row(row(t("row.quality"), y))
    board.with_panel(timeseries(t("panel.qc"), [influx(QC, alias="$tag_quantity")], Cell(0, y + 1, 12, 8),
                                points=True, mappings=[mapping(localised(QC_FLAGS, lang))], decimals=0,
                                description=t("panel.qc.description")))
    board.with_panel(timeseries(t("panel.scores"),
                                [influx(scores_query(detectors), alias="$tag_quantity $col")],
                                Cell(12, y + 1, 12, 8)))
    board.with_panel(timeseries(t("panel.levels"),
                                [influx(levels_query(detectors), alias="$tag_quantity $col")],
                                Cell(0, y + 9, 12, 8), mappings=[mapping(localised(LEVEL_NAMES, lang))],
                                decimals=0, minimum=0))
    renames = headers(WARNING_COLUMNS, lang) | {"level_name": t("column.level")}
    board.with_panel(table(t("panel.warning_events"), [influx(WARNINGS, table=True)], Cell(12, y + 9, 12, 8),
                           description=t("panel.warning_events.description"), lang=lang,
                           transformations=[transformation("organize", {"renameByName": renames})]))
