"""Prometheus metrics of one ingest worker, on its own registry and its own HTTP endpoint.

Counters and gauges are read when Prometheus scrapes (a custom collector) from a
:class:`~ingest.stats.StatsSnapshot` the worker builds on demand, so the hot path pays nothing;
only the InfluxDB write latency is a histogram observed per write. The endpoint is started by
:class:`~ingest.service.Service` when ``ingest.metrics_port`` is not 0, on ``ingest.metrics_host``
(loopback by default). ``docs/operations.md`` lists every metric. The same server answers
``/healthz`` (live) and ``/readyz`` (ready) from an :class:`~ingest.health.Health`, with 200 or 503
and a JSON body per check.

Examples
--------
>>> from ingest.stats import StatsSnapshot
>>> text = Metrics(lambda: StatsSnapshot(worker="riverwatch-ingest")).render().decode()
>>> 'riverwatch_readings_in_total{worker="riverwatch-ingest"} 0.0' in text
True
>>> 'riverwatch_rejects_total{reason="bad_json",worker="riverwatch-ingest"} 0.0' in text
True
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Histogram, generate_latest, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from riverwatch.contract import REJECT_REASONS

from ingest.health import Health
from ingest.stats import StatsSnapshot

log = logging.getLogger(__name__)

WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class SnapshotCollector:
    """Reads a worker's :class:`~ingest.stats.StatsSnapshot` at scrape time."""

    def __init__(self, snapshot: Callable[[], StatsSnapshot]) -> None:
        self.snapshot = snapshot

    def describe(self) -> list:
        return []  # unchecked collector: families are produced at scrape time

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        worker = [snap.worker]

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(f"riverwatch_{name}", doc, labels=["worker"])
            family.add_metric(worker, value)
            return family

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(f"riverwatch_{name}", doc, labels=["worker"])
            family.add_metric(worker, value)
            return family

        yield counter("messages_received", "MQTT messages taken from the broker", snap.received)
        yield counter("messages_acked", "MQTT messages acknowledged after their lines were durable", snap.acked)
        yield counter("readings_in", "readings accepted by validation", snap.readings_in)
        yield counter("readings_stored", "readings durable (written to InfluxDB or spooled)", snap.readings_stored)
        yield counter("readings_refused", "readings InfluxDB refused (dropped; a storage_refused reject each)",
                      snap.readings_refused)
        rejects = CounterMetricFamily("riverwatch_rejects", "messages rejected, by reason", labels=["worker", "reason"])
        by_reason = dict.fromkeys(REJECT_REASONS, 0)
        by_reason.update(snap.rejected_by_reason)
        for reason, n in sorted(by_reason.items()):
            rejects.add_metric([snap.worker, reason], n)
        yield rejects
        yield counter("internal_errors", "messages that hit a bug (counted, acknowledged, skipped)", snap.errors)
        yield counter("warnings_published", "warning events published on MQTT", snap.warnings_published)
        yield gauge("warnings_open", "warnings open in the warning book", snap.warnings_open)
        yield gauge("spool_bytes", "bytes waiting in the spool", snap.spool_bytes)
        yield gauge("spool_segments", "segment files in the spool", snap.spool_segments)
        yield gauge("spool_oldest_age_seconds", "age of the oldest spooled batch", snap.spool_oldest_age_s)
        yield counter("spool_full", "times a batch found the spool full (acks held back: backpressure)",
                      snap.spool_full)
        yield counter("spool_corrupt_records", "spool records skipped on replay (CRC mismatch or torn tail)",
                      snap.spool_corrupt_records)
        yield counter("lines_written", "lines written to InfluxDB directly", snap.lines_written)
        yield counter("lines_spooled", "lines written to the spool", snap.lines_spooled)
        yield counter("lines_replayed", "lines replayed from the spool into InfluxDB", snap.lines_replayed)
        yield counter("lines_rejected", "lines InfluxDB refused (bisected out, dropped)", snap.lines_rejected)
        yield counter("influx_write_errors", "retryable InfluxDB write failures", snap.write_errors)
        yield gauge("influx_down", "1 while batches go to the spool instead of InfluxDB", int(snap.influx_down))
        yield gauge("write_lag_seconds", "age of the last batch when it became durable", snap.write_lag_s)
        yield gauge("mqtt_connected", "1 while connected and subscribed", int(snap.mqtt_connected))
        yield counter("mqtt_reconnects", "successful MQTT connects after the first", snap.mqtt_reconnects)
        yield counter("mqtt_disconnects", "MQTT connections lost or closed", snap.mqtt_disconnects)
        yield counter("mqtt_acks_dropped", "acks of messages from an earlier connection (redelivered)",
                      snap.mqtt_acks_dropped)
        yield gauge("mqtt_last_message_age_seconds", "seconds since the last MQTT message", snap.mqtt_idle_s)
        yield counter("watchdog_trips", "times the worker was connected but silent for ingest.watchdog_s",
                      snap.watchdog_trips)
        yield gauge("queue_depth", "messages received and not yet processed", snap.queue_depth)
        yield gauge("queue_depth_max", "deepest the processing queue has been since the worker started",
                    snap.queue_max_depth)
        yield gauge("backlog_messages", "messages received and not yet durable (processing queue + InfluxDB writer)",
                    snap.backlog)
        yield gauge("backlog_messages_max", "deepest the backlog has been since the worker started", snap.backlog_max)
        yield gauge("backlog_limit_messages", "the backlog's bound (ingest.max_queue); QoS 0 is dropped "
                    "mqtt.receive_maximum below it", snap.max_queue)
        yield gauge("writer_backlog_messages", "messages handed to the InfluxDB writer and not yet durable",
                    snap.writer_backlog_messages)
        yield gauge("writer_backlog_lines", "lines handed to the InfluxDB writer and not yet durable",
                    snap.writer_backlog_lines)
        yield counter("mqtt_holds", "times reading from the broker was held back (backlog full: TCP backpressure)",
                      snap.mqtt_holds)
        yield counter("overload_dropped", "QoS 0 messages dropped because the backlog was full", snap.overload_dropped)
        yield counter("pipeline_points_skipped", "pipeline/station_state points skipped while the writer was stalled",
                      snap.points_skipped)
        yield counter("checkpoint_parts_reset", "checkpoint parts (a detector, a QC stream, the warning book …) "
                      "that did not load on start and started fresh", snap.checkpoint_parts_reset)
        yield counter("sharing_points", "points the sharing sink wrote into partners' databases", snap.sharing_points)
        yield counter("sharing_errors", "sharing passes that failed (their windows stay pending)", snap.sharing_errors)
        yield gauge("sharing_pending_windows", "windows marked for a partner's view and not shared yet",
                    snap.sharing_pending_windows)
        yield gauge("sharing_oldest_due_seconds", "how long the oldest window shared in the last pass had been due",
                    snap.sharing_oldest_due_s)
        yield gauge("uptime_seconds", "seconds since the worker started", snap.uptime_s)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        pass  # probes every few seconds: not worth a log line each


