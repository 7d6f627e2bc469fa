"""Prometheus metrics of one ingest worker, on its own registry and its own HTTP endpoint.

Counters and gauges are read from the service when Prometheus scrapes (a custom collector), so
the hot path pays nothing; only the InfluxDB write latency is a histogram observed per write.
The endpoint is started by :class:`~ingest.service.Service` when ``ingest.metrics_port`` is not 0,
on ``ingest.metrics_host`` (loopback by default). ``docs/operations.md`` lists every metric.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.settings import Settings
>>> from ingest.service import Service
>>> svc = Service(Settings(ingest={"detectors": []}), load_catalog("catalog/demo.toml"))
>>> text = Metrics(svc).render().decode()
>>> 'riverwatch_readings_in_total{worker="riverwatch-ingest"} 0.0' in text
True
>>> 'riverwatch_rejects_total{reason="bad_json",worker="riverwatch-ingest"} 0.0' in text
True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from riverwatch.contract import REJECT_REASONS

if TYPE_CHECKING:
    from ingest.service import Service

log = logging.getLogger(__name__)

WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceCollector:
    """Reads a service's counters at scrape time."""

    def __init__(self, service: "Service") -> None:
        self.service = service

    def describe(self) -> list:
        return []  # unchecked collector: families are produced at scrape time

    def collect(self) -> Iterator[Metric]:
        svc = self.service
        stats, sink, spool, consumer = svc.stats, svc.sink, svc.spool, svc.consumer
        counters = sink.counters
        worker = [svc.worker]

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(f"riverwatch_{name}", doc, labels=["worker"])
            family.add_metric(worker, value)
            return family

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(f"riverwatch_{name}", doc, labels=["worker"])
            family.add_metric(worker, value)
            return family

        yield counter("messages_received", "MQTT messages taken from the broker", stats.received)
        yield counter("messages_acked", "MQTT messages acknowledged after their lines were durable", stats.acked)
        yield counter("readings_in", "readings accepted by validation", stats.readings_in)
        yield counter("readings_stored", "readings durable (written to InfluxDB or spooled)", stats.readings_stored)
        rejects = CounterMetricFamily("riverwatch_rejects", "messages rejected, by reason", labels=["worker", "reason"])
        by_reason = dict.fromkeys(REJECT_REASONS, 0)
        by_reason.update(stats.rejected_by_reason)
        for reason, n in sorted(by_reason.items()):
            rejects.add_metric([svc.worker, reason], n)
        yield rejects
        yield counter("internal_errors", "messages that hit a bug (counted, acknowledged, skipped)", stats.errors)
        yield counter("warnings_published", "warning events published on MQTT", stats.warnings_published)
        yield gauge("warnings_open", "warnings open in the warning book", len(svc.pipeline.open_warnings()))
        yield gauge("spool_bytes", "bytes waiting in the spool", spool.bytes)
        yield gauge("spool_segments", "segment files in the spool", spool.segments)
        yield gauge("spool_oldest_age_seconds", "age of the oldest spooled batch", spool.oldest_age_s())
        yield counter("spool_full", "times a batch found the spool full (acks held back: backpressure)",
                      counters.spool_full)
        yield counter("spool_corrupt_records", "spool records skipped on replay (CRC mismatch or torn tail)",
                      spool.corrupt_records)
        yield counter("lines_written", "lines written to InfluxDB directly", counters.lines_written)
        yield counter("lines_spooled", "lines written to the spool", counters.lines_spooled)
        yield counter("lines_replayed", "lines replayed from the spool into InfluxDB", counters.lines_replayed)
        yield counter("lines_rejected", "lines InfluxDB refused (bisected out, dropped)", counters.lines_rejected)
        yield counter("influx_write_errors", "retryable InfluxDB write failures", counters.write_errors)
        yield gauge("influx_down", "1 while batches go to the spool instead of InfluxDB", int(sink.influx_down))
        yield gauge("write_lag_seconds", "age of the last batch when it became durable", counters.write_lag_s)
        yield gauge("mqtt_connected", "1 while connected and subscribed", int(consumer.connected.is_set()))
        yield counter("mqtt_reconnects", "successful MQTT connects after the first", consumer.reconnects)
        yield counter("mqtt_disconnects", "MQTT connections lost or closed", consumer.disconnects)
        yield counter("mqtt_acks_dropped", "acks of messages from an earlier connection (redelivered)",
                      consumer.acks_dropped)
        yield gauge("mqtt_last_message_age_seconds", "seconds since the last MQTT message", consumer.idle_s())
        yield counter("watchdog_trips", "times the worker was connected but silent for ingest.watchdog_s",
                      svc.watchdog_trips)
        yield gauge("queue_depth", "messages received and not yet processed", svc.queue_depth)
        yield gauge("queue_depth_max", "deepest the processing queue has been since the worker started",
                    svc.queue_max_depth)
        yield gauge("backlog_messages", "messages received and not yet durable (processing queue + InfluxDB writer)",
                    svc.backlog)
        yield gauge("backlog_messages_max", "deepest the backlog has been since the worker started", svc.backlog_max)
        yield gauge("backlog_limit_messages", "the backlog's bound (ingest.max_queue); QoS 0 is dropped "
                    "mqtt.receive_maximum below it", svc.max_queue)
        yield gauge("writer_backlog_messages", "messages handed to the InfluxDB writer and not yet durable",
                    sink.backlog_messages)
        yield gauge("writer_backlog_lines", "lines handed to the InfluxDB writer and not yet durable",
                    sink.backlog_lines)
        yield counter("mqtt_holds", "times reading from the broker was held back (backlog full: TCP backpressure)",
                      consumer.holds)
        yield counter("overload_dropped", "QoS 0 messages dropped because the backlog was full", svc.overload_dropped)
        yield counter("pipeline_points_skipped", "pipeline/station_state points skipped while the writer was stalled",
                      svc.points_skipped)
        yield gauge("uptime_seconds", "seconds since the worker started", time.time() - stats.started)


class Metrics:
    """The worker's registry: the service collector and the write-latency histogram.

    Parameters
    ----------
    service
        The service whose counters are exposed.
    """

    def __init__(self, service: "Service") -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ServiceCollector(service))
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
        """Start the ``/metrics`` endpoint in a daemon thread; returns the bound port."""
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        self.port = self._server.server_address[1]
        log.info("metrics on http://%s:%d/metrics", host, self.port)
        return self.port

    def close(self) -> None:
        """Stop the endpoint (if started)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
