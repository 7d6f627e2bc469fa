"""Building blocks shared by the riverwatch dashboards: one factory per panel kind, fixed uids,
colours and mappings of the warning levels, and deterministic JSON output.

Every factory returns an SDK builder, positioned explicitly on the 24-column grid with
:class:`Cell` so that layouts are stable and readable in review.

Examples
--------
>>> panel = stat("Open warnings", [influx('SELECT last("open_warnings") FROM "station_state"')],
...              Cell(0, 0, 6, 4)).build()
>>> panel.type_val, panel.grid_pos.w, panel.targets[0].ref_id
('stat', 6, 'A')
>>> [m.options["5"].text for m in state_mappings()]
['emergency']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Sequence

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import geomap as geomap_builders
from grafana_foundation_sdk.builders import stat as stat_builders
from grafana_foundation_sdk.builders import table as table_builders
from grafana_foundation_sdk.builders import timeseries as ts_builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import geomap as gm

from dashboards.i18n import text
from dashboards.influxql import InfluxQL, datasource_ref

# ------------------------------------------------------------------------------------ identity

#: Fixed dashboard uids (links, data links and publishing rely on them).
UID_OVERVIEW = "rw-overview"
UID_STATION = "rw-station"
UID_DETECTORS = "rw-detectors"
UID_PIPELINE = "rw-pipeline"
#: Tag every riverwatch dashboard carries; the dashboard links list dashboards by it.
TAG = "riverwatch"
#: Grafana schemaVersion written into every dashboard (Grafana 11.6).
SCHEMA_VERSION = 41

#: Window of the "current" panels (latest state, freshness, map): the pipeline writes
#: ``station_state`` every few seconds, so a dead worker's last values vanish ("no data") after
#: this long instead of showing as current for the whole dashboard range.
RECENT = "time > now() - 5m"

# ------------------------------------------------------------------------------------ levels

#: ``station_state.state`` values: name and colour, shared by the map, tables and alert rules.
STATION_STATES: tuple[tuple[int, str, str], ...] = (
    (0, "normal", "green"),
    (1, "suspect sensor", "purple"),
    (2, "advisory", "yellow"),
    (3, "watch", "orange"),
    (4, "warning", "red"),
    (5, "emergency", "dark-red"),
)
#: Warning levels (``warning.level``, riverwatch.model.Level) and their colours.
LEVEL_COLOURS: dict[str, str] = {"advisory": "yellow", "watch": "orange", "warning": "red",
                                 "emergency": "dark-red"}
#: QARTOD flags (``reading.qc``), riverwatch.model.QC.
QC_FLAGS: tuple[tuple[int, str, str], ...] = (
    (1, "pass", "green"), (2, "not evaluated", "text"), (3, "suspect", "orange"),
    (4, "fail", "red"), (9, "missing", "purple"),
)


@dataclass(frozen=True, slots=True)
class Cell:
    """A panel's place on Grafana's 24-column grid (x, y, width, height)."""

    x: int
    y: int
    w: int
    h: int

    def grid_pos(self) -> dm.GridPos:
        """As the SDK's GridPos."""
        return dm.GridPos(h=self.h, w=self.w, x=self.x, y=self.y)


# ------------------------------------------------------------------------------------ queries

def influx(query: str, ref_id: str = "A", *, table: bool = False, alias: str | None = None) -> InfluxQL:
    """A raw InfluxQL target on the riverwatch datasource."""
    builder = InfluxQL(query).ref_id(ref_id)
    if table:
        builder.table()
    if alias:
        builder.alias(alias)
    return builder


def ref_ids(queries: Sequence[str]) -> list[str]:
    """refIds ``A``, ``B``, ... for ``queries``.

    >>> ref_ids(["q1", "q2"])
    ['A', 'B']
    """
    return [chr(ord("A") + i) for i in range(len(queries))]


# ------------------------------------------------------------------------------------ field config

