"""The Pipeline health dashboard: heartbeat, throughput, rejects by reason, write lag, spool, broker link,
backlog.

Reads the ``pipeline`` summaries and ``heartbeat`` points every ingest worker writes and the
``reject`` events. The heartbeat tile counts each worker's heartbeats of the last
:data:`~dashboards.alerting.HEARTBEAT_WINDOW_S` seconds (from now, whatever the time picker says):
no heartbeat shows a red "NO HEARTBEAT", never the last values of a dead worker.

The workers serve every partner, so a partner's copy (one per language, :mod:`dashboards.audience`)
shows the same worker panels, in its language and time zone, and only its own rejects.

Examples
--------
>>> model = pipeline_health()
>>> model.uid, len(model.panels)
('rw-pipeline', 16)
>>> from dashboards.audience import Audience
>>> french = pipeline_health(Audience("lacville", "Lacville", "fr", "Europe/Paris"))
>>> french.uid, french.panels[0].title
('rw-pipeline-lacville', 'Signal de vie du pipeline')
>>> print(french.panels[2].targets[0].query)
SELECT sum("count") AS "rejects" FROM "reject" WHERE "partner" = 'lacville' AND $timeFilter
"""

from __future__ import annotations

from functools import partial

from grafana_foundation_sdk.models import dashboard as dm

from riverwatch.storage import HEARTBEAT, PIPELINE, REJECT
from dashboards.alerting import HEARTBEAT_WINDOW_S
from dashboards.audience import SHARED, Audience
from dashboards.build import (
    UID_PIPELINE, Cell, dashboard, finish, influx, mapping, stat, steps, table, timeseries, transformation,
)
from dashboards.i18n import headers, localised, text
from dashboards.overview import for_partner

_LATEST = ('SELECT last("readings_per_s") AS "readings_per_s", last("write_lag_s") AS "write_lag_s", '
           'last("spool_bytes") AS "spool_bytes", last("warnings_open") AS "warnings_open" '
           f'FROM "{PIPELINE}" WHERE $timeFilter GROUP BY "worker"')
THROUGHPUT_NOW = f'SELECT sum("readings_per_s") AS "readings/s" FROM ({_LATEST})'
LAG_NOW = f'SELECT max("write_lag_s") AS "write lag" FROM ({_LATEST})'
SPOOL_NOW = f'SELECT sum("spool_bytes") AS "spooled" FROM ({_LATEST})'
CONNECTED = f'SELECT last("mqtt_connected") FROM "{PIPELINE}" WHERE $timeFilter GROUP BY "worker"'
HEARTBEATS_NOW = (f'SELECT count("alive") AS "heartbeats" FROM "{HEARTBEAT}" '
                  f'WHERE time > now() - {HEARTBEAT_WINDOW_S}s GROUP BY "worker"')
REJECTS_NOW = f'SELECT sum("count") AS "rejects" FROM "{REJECT}" WHERE $timeFilter'

THROUGHPUT = (f'SELECT mean("readings_per_s") FROM "{PIPELINE}" WHERE $timeFilter '
              'GROUP BY time($__interval), "worker" fill(none)')
REJECTS = (f'SELECT sum("count") FROM "{REJECT}" WHERE $timeFilter '
           'GROUP BY time($__interval), "reason" fill(none)')
WRITE_LAG = (f'SELECT max("write_lag_s") FROM "{PIPELINE}" WHERE $timeFilter '
             'GROUP BY time($__interval), "worker" fill(none)')
SPOOL_BYTES = (f'SELECT max("spool_bytes") AS "bytes" FROM "{PIPELINE}" WHERE $timeFilter '
               'GROUP BY time($__interval), "worker" fill(none)')
SPOOL_SEGMENTS = (f'SELECT max("spool_segments") AS "segments" FROM "{PIPELINE}" WHERE $timeFilter '
                  'GROUP BY time($__interval), "worker" fill(none)')
CONNECTION = (f'SELECT min("mqtt_connected") FROM "{PIPELINE}" WHERE $timeFilter '
              'GROUP BY time($__interval), "worker" fill(none)')
