"""What an ingest worker counts, and the frozen snapshot of all its figures that the Prometheus
metrics (:mod:`ingest.metrics`) and the log summary (:mod:`ingest.summary`) read.

Examples
--------
>>> stats = Stats()
>>> stats.received += 2
>>> snap = StatsSnapshot(worker="w", received=stats.received, backlog=3, max_queue=10)
>>> snap.received, snap.backlog, snap.rejected_by_reason
(2, 3, {})
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


class Stats:
    """Counters of one service; each is written by a single thread."""

    __slots__ = ("received", "accepted", "rejected", "rejected_by_reason", "status_messages", "readings_in",
                 "readings_stored", "acked", "warnings_published", "errors", "started")

    def __init__(self) -> None:
        self.received = self.accepted = self.rejected = self.status_messages = 0
        self.readings_in = self.readings_stored = self.acked = self.warnings_published = self.errors = 0
        self.rejected_by_reason: dict[str, int] = {}
        self.started = time.time()

    def as_dict(self) -> dict:
        """A plain dict of every counter."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Every figure of one worker at one moment, built on demand (``Service.stats_snapshot``).

    Messages (:class:`Stats`), the backlog and overload (:class:`~ingest.flow.FlowControl`), the
    InfluxDB writer and spool, the MQTT connection, the watchdog and the checkpoint.
    """

    worker: str = "riverwatch-ingest"
    # messages
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    status_messages: int = 0
    readings_in: int = 0
    readings_stored: int = 0
    readings_refused: int = 0
    acked: int = 0
    warnings_published: int = 0
    errors: int = 0
    uptime_s: float = 0.0
    warnings_open: int = 0
    # backlog and overload
    queue_depth: int = 0
    queue_max_depth: int = 0
    backlog: int = 0
    backlog_max: int = 0
    max_queue: int = 0
    overload_dropped: int = 0
    overload_reported: int = 0
    points_skipped: int = 0
    # InfluxDB writer and spool
    writer_backlog_messages: int = 0
    writer_backlog_lines: int = 0
    pending_batches: int = 0
    influx_down: bool = False
    write_lag_s: float = 0.0
    lines_written: int = 0
    lines_spooled: int = 0
    lines_replayed: int = 0
    lines_rejected: int = 0
    write_errors: int = 0
    spool_full: int = 0
    spool_bytes: int = 0
    spool_segments: int = 0
    spool_oldest_age_s: float = 0.0
    spool_corrupt_records: int = 0
    # MQTT
    mqtt_connected: bool = False
    mqtt_reconnects: int = 0
    mqtt_disconnects: int = 0
    mqtt_acks_dropped: int = 0
    mqtt_idle_s: float = 0.0
    mqtt_holds: int = 0
    watchdog_trips: int = 0
    # checkpoint
    checkpoint_parts_reset: int = 0
    # sharing sink (ingest/share_sink.py)
    sharing_points: int = 0
    sharing_errors: int = 0
    sharing_pending_windows: int = 0
    sharing_oldest_due_s: float = 0.0