def mapping(values: Iterable[tuple[int | str, str, str]]) -> dm.ValueMap:
    """A value-to-text mapping with colours, from ``(value, text, colour)`` triples."""
    return dm.ValueMap(options={str(value): dm.ValueMappingResult(text=shown, color=colour, index=i)
                                for i, (value, shown, colour) in enumerate(values)})


def state_mappings() -> list[dm.ValueMapping]:
    """Names and colours of the station states 0..5."""
    return [mapping(STATION_STATES)]


def qc_mappings() -> list[dm.ValueMapping]:
    """Names and colours of the QARTOD flags."""
    return [mapping(QC_FLAGS)]


def steps(base: str, *points: tuple[float, str]) -> db.ThresholdsConfig:
    """Absolute thresholds: ``base`` colour below the first point, then ``(value, colour)`` steps.

    The base step has value ``None``: Grafana's JSON for -Infinity.
    """
    ordered = sorted(points)
    return (db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE)
            .steps([dm.Threshold(value=None, color=base)]
                   + [dm.Threshold(value=float(v), color=c) for v, c in ordered]))


def state_thresholds() -> db.ThresholdsConfig:
    """Thresholds colouring station states like their mapping."""
    base, *rest = STATION_STATES
    return steps(base[2], *((float(v), colour) for v, _, colour in rest))


def level_bands(levels: dict[str, float], direction: str) -> list[dm.Threshold]:
    """Threshold steps for a quantity's warning levels, ready for a ``thresholds`` override.

    Above-direction quantities are transparent below the advisory level; below-direction ones
    (dissolved oxygen) are coloured under each threshold instead.

    >>> [(s.value, s.color) for s in level_bands({"watch": 2.5, "warning": 3.0}, "above")]
    [(None, 'transparent'), (2.5, 'orange'), (3.0, 'red')]
    >>> [(s.value, s.color) for s in level_bands({"advisory": 6.0, "watch": 5.0}, "below")]
    [(None, 'orange'), (5.0, 'yellow'), (6.0, 'transparent')]
    """
    ordered = sorted((value, name) for name, value in levels.items())
    if direction == "above":
        return ([dm.Threshold(value=None, color="transparent")]
                + [dm.Threshold(value=value, color=LEVEL_COLOURS[name]) for value, name in ordered])
    colours = [LEVEL_COLOURS[name] for _, name in ordered] + ["transparent"]
    return ([dm.Threshold(value=None, color=colours[0])]
            + [dm.Threshold(value=value, color=colours[i + 1]) for i, (value, _) in enumerate(ordered)])


def colour_by_thresholds() -> db.FieldColor:
    """Colour values by their threshold step (or mapping)."""
    return db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS)


def override(names: Sequence[str], *properties: tuple[str, dict]) -> db.DashboardFieldConfigSourceOverrides:
    """A field override for the fields displayed as one of ``names`` (Grafana's ``byNames`` matcher)."""
    matcher = dm.MatcherConfig(id_val="byNames", options={"mode": "include", "names": list(names),
                                                          "prefix": "", "readOnly": True})
    return (db.DashboardFieldConfigSourceOverrides().matcher(matcher)
            .properties([dm.DynamicConfigValue(id_val=key, value=value) for key, value in properties]))


def transformation(id_: str, options: dict) -> dm.DataTransformerConfig:
    """A panel transformation (Grafana transformer id and its options)."""
    return dm.DataTransformerConfig(id_val=id_, options=options)


def level_name_mappings(lang: str = "en") -> list[dm.ValueMapping]:
    """Warning level names (``warning.level_name``) coloured like the map, shown in ``lang``.

    >>> level_name_mappings("de")[0].options["warning"].text
    'Warnung'
    """
    return [mapping((name, text(f"value.{name}", lang), colour) for name, colour in LEVEL_COLOURS.items())]


# ------------------------------------------------------------------------------------ links

