"""The Pipeline health dashboard: heartbeat, throughput, rejects by reason, write lag, spool, broker link,
backlog.

Reads the ``pipeline`` summaries and ``heartbeat`` points every ingest worker writes and the
``reject`` events. The heartbeat tile counts each worker's heartbeats of the last
:data:`~dashboards.alerting.HEARTBEAT_WINDOW_S` seconds (from now, whatever the time picker says):
no heartbeat shows a red "NO HEARTBEAT", never the last values of a dead worker.

Examples
--------
>>> model = pipeline_health()
>>> model.uid, len(model.panels)
('rw-pipeline', 14)
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as dm

from riverwatch.storage import HEARTBEAT, PIPELINE, REJECT
from dashboards.alerting import HEARTBEAT_WINDOW_S
from dashboards.build import (
    UID_PIPELINE, Cell, dashboard, finish, influx, mapping, stat, steps, table, timeseries,
)

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

CONNECTION_STATES = ((0, "disconnected", "red"), (1, "connected", "green"))


def connection_mappings() -> list[dm.ValueMapping]:
    """``mqtt_connected`` 0/1 as names and colours."""
    return [mapping(CONNECTION_STATES)]


def pipeline_health() -> dm.Dashboard:
    """Build the Pipeline health dashboard."""
    board = dashboard(UID_PIPELINE, "Riverwatch — Pipeline health",
                      "Ingest throughput, rejects by reason, write lag, disk spool, broker connection, "
                      "backlog and overload.",
                      refresh="10s", time_from="now-1h")
    board.with_panel(stat("Pipeline heartbeat", [influx(HEARTBEATS_NOW, alias="$tag_worker")], Cell(0, 0, 4, 4),
                          thresholds=steps("red", (1, "green")), no_value="NO HEARTBEAT",
                          description=f"Heartbeats each worker wrote in the last {HEARTBEAT_WINDOW_S // 60} "
                                      "minutes. None: the pipeline is dead or cannot store (the "
                                      "rw-heartbeat alert rule fires)."))
    board.with_panel(stat("Readings/s", [influx(THROUGHPUT_NOW)], Cell(4, 0, 4, 4), unit="short",
                          thresholds=steps("blue")))
    board.with_panel(stat("Rejects", [influx(REJECTS_NOW)], Cell(8, 0, 4, 4),
                          thresholds=steps("green", (1, "orange"))))
    board.with_panel(stat("Write lag", [influx(LAG_NOW)], Cell(12, 0, 4, 4), unit="s",
                          thresholds=steps("green", (5, "orange"), (30, "red"))))
    board.with_panel(stat("Spooled", [influx(SPOOL_NOW)], Cell(16, 0, 4, 4), unit="bytes",
                          thresholds=steps("green", (1, "orange"))))
    board.with_panel(stat("Broker connection", [influx(CONNECTED, alias="$tag_worker")], Cell(20, 0, 4, 4),
                          mappings=connection_mappings(), thresholds=steps("red", (1, "green")),
                          no_value="no worker"))

    board.with_panel(timeseries("Readings per second", [influx(THROUGHPUT, alias="$tag_worker")],
                                Cell(0, 4, 12, 8), unit="short", minimum=0))
    board.with_panel(timeseries("Rejects by reason", [influx(REJECTS, alias="$tag_reason")],
                                Cell(12, 4, 12, 8), bars=True, decimals=0, minimum=0))
    board.with_panel(timeseries("Write lag", [influx(WRITE_LAG, alias="$tag_worker")], Cell(0, 12, 8, 8),
                                unit="s", minimum=0, bands=True,
                                thresholds=steps("transparent", (5, "orange"), (30, "red"))))
    board.with_panel(timeseries("Spool depth", [influx(SPOOL_BYTES, alias="$tag_worker")], Cell(8, 12, 8, 8),
                                unit="bytes", minimum=0))
    board.with_panel(timeseries("Spool segments", [influx(SPOOL_SEGMENTS, alias="$tag_worker")],
                                Cell(16, 12, 8, 8), decimals=0, minimum=0))
    board.with_panel(timeseries("Broker connection", [influx(CONNECTION, alias="$tag_worker")],
                                Cell(0, 20, 12, 8), mappings=connection_mappings(), decimals=0,
                                minimum=0, thresholds=steps("red", (1, "green"))))
    board.with_panel(table("Rejects by partner and reason", [influx(REJECTS_BY_PARTNER, "A", table=True),
                                                             influx(RECENT_REJECTS, "B", table=True)],
                           Cell(12, 20, 12, 8), sort_by="rejects",
                           description="Totals per partner and reason; the second frame lists the latest "
                                       "rejects with their detail and topic."))
    backlog = [influx(BACKLOG, "A", alias="$tag_worker backlog"),
               influx(WRITER_BACKLOG, "B", alias="$tag_worker writer"),
               influx(OVERLOAD_DROPPED, "C", alias="$tag_worker QoS 0 dropped")]
    board.with_panel(timeseries("Backlog and overload", backlog, Cell(0, 28, 24, 8), decimals=0, minimum=0,
                                description="Messages received and not yet durable (deepest per interval), the "
                                            "InfluxDB writer's share, and QoS 0 messages dropped because the "
                                            "backlog was full. The backlog never exceeds ingest.max_queue; QoS 0 "
                                            "is dropped from mqtt.receive_maximum below it (room kept for QoS 1). "
                                            "A backlog at the bound with drops: InfluxDB is slower than the "
                                            "incoming data, or down with the spool full."))
    return finish(board)
