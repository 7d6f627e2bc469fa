"""The periodic summary of an ingest worker: one log line, and the ``pipeline``, ``heartbeat`` and
``station_state`` points (see docs/storage-schema.md), from a :class:`~ingest.stats.StatsSnapshot`.

The ``heartbeat`` point says "this worker ran and stored" at each summary; dashboards and the
``rw-heartbeat`` alert rule treat its absence as an alarm (a dead or blind worker writes nothing).

The points are lines without a message behind them, so they are written only while the InfluxDB
writer makes progress (:meth:`~ingest.flow.FlowControl.writer_moved`); otherwise they are skipped
and counted (``points_skipped``), except the final summary on stop.
"""

from __future__ import annotations

import logging
import time

from riverwatch import storage
from riverwatch.catalog import Catalog

from ingest.flow import FlowControl
from ingest.influx_sink import InfluxSink
from ingest.stats import StatsSnapshot

log = logging.getLogger(__name__)


class Summary:
    """Writes a worker's summaries (processing thread).

    Parameters
    ----------
    catalog
        The station catalog (``station_state`` has a point per station).
    flow
        The worker's flow control (interval backlog, writer progress).
    sink
        Where the points go.
    shard_stations
        With ``ingest.shard``: the stations this worker reports; None: all.
    """

    def __init__(self, catalog: Catalog, flow: FlowControl, sink: InfluxSink,
                 shard_stations: list[tuple[str, str]] | None = None) -> None:
        self.catalog = catalog
        self.flow = flow
        self.sink = sink
        self.mine = None if shard_stations is None else set(shard_stations)
        self.points_skipped = 0  # summaries whose points were not written: the writer was stalled
        self.last_seen: dict[tuple[str, str], float] = {}  # arrival of each station's last message
        self._at = {"readings": 0, "time": time.monotonic()}
        self._marks = {"holds": 0, "overloaded": 0}

    def write(self, snap: StatsSnapshot, open_warnings: list, suspect: set, final: bool = False) -> None:
        """Log the one-line summary; write ``pipeline`` and ``station_state`` points unless the
        writer is stalled (always when ``final``, on stop). ``suspect``: stations QC flags."""
        now = time.monotonic()
        elapsed = max(1e-9, now - self._at["time"])
        rate = (snap.readings_in - self._at["readings"]) / elapsed
        self._at = {"readings": snap.readings_in, "time": now}
        _log(snap, rate)
        if not (self.flow.writer_moved("summary") or final):
            self.points_skipped += 1
            log.warning("ingest: InfluxDB writer stalled with %d batches; pipeline and station_state points "
                        "skipped (%d so far)", snap.pending_batches, self.points_skipped)
            return
        depth, writer = snap.queue_depth, snap.writer_backlog_messages
        marks, self._marks = self._marks, {"holds": snap.mqtt_holds, "overloaded": snap.overload_reported}
        time_ns = time.time_ns()
        lines = [storage.line(storage.PIPELINE, {"worker": snap.worker}, {
            "readings_in": snap.readings_in, "readings_stored": snap.readings_stored,
            "rejected": snap.rejected, "warnings_open": len(open_warnings), "readings_per_s": float(rate),
            "write_lag_s": float(snap.write_lag_s), "spool_bytes": snap.spool_bytes,
            "spool_segments": snap.spool_segments, "mqtt_connected": int(snap.mqtt_connected),
            "queue_depth": depth, "writer_backlog": writer, "writer_backlog_lines": snap.writer_backlog_lines,
            "backlog_max": self.flow.take_interval_backlog_max(depth + writer),
            "holds": snap.mqtt_holds - marks["holds"],
            "overload_dropped": snap.overload_reported - marks["overloaded"]},
            time_ns), heartbeat_line(snap, time_ns)]
        lines += self.station_state_lines(open_warnings, suspect, time_ns)
        self.sink.add(lines)

    def station_state_lines(self, open_warnings: list, suspect: set, time_ns: int) -> list[str]:
        """One ``station_state`` line per station of this worker: its state (0 ok, 1 suspect or only
        internal warnings, 1 + the highest public warning level), last-seen age, open warnings."""
        now = time.time()
        by_station: dict[tuple[str, str], list] = {}
        for warning in open_warnings:
            by_station.setdefault((getattr(warning, "partner", None), getattr(warning, "station", None)),
                                  []).append(warning)
        lines = []
        for st in self.catalog.stations:
            if self.mine is not None and st.key not in self.mine:
                continue  # another shard's worker reports it
            warnings = by_station.get(st.key, [])
            public = [int(getattr(w, "level", 0)) for w in warnings if getattr(w, "public", True)]
            if public and max(public) > 0:
                state = 1 + max(public)
            elif st.key in suspect or len(public) < len(warnings):
                state = 1
            else:
                state = 0
            seen = self.last_seen.get(st.key)
            fields = {"name": st.name, "lat": float(st.lat), "lon": float(st.lon), "state": state,
                      "last_seen_age_s": None if seen is None else float(now - seen),
                      "open_warnings": len(warnings)}
            lines.append(storage.line(storage.STATION_STATE, {"partner": st.partner, "station": st.id,
                                                              "kind": st.kind}, fields, time_ns))
        return lines


def heartbeat_line(snap: StatsSnapshot, time_ns: int) -> str:
    """The worker's ``heartbeat`` point (tag worker; alive=1, uptime, MQTT connected).

    >>> heartbeat_line(StatsSnapshot(worker="w1", uptime_s=2.0, mqtt_connected=True), 5)
    'heartbeat,worker=w1 alive=1i,uptime_s=2.0,mqtt_connected=1i 5'
    """
    return storage.line(storage.HEARTBEAT, {"worker": snap.worker},
                        {"alive": 1, "uptime_s": float(snap.uptime_s), "mqtt_connected": int(snap.mqtt_connected)},
                        time_ns)


def _log(snap: StatsSnapshot, rate: float) -> None:
    """The one-line summary (and an error while the spool has been full)."""
    rejects = " ".join(f"{k}={v}" for k, v in sorted(snap.rejected_by_reason.items())) or "none"
    depth, writer = snap.queue_depth, snap.writer_backlog_messages
    log.info("ingest: %.0f readings/s, %d in, %d stored, rejects %s, %d warnings open, write lag %.2f s, "
             "spool %d B in %d segments%s, MQTT %s (%d reconnects), backlog %d of %d (queue %d, writer %d "
             "messages / %d lines, max %d), %d reads held, %d QoS 0 dropped", rate, snap.readings_in,
             snap.readings_stored, rejects, snap.warnings_open, snap.write_lag_s, snap.spool_bytes,
             snap.spool_segments, " (InfluxDB DOWN)" if snap.influx_down else "",
             "up" if snap.mqtt_connected else "DOWN", snap.mqtt_reconnects, depth + writer,
             snap.max_queue, depth, writer, snap.writer_backlog_lines, snap.backlog_max, snap.mqtt_holds,
             snap.overload_reported)
    if snap.spool_full:
        log.error("ingest: spool full %d times: MQTT acks held back (backpressure)", snap.spool_full)