def data_link(title: str, url: str) -> db.DashboardLink:
    """A data link (Grafana stores field links in the DashboardLink shape)."""
    return (db.DashboardLink(title).type(dm.DashboardLinkType.LINK).url(url).icon("dashboard")
            .tooltip(title).tags([]).as_dropdown(False).target_blank(False)
            .include_vars(False).keep_time(True))


def station_link(partner_expr: str = "${__data.fields.partner}",
                 station_expr: str = "${__data.fields.station}", uid: str = UID_STATION) -> db.DashboardLink:
    """Data link to the Station dashboard ``uid`` for the clicked row's partner and station.

    The URL is relative (no leading ``/``): Grafana's page sets ``<base href>`` to its root, so
    the link keeps working when Grafana is served under a sub-path.
    """
    url = (f"d/{uid}/riverwatch-station?var-partner={partner_expr}"
           f"&var-station={station_expr}&${{__url_time_range}}")
    return data_link("${__data.fields.station}", url)


def dashboard_links(tags: Sequence[str] = (TAG,)) -> list[db.DashboardLink]:
    """The links bar shown on every riverwatch dashboard: all dashboards carrying every one of
    ``tags`` (Grafana's tag search), by default all riverwatch dashboards."""
    return [db.DashboardLink("Riverwatch").type(dm.DashboardLinkType.DASHBOARDS).icon("external link")
            .tooltip("Riverwatch dashboards").tags(list(tags)).as_dropdown(False).target_blank(False)
            .include_vars(False).keep_time(True)]


# ------------------------------------------------------------------------------------ variables

def query_variable(name: str, label: str, query: str, *, include_all: bool = False,
                   multi: bool = False) -> db.QueryVariable:
    """A template variable filled by an InfluxQL ``SHOW TAG VALUES`` query."""
    var = (db.QueryVariable(name).label(label).query(query).datasource(datasource_ref())
           .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dm.VariableSort.ALPHABETICAL_ASC)
           .multi(multi).include_all(include_all))
    if include_all:
        var.all_value(".*")
    return var


def constant_variable(name: str, value: str) -> db.ConstantVariable:
    """A hidden constant (a partner's own copy of a dashboard fixes ``partner``)."""
    return db.ConstantVariable(name).value(value)


def custom_variable(name: str, label: str, values: Sequence[str]) -> db.CustomVariable:
    """A variable with fixed values (e.g. the configured detectors)."""
    first = values[0] if values else ""
    return (db.CustomVariable(name).label(label).values(",".join(values)).multi(False)
            .current(dm.VariableOption(text=first, value=first, selected=True))
            .options([dm.VariableOption(text=v, value=v, selected=v == first) for v in values]))


# ------------------------------------------------------------------------------------ panels

def _place(panel, title: str, cell: Cell, targets: Sequence[InfluxQL], description: str):
    panel.title(title).grid_pos(cell.grid_pos()).datasource(datasource_ref()).targets(list(targets))
    if description:
        panel.description(description)
    return panel


def timeseries(title: str, targets: Sequence[InfluxQL], cell: Cell, *, unit: str = "",
               description: str = "", bars: bool = False, points: bool = False,
               thresholds: db.ThresholdsConfig | None = None, bands: bool = False,
               mappings: list[dm.ValueMapping] | None = None, decimals: float | None = None,
               minimum: float | None = None) -> ts_builders.Panel:
    """A time series panel; ``bars`` for counts per bucket, ``bands`` to shade thresholds."""
    panel = _place(ts_builders.Panel(), title, cell, targets, description)
    panel.legend(cb.VizLegendOptions().show_legend(True).display_mode(common.LegendDisplayMode.LIST)
                 .placement(common.LegendPlacement.BOTTOM).calcs([]))
    panel.tooltip(cb.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.NONE))
    panel.draw_style(common.GraphDrawStyle.BARS if bars else
                     common.GraphDrawStyle.POINTS if points else common.GraphDrawStyle.LINE)
    panel.fill_opacity(60 if bars else 0).span_nulls(False).show_points(
        common.VisibilityMode.ALWAYS if points else common.VisibilityMode.AUTO)
    if unit:
        panel.unit(unit)
    if decimals is not None:
        panel.decimals(decimals)
    if minimum is not None:
        panel.min(minimum)
    if mappings:
        panel.mappings(mappings)
    panel.thresholds(thresholds or steps("green"))
    panel.thresholds_style(cb.GraphThresholdsStyleConfig().mode(
        common.GraphThresholdsStyleMode.LINE_AND_AREA if bands else common.GraphThresholdsStyleMode.OFF))
    return panel