def health_app(health: Health | None, fallback: Callable) -> Callable:
    """A WSGI app: ``/healthz`` and ``/readyz`` from ``health`` (JSON, 200 or 503), the rest to ``fallback``."""

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if health is None or path not in ("/healthz", "/readyz"):
            return fallback(environ, start_response)
        status, body = health.live() if path == "/healthz" else health.ready()
        data = json.dumps(body, sort_keys=True).encode()
        start_response(f"{status} {HTTPStatus(status).phrase}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                        ("Cache-Control", "no-store")])
        return [data] if environ.get("REQUEST_METHOD") != "HEAD" else []

    return app


class Metrics:
    """The worker's registry: the snapshot collector and the write-latency histogram.

    Parameters
    ----------
    snapshot
        Builds the worker's :class:`~ingest.stats.StatsSnapshot` (called at each scrape).
    health
        Answers ``/healthz`` and ``/readyz`` on the same port (None: those paths are not served).
    """

    def __init__(self, snapshot: Callable[[], StatsSnapshot], health: Health | None = None) -> None:
        self.health = health
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SnapshotCollector(snapshot))
        self.write_seconds = Histogram("riverwatch_influx_write_seconds", "duration of successful InfluxDB writes",
                                       buckets=WRITE_BUCKETS, registry=self.registry)
        self._server = None
        self._thread = None
        self.port = 0

    def observe_write(self, seconds: float) -> None:
        """Record one successful write's duration (writer thread)."""
        self.write_seconds.observe(seconds)

    def render(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Start ``/metrics`` (and ``/healthz``, ``/readyz``) in a daemon thread; returns the bound port."""
        server_class = _Server6 if ":" in host else _Server
        app = health_app(self.health, make_wsgi_app(self.registry))
        self._server = make_server(host, port, app, server_class, _QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()
        self.port = self._server.server_address[1]
        log.info("metrics on http://%s:%d/metrics (health: /healthz, /readyz)", host, self.port)
        return self.port

    def close(self) -> None:
        """Stop the endpoint (if started)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
