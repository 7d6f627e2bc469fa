"""The running ingest service: MQTT in, validation, pipeline, InfluxDB and MQTT out.

Threads: paho's network thread only enqueues (:mod:`ingest.flow`); one processing thread handles
each message (:mod:`ingest.dispatch`): validates, runs the pipeline, publishes rejects and warnings
(:mod:`ingest.outbox`) and hands lines to the :class:`~ingest.influx_sink.InfluxSink`; the sink's
writer and replayer threads do the I/O and acknowledge each message once its lines are durable
(:mod:`ingest.commit`). Every ``ingest.summary_interval_s`` the service logs one summary line and
writes the ``pipeline`` and ``station_state`` measurements (:mod:`ingest.summary`); detector and
warning state is checkpointed to ``<state_dir>/checkpoint/`` periodically and on shutdown, and
restored on start (:mod:`ingest.checkpoint`).

:class:`Service` wires these together and runs the processing loop:

- **flow control** (:class:`~ingest.flow.FlowControl`): the processing queue and the backlog's
  bound ``ingest.max_queue``; QoS 0 beyond it is dropped and reported as ``overloaded`` rejects,
  and the consumer stops reading at it.
- **the commit protocol** (:class:`~ingest.commit.CommitProtocol`): durable, then checkpoint,
  then acknowledge, so that warnings survive a crash exactly once.
- **figures** (:class:`~ingest.stats.StatsSnapshot`, built by :meth:`Service.stats_snapshot`): read
  by the Prometheus metrics (``ingest.metrics_port``, :mod:`ingest.metrics`) and the log summary.

:attr:`Service.queue_max_depth` is the deepest the processing queue has been,
:attr:`Service.backlog_max` the deepest backlog, ``consumer.holds`` how often reading was held back.
A watchdog (``ingest.watchdog_s``, :mod:`ingest.watchdog`) re-subscribes when the worker is
connected but no message has come for that long; ``ingest.shard`` makes the worker take only its
shard's stations.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.settings import Settings
>>> svc = Service(Settings(ingest={"detectors": []}), load_catalog("catalog/demo.toml"))
>>> svc.stats.received, svc.stats.rejected_by_reason, svc.stats_snapshot().backlog
(0, {}, 0)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from detectors.base import DetectorSpec
from early_warning.acks import AckBook
from riverwatch.catalog import Catalog
from riverwatch.errors import SinkError
from riverwatch.model import WarningEvent
from riverwatch.settings import Settings

from ingest import checkpoint
from ingest.acks import AckDesk, AckQueue, HttpAcks, restore_acks
from ingest.exercise import Exercises
from ingest.alerts import AlertRenderer
from ingest.commit import DRAIN_TIMEOUT_S, CommitProtocol
from ingest.consumer import Consumer, parse_shard, shard_stations
from ingest.dispatch import Dispatcher
from ingest.feed import AlertFeed, FeedServer
from ingest.feed_restore import restore_alerts
from ingest.flow import FlowControl
from ingest.health import Health
from ingest.influx_sink import InfluxSink
from ingest.metrics import Metrics
from ingest.mqtt_publisher import MqttPublisher
from ingest.outbox import Outbox
from ingest.pipeline import Pipeline
from ingest.share_sink import ShareSink
from ingest.spool import Spool
from ingest.stats import Stats, StatsSnapshot
from ingest.summary import Summary
from ingest.validate import Validator
from ingest.watchdog import Watchdog

log = logging.getLogger(__name__)

TICK_INTERVAL_S = 1.0
#: Seconds :meth:`Service.stop` allows the processing thread beyond its timeout (one commit wait).
STOP_GRACE_S = 5.0
#: Messages handled back to back before the loop looks at its timers again.
HANDLE_BURST = 256
#: Seconds ``/readyz`` waits for InfluxDB's ping.
HEALTH_PING_TIMEOUT_S = 2.0


class Service:
    """One ingest worker.

    Parameters
    ----------
    settings
        All settings (mqtt, influx, ingest, state_dir).
    catalog
        The station catalog.
    on_warning
        Called with each :class:`~riverwatch.model.WarningEvent` as it happens (processing thread).
    specs
        Detector specs instead of ``settings.ingest.detectors`` from the registry.
    checkpoint_interval_s
        Seconds between checkpoints while running.
    worker
        The ``worker`` tag of the ``pipeline`` measurement (default: the MQTT client id).
    """

    def __init__(self, settings: Settings, catalog: Catalog, on_warning: Callable[[WarningEvent], None] | None = None,
                 specs: Iterable[DetectorSpec] | None = None, checkpoint_interval_s: float = 60.0,
                 worker: str | None = None) -> None:
        self.settings = settings
        self.catalog = catalog
        self.worker = worker or settings.mqtt.client_id
        self.checkpoint_interval_s = checkpoint_interval_s
        self.checkpoint_path = Path(settings.state_dir) / "checkpoint" / checkpoint.FILE_NAME
        self.stats = Stats()
        shard = parse_shard(settings.ingest.shard)
        self.shard_stations = shard_stations(catalog, shard) if shard else None
        self.validator = Validator(catalog, settings.ingest, settings.mqtt.max_payload_bytes)
        self.pipeline = Pipeline(catalog, settings, specs=specs)
        self._tick_at = time.monotonic()  # the processing thread's last tick (liveness)
        probe = settings.influx.model_copy(update={"timeout_s": HEALTH_PING_TIMEOUT_S}).client()
        self.health = Health(self.stats_snapshot, probe.ping, settings.ingest.spool_max_bytes,
                             lambda: time.monotonic() - self._tick_at, lambda: self.consumer.last_failure)
        self.metrics = Metrics(self.stats_snapshot, self.health)
        self.spool = Spool(settings.ingest.spool_dir, settings.ingest.spool_max_bytes)
        self.sink = InfluxSink(settings.influx, self.spool, max_messages=max(1, settings.mqtt.receive_maximum // 2),
                               on_write=self.metrics.observe_write)
        self.flow = FlowControl(settings, self.sink)
        self.consumer = Consumer(settings.mqtt, self.flow.enqueue, stations=self.shard_stations, hold=self.flow.full,
                                 acks_and_drills=True)
        self.publisher = MqttPublisher(self.consumer.client)
        self.share = ShareSink(settings, catalog, self.sink.durable_watermark)
        self.acks = AckDesk(AckBook(catalog, settings.acks.remind_after_s), lambda line: self.sink.add([line]),
                            self.publisher.notice, written=self._shared(self.share.note_ack))
        self.ack_queue = AckQueue()
        self.exercises = Exercises(catalog, settings, self.sink, self.consumer.client, specs)
        self.feed = AlertFeed()
        self.feed_server: FeedServer | None = None
        self.alerts = AlertRenderer(catalog, self.feed)
        self.outbox = Outbox(catalog, self.stats, self.sink, self.publisher, self.alerts, on_warning,
                             follow=lambda event: self.acks.observe(event, time.time()),
                             written=self._shared(self.share.note_warning))
        self.checkpoints = checkpoint.Checkpoints(self.checkpoint_path, self.validator, self.pipeline, catalog,
                                                  self.stats)
        self._stopping = threading.Event()
        self._stop_deadline = float("inf")  # monotonic; set by stop()
        self.commits = CommitProtocol(self.sink, self.consumer, self.checkpoints, self.stats, self._stopping)
        self.sink.on_durable = self.commits.durable
        self.summary = Summary(catalog, self.flow, self.sink, self.shard_stations)
        self._last_seen = self.summary.last_seen
        self.dispatcher = Dispatcher(self.stats, self.flow, self.validator, self.pipeline, self.sink, self.outbox,
                                     self.commits, self.share, self.acks, self.exercises, self.shard_stations,
                                     self._last_seen)
        self.watchdog = Watchdog(self.consumer, settings.ingest.watchdog_s)
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Restore the checkpoint, start the sink, connect to MQTT and begin processing."""
        self.checkpoints.restore()
        try:
            self.sink.client.create_database()
        except SinkError as exc:
            log.warning("InfluxDB not reachable at start (lines will be spooled): %s", exc)
        restore_alerts(self.alerts, self.sink.client, self.pipeline.open_warnings(), self.checkpoint_path.is_file())
        restore_acks(self.acks.book, self.sink.client, self.pipeline.open_warnings())
        self.sink.start()
        self.share.start()
        self._stopping.clear()
        self._stop_deadline = float("inf")
        self._tick_at = time.monotonic()
        self.commits.reset()
        self._thread = threading.Thread(target=self._process_loop, name="ingest-process", daemon=True)
        self._thread.start()
        if self.settings.ingest.metrics_port:
            self.metrics.serve(self.settings.ingest.metrics_port, self.settings.ingest.metrics_host)
        feed = self.settings.feed
        if feed.port:
            tokens = {p: token.get_secret_value() for p, token in self.settings.acks.tokens.items()}
            http_acks = HttpAcks(self.ack_queue.submit, tokens) if tokens else None
            self.feed_server = FeedServer(self.feed, feed.host, feed.port, public_url=feed.public_url,
                                          acks=http_acks, exercise=self.exercises.feed).start()
            log.info("alert feed at %s/alerts.atom", self.feed_server.url)
        self.consumer.start()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """True once connected to the broker and subscribed."""
        return self.consumer.wait_connected(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Drain what has arrived, make it durable, checkpoint, send every ack, then disconnect.

        In this order, within about ``timeout`` seconds: the processing thread handles what is
        queued and waits for the writer (:meth:`_drain`); the sink stops, its writer finishing the
        batches in hand (the acks of what is durable are queued as each batch lands); then the
        consumer writes those acks and only then disconnects. Disconnecting before the writer is
        done would drop the acks of the last batches, and the broker would redeliver messages the
        checkpoint already knows (refused as ``replayed``).
        """
        self._stop_deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout + STOP_GRACE_S)
            if self._thread.is_alive():
                log.error("stop: the processing thread did not finish within %.0f s", timeout + STOP_GRACE_S)
            self._thread = None
        self.commits.sink_stopping = True
        self.sink.stop(max(1.0, self._stop_deadline - time.monotonic()))
        self.consumer.stop()
        self.share.stop(max(1.0, min(10.0, self._stop_deadline - time.monotonic())))
        self.metrics.close()
        if self.feed_server is not None:
            self.feed_server.stop()
            self.feed_server = None

    def run(self, duration: float | None = None) -> None:
        """Start, run until ``duration`` seconds passed or SIGINT/SIGTERM, then stop."""
        import signal

        done = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: done.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.start()
        try:
            done.wait(duration)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def wait_idle(self, timeout: float = 10.0, include_spool: bool = True) -> bool:
        """Wait until every received message is processed and durable (and the spool replayed)."""
        deadline = time.monotonic() + timeout
        flow = self.flow
        while time.monotonic() < deadline:
            if flow.handled == flow.enqueued and self.sink.idle(include_spool):
                return True
            time.sleep(0.01)
        return False

    # ------------------------------------------------------------------ figures

    @property
    def queue_depth(self) -> int:
        """Messages received from the broker and not yet processed."""
        return self.flow.depth

    @property
    def backlog(self) -> int:
        """Messages received and not yet durable: the processing queue plus the writer's backlog
        (see :attr:`ingest.flow.FlowControl.backlog`)."""
        return self.flow.backlog

    @property
    def queue_max_depth(self) -> int:
        """The deepest the processing queue has been."""
        return self.flow.queue_max_depth

    @property
    def backlog_max(self) -> int:
        """The deepest the backlog has been."""
        return self.flow.backlog_max

    @property
    def overload_dropped(self) -> int:
        """QoS 0 messages dropped because the backlog was full."""
        return self.flow.overload_dropped

    @property
    def points_skipped(self) -> int:
        """Summaries whose points were skipped because the writer was stalled."""
        return self.summary.points_skipped

    @property
    def watchdog_trips(self) -> int:
        """Times the worker was connected but silent for ``ingest.watchdog_s``."""
        return self.watchdog.trips

    @property
    def on_warning(self) -> Callable[[WarningEvent], None] | None:
        """Called with each warning event as it happens (processing thread); may be set while running."""
        return self.outbox.on_warning

    @on_warning.setter
    def on_warning(self, callback: Callable[[WarningEvent], None] | None) -> None:
        self.outbox.on_warning = callback

    def stats_snapshot(self) -> StatsSnapshot:
        """Every figure of the worker now (any thread): what metrics and the log summary read."""
        stats, flow, sink, spool, consumer = self.stats, self.flow, self.sink, self.spool, self.consumer
        share = self.share.counters
        counters = sink.counters
        return StatsSnapshot(
            worker=self.worker, received=stats.received, accepted=stats.accepted, rejected=stats.rejected,
            rejected_by_reason=dict(stats.rejected_by_reason), status_messages=stats.status_messages,
            readings_in=stats.readings_in, readings_stored=stats.readings_stored,
            readings_refused=counters.readings_refused, acked=stats.acked,
            warnings_published=stats.warnings_published, errors=stats.errors, uptime_s=time.time() - stats.started,
            warnings_open=len(self.pipeline.open_warnings()),
            queue_depth=flow.depth, queue_max_depth=flow.queue_max_depth, backlog=flow.backlog,
            backlog_max=flow.backlog_max, max_queue=flow.max_queue, overload_dropped=flow.overload_dropped,
            overload_reported=flow.overload_reported, points_skipped=self.summary.points_skipped,
            writer_backlog_messages=sink.backlog_messages, writer_backlog_lines=sink.backlog_lines,
            pending_batches=sink.pending_batches, influx_down=sink.influx_down, write_lag_s=counters.write_lag_s,
            lines_written=counters.lines_written, lines_spooled=counters.lines_spooled,
            lines_replayed=counters.lines_replayed, lines_rejected=counters.lines_rejected,
            write_errors=counters.write_errors, spool_full=counters.spool_full, spool_bytes=spool.bytes,
            spool_segments=spool.segments, spool_oldest_age_s=spool.oldest_age_s(),
            spool_corrupt_records=spool.corrupt_records, mqtt_connected=consumer.connected.is_set(),
            mqtt_reconnects=consumer.reconnects, mqtt_disconnects=consumer.disconnects,
            mqtt_acks_dropped=consumer.acks_dropped, mqtt_idle_s=consumer.idle_s(), mqtt_holds=consumer.holds,
            watchdog_trips=self.watchdog.trips, checkpoint_parts_reset=self.checkpoints.parts_reset,
            sharing_points=share.points_shared, sharing_errors=share.errors,
            sharing_pending_windows=share.pending_windows, sharing_oldest_due_s=share.oldest_due_s)

    # ------------------------------------------------------------------ processing thread

    def _process_loop(self) -> None:
        get, get_nowait, handle = self.flow.queue.get, self.flow.queue.get_nowait, self.dispatcher.handle
        next_tick = next_summary = time.monotonic()
        next_checkpoint = next_tick + self.checkpoint_interval_s
        summary_s = self.settings.ingest.summary_interval_s
        while not self._stopping.is_set():
            try:
                item = get(timeout=0.02)
            except queue.Empty:
                self.sink.poll()
            else:
                handle(item)
                for _ in range(HANDLE_BURST):  # what else has arrived, without a timed wait per message
                    try:
                        item = get_nowait()
                    except queue.Empty:
                        break
                    handle(item)
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + TICK_INTERVAL_S
                due_summary, due_checkpoint = now >= next_summary, now >= next_checkpoint
                if due_summary:
                    next_summary = now + summary_s
                if due_checkpoint:
                    next_checkpoint = now + self.checkpoint_interval_s
                self._periodic(now, due_summary, due_checkpoint)
        self._drain()

    def _periodic(self, now: float, summary: bool, checkpoint: bool) -> None:
        """Lifecycle tick, watchdog, summary and checkpoint; a failure is logged and counted, and
        the processing thread goes on (a worker never stops ingesting because of a bug here)."""
        self._tick_at = now
        try:
            self.flow.report_overload(self.outbox, self.stats)
            if self.outbox.warnings(self.pipeline.tick()):
                self.commits.commit()
            self.exercises.tick()
            self.ack_queue.drain(self.acks, time.time())
            self.acks.remind(time.time())
            self.watchdog.check(now)
            if summary:
                self._summary()
            if checkpoint:
                self.commits.checkpoint()
        except Exception:
            self.stats.errors += 1
            log.exception("periodic work failed; ingestion goes on")

    @staticmethod
    def _shared(note: Callable[[str, str, str, int], None]) -> Callable[[WarningEvent, int], None]:
        """A line about ``event``'s warning was handed to the sink: ``note`` its window for the partners' views."""
        return lambda event, time_ns: note(event.partner, event.station, event.hazard, time_ns)

    def _summary(self, final: bool = False) -> None:
        self.summary.write(self.stats_snapshot(), self.pipeline.open_warnings(), self.pipeline.qc.suspect_stations(),
                           final)

    def _drain(self) -> None:
        """On stop: process what is queued, make it durable, checkpoint, acknowledge what a commit
        left; all before the stop's deadline (after it the sink's writer may give batches up, and
        an empty writer no longer means everything is durable)."""
        stop_at = self._stop_deadline
        deadline = min(time.monotonic() + DRAIN_TIMEOUT_S, stop_at)
        while time.monotonic() < deadline:
            try:
                item = self.flow.queue.get_nowait()
            except queue.Empty:
                break
            self.dispatcher.handle(item)
        try:
            self.flow.report_overload(self.outbox, self.stats, final=True)
        except Exception:
            self.stats.errors += 1
            log.exception("recording the overload rejects failed")
        self._summary(final=True)
        self.commits.settle(stop_at)