def stat(title: str, targets: Sequence[InfluxQL], cell: Cell, *, unit: str = "", description: str = "",
         thresholds: db.ThresholdsConfig | None = None, mappings: list[dm.ValueMapping] | None = None,
         background: bool = True, no_value: str = "0") -> stat_builders.Panel:
    """A stat panel showing each series' last value (one tile per series)."""
    panel = _place(stat_builders.Panel(), title, cell, targets, description)
    panel.graph_mode(common.BigValueGraphMode.NONE)
    panel.color_mode(common.BigValueColorMode.BACKGROUND if background else common.BigValueColorMode.VALUE)
    panel.justify_mode(common.BigValueJustifyMode.AUTO).text_mode(common.BigValueTextMode.VALUE_AND_NAME)
    panel.wide_layout(True).show_percent_change(False).orientation(common.VizOrientation.AUTO)
    panel.percent_change_color_mode(common.PercentChangeColorMode.STANDARD)
    panel.reduce_options(cb.ReduceDataOptions().values(False).calcs(["lastNotNull"]).fields(""))
    panel.color_scheme(colour_by_thresholds()).thresholds(thresholds or steps("green"))
    panel.no_value(no_value)
    if unit:
        panel.unit(unit)
    if mappings:
        panel.mappings(mappings)
    return panel


def table(title: str, targets: Sequence[InfluxQL], cell: Cell, *, description: str = "",
          links: Sequence[db.DashboardLink] = (),
          transformations: Sequence[dm.DataTransformerConfig] = (),
          overrides: Sequence[db.DashboardFieldConfigSourceOverrides] = (),
          sort_by: str | None = None, lang: str = "en") -> table_builders.Panel:
    """A table panel; ``links`` become data links on every cell.

    Cells are coloured only when they hold a warning level name (advisory ... emergency), which
    is shown in ``lang``.
    """
    panel = _place(table_builders.Panel(), title, cell, targets, description)
    panel.show_header(True).frame_index(0).cell_height(common.TableCellHeight.SM)
    panel.footer(cb.TableFooterOptions().show(False).reducer([]).count_rows(False))
    panel.thresholds(steps("text")).color_scheme(colour_by_thresholds())
    # displayMode, not cellOptions: the schemas' cellOptions oneOf is ambiguous for every variant
    # (they share one untyped "type"), and Grafana migrates displayMode to cellOptions on load.
    panel.display_mode(common.TableCellDisplayMode.COLOR_TEXT).align(common.FieldTextAlignment.AUTO)
    panel.inspect(True).filterable(True)
    panel.mappings(level_name_mappings(lang))
    if sort_by:
        panel.sort_by([cb.TableSortByFieldState().display_name(sort_by).desc(True)])
    if links:
        panel.data_links(list(links))
    if transformations:
        panel.transformations(list(transformations))
    if overrides:
        panel.overrides(list(overrides))
    return panel