REJECTS_BY_PARTNER = (f'SELECT sum("count") AS "rejects" FROM "{REJECT}" WHERE $timeFilter '
                      'GROUP BY "partner", "reason"')
BACKLOG = (f'SELECT max("backlog_max") AS "backlog" FROM "{PIPELINE}" WHERE $timeFilter '
           'GROUP BY time($__interval), "worker" fill(none)')
WRITER_BACKLOG = (f'SELECT max("writer_backlog") AS "writer" FROM "{PIPELINE}" WHERE $timeFilter '
                  'GROUP BY time($__interval), "worker" fill(none)')
OVERLOAD_DROPPED = (f'SELECT sum("overload_dropped") AS "QoS 0 dropped" FROM "{PIPELINE}" WHERE $timeFilter '
                    'GROUP BY time($__interval), "worker" fill(none)')
RECENT_REJECTS = (f'SELECT "partner", "reason", "detail", "topic" FROM "{REJECT}" WHERE $timeFilter '
                  'ORDER BY time DESC LIMIT 100')

#: The sharing sink's audit (ingest/share_sink.py: one point per copy into a partner's database).
AUDIT = "sharing_audit"
SHARED_POINTS = (f'SELECT sum("points") FROM "{AUDIT}" WHERE $timeFilter '
                 'GROUP BY time($__interval), "to", "agreement" fill(none)')
AUDIT_TABLE = (f'SELECT "to", "owner", "agreement", "kind", "points", "from_ns" / 1000000 AS "from", '
               f'"to_ns" / 1000000 AS "until", "delay_s" FROM "{AUDIT}" WHERE $timeFilter ORDER BY time DESC LIMIT 200')
AUDIT_COLUMNS = ("to", "owner", "agreement", "kind", "points", "from", "until", "delay_s")

CONNECTION_STATES = ((0, "disconnected", "red"), (1, "connected", "green"))
#: Reject table columns (Grafana adds ``Time`` to the second frame).
REJECT_COLUMNS = ("partner", "reason", "detail", "topic", "rejects")


def connection_mappings(lang: str = "en") -> list[dm.ValueMapping]:
    """``mqtt_connected`` 0/1 as names (in ``lang``) and colours."""
    return [mapping(localised(CONNECTION_STATES, lang))]


def pipeline_health(audience: Audience = SHARED) -> dm.Dashboard:
    """Build the Pipeline health dashboard for ``audience``."""
    t = partial(text, lang=audience.lang)
    board = dashboard(audience.uid(UID_PIPELINE), audience.title(t("pipeline.title")), t("pipeline.description"),
                      refresh="10s", time_from="now-1h", timezone=audience.timezone, tags=audience.tags)
    for panel in now_stats(audience.lang, audience.partner):
        board.with_panel(panel)
    for panel in history_panels(audience.lang, audience.partner):
        board.with_panel(panel)
    return finish(board)