def geomap(title: str, targets: Sequence[InfluxQL], cell: Cell, *, max_zoom: int,
           colour_field: str, label_field: str, description: str = "",
           links: Sequence[db.DashboardLink] = (), mappings: list[dm.ValueMapping] | None = None,
           thresholds: db.ThresholdsConfig | None = None) -> geomap_builders.Panel:
    """A geomap with one marker per row (``lat``/``lon`` columns), coloured by ``colour_field``.

    The view fits all markers (zoomed in no further than ``max_zoom``).
    """
    panel = _place(geomap_builders.Panel(), title, cell, targets, description)
    panel.view(geomap_builders.MapViewConfig().id("fit").padding(10).max_zoom(max_zoom).all_layers(True))
    panel.controls(geomap_builders.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True)
                   .show_attribution(True).show_scale(False).show_debug(False).show_measure(False))
    panel.basemap(cb.MapLayerOptions().type("default").name("Basemap"))
    markers = {
        "showLegend": True,
        "style": {
            "color": {"field": colour_field, "fixed": "green"},
            "opacity": 0.9,
            "size": {"fixed": 10, "min": 6, "max": 14},
            "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
            "text": {"field": label_field, "fixed": "", "mode": "field"},
            "textConfig": {"fontSize": 11, "offsetX": 0, "offsetY": -14, "textAlign": "center",
                           "textBaseline": "middle"},
        },
    }
    panel.layers([cb.MapLayerOptions().type("markers").name("Stations").config(markers)
                  .location(cb.FrameGeometrySource().mode(common.FrameGeometrySourceMode.COORDS)
                            .latitude("lat").longitude("lon"))
                  .tooltip(True)])
    panel.tooltip(geomap_builders.TooltipOptions().mode(gm.TooltipMode.DETAILS))
    panel.color_scheme(colour_by_thresholds()).thresholds(thresholds or steps("green"))
    if mappings:
        panel.mappings(mappings)
    if links:
        panel.data_links(list(links))
    return panel


def row(title: str, y: int) -> db.Row:
    """A (non-collapsed) row header at grid row ``y``."""
    return db.Row(title).grid_pos(dm.GridPos(h=1, w=24, x=0, y=y))


# ------------------------------------------------------------------------------------ dashboard

def dashboard(uid: str, title: str, description: str, *, refresh: str = "30s",
              time_from: str = "now-6h", timezone: str = "utc", tags: Sequence[str] = (TAG,)) -> db.Dashboard:
    """A riverwatch dashboard skeleton: fixed uid, ``tags`` (linked to the dashboards sharing
    them), time zone (UTC unless a partner's)."""
    return (db.Dashboard(title).uid(uid).description(description).tags(list(tags)).timezone(timezone)
            .refresh(refresh).time(time_from, "now").tooltip(dm.DashboardCursorSync.CROSSHAIR)
            .editable().links(dashboard_links(tags)).annotation(builtin_annotation()))


def builtin_annotation() -> db.AnnotationQuery:
    """Grafana's own annotations and alerts (present on every dashboard Grafana saves)."""
    return (db.AnnotationQuery().name("Annotations & Alerts").built_in(1).enable(True).hide(True)
            .icon_color("rgba(0, 211, 255, 1)").type("dashboard")
            .datasource(dm.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .target(db.AnnotationTarget().limit(100).match_any(False).tags([]).type("dashboard")))


def finish(builder: db.Dashboard) -> dm.Dashboard:
    """Build the dashboard and number its panels 1..n in grid order (Grafana needs unique ids)."""
    model = builder.build()
    model.schema_version = SCHEMA_VERSION
    if model.templating is None:
        model.templating = dm.DashboardDashboardTemplating(list_val=[])
    next_id = 1
    for panel in model.panels or []:
        panel.id_val = next_id
        next_id += 1
        for child in getattr(panel, "panels", None) or []:
            child.id_val = next_id
            next_id += 1
    return model


def to_json(model: object) -> str:
    """Deterministic JSON of an SDK model: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def to_dict(model: object) -> dict:
    """The plain JSON-compatible dict of an SDK model."""
    return json.loads(to_json(model))