def now_stats(lang: str, partner: str | None) -> list:
    """The top line: heartbeat, throughput, rejects (``partner``'s only, if given), lag, spool, broker."""
    t = partial(text, lang=lang)
    worker = dict(alias="$tag_worker")
    return [
        stat(t("panel.heartbeat"), [influx(HEARTBEATS_NOW, **worker)], Cell(0, 0, 4, 4),
             thresholds=steps("red", (1, "green")), no_value=t("no_heartbeat"),
             description=t("panel.heartbeat.description", minutes=str(HEARTBEAT_WINDOW_S // 60))),
        stat(t("panel.readings_now"), [influx(THROUGHPUT_NOW, alias=t("panel.readings_now"))], Cell(4, 0, 4, 4),
             unit="short", thresholds=steps("blue")),
        stat(t("panel.rejects"), [influx(for_partner(REJECTS_NOW, partner), alias=t("panel.rejects"))],
             Cell(8, 0, 4, 4), thresholds=steps("green", (1, "orange"))),
        stat(t("panel.write_lag"), [influx(LAG_NOW, alias=t("panel.write_lag"))], Cell(12, 0, 4, 4), unit="s",
             thresholds=steps("green", (5, "orange"), (30, "red"))),
        stat(t("panel.spooled"), [influx(SPOOL_NOW, alias=t("panel.spooled"))], Cell(16, 0, 4, 4), unit="bytes",
             thresholds=steps("green", (1, "orange"))),
        stat(t("panel.broker"), [influx(CONNECTED, **worker)], Cell(20, 0, 4, 4), mappings=connection_mappings(lang),
             thresholds=steps("red", (1, "green")), no_value=t("no_worker")),
    ]


def history_panels(lang: str, partner: str | None) -> list:
    """Throughput, rejects (``partner``'s only, if given), lag, spool, broker link, backlog over time."""
    t = partial(text, lang=lang)
    worker = dict(alias="$tag_worker")
    rejects = [influx(for_partner(REJECTS_BY_PARTNER, partner), "A", table=True),
               influx(for_partner(RECENT_REJECTS, partner), "B", table=True)]
    backlog = [influx(BACKLOG, "A", alias=f"$tag_worker {t('series.backlog')}"),
               influx(WRITER_BACKLOG, "B", alias=f"$tag_worker {t('series.writer')}"),
               influx(OVERLOAD_DROPPED, "C", alias=f"$tag_worker {t('series.dropped')}")]
    return [
        timeseries(t("panel.readings_per_second"), [influx(THROUGHPUT, **worker)], Cell(0, 4, 12, 8),
                   unit="short", minimum=0),
        timeseries(t("panel.rejects_by_reason"), [influx(for_partner(REJECTS, partner), alias="$tag_reason")],
                   Cell(12, 4, 12, 8), bars=True, decimals=0, minimum=0),
        timeseries(t("panel.write_lag"), [influx(WRITE_LAG, **worker)], Cell(0, 12, 8, 8), unit="s", minimum=0,
                   bands=True, thresholds=steps("transparent", (5, "orange"), (30, "red"))),
        timeseries(t("panel.spool_depth"), [influx(SPOOL_BYTES, **worker)], Cell(8, 12, 8, 8), unit="bytes",
                   minimum=0),
        timeseries(t("panel.spool_segments"), [influx(SPOOL_SEGMENTS, **worker)], Cell(16, 12, 8, 8), decimals=0,
                   minimum=0),
        timeseries(t("panel.broker"), [influx(CONNECTION, **worker)], Cell(0, 20, 12, 8),
                   mappings=connection_mappings(lang), decimals=0, minimum=0, thresholds=steps("red", (1, "green"))),
        table(t("panel.rejects_table"), rejects, Cell(12, 20, 12, 8), sort_by=t("column.rejects"),
              description=t("panel.rejects_table.description"), lang=lang,
              transformations=[transformation("organize", {"renameByName": headers(REJECT_COLUMNS, lang)})]),
        timeseries(t("panel.backlog"), backlog, Cell(0, 28, 24, 8), decimals=0, minimum=0,
                   description=t("panel.backlog.description")),
        *sharing_panels(lang, partner),
    ]


def sharing_panels(lang: str, partner: str | None) -> list:
    """The sharing audit: points shared per partner and agreement, and the latest copies (``partner``'s
    copy shows what was shared with it and what of its data was shared)."""
    t = partial(text, lang=lang)
    mine = (f' AND ("to" = \'{partner}\' OR "owner" = \'{partner}\')' if partner else "")
    points = SHARED_POINTS.replace(" WHERE $timeFilter", f" WHERE $timeFilter{mine}")
    audit = AUDIT_TABLE.replace(" WHERE $timeFilter", f" WHERE $timeFilter{mine}")
    return [
        timeseries(t("panel.shared"), [influx(points, alias="$tag_to · $tag_agreement")], Cell(0, 36, 10, 8),
                   bars=True, decimals=0, minimum=0, description=t("panel.shared.description")),
        table(t("panel.sharing_audit"), [influx(audit, table=True)], Cell(10, 36, 14, 8),
              description=t("panel.sharing_audit.description"), lang=lang,
              transformations=[
                  transformation("convertFieldType", {"conversions": [
                      {"targetField": name, "destinationType": "time"} for name in ("from", "until")]}),
                  transformation("organize", {"renameByName": headers(AUDIT_COLUMNS, lang)})]),
    ]
