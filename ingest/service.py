"""The running ingest service: MQTT in, validation, pipeline, InfluxDB and MQTT out.

Threads: paho's network thread only enqueues; one processing thread validates, runs the
pipeline, publishes rejects and warnings and hands lines to the :class:`~ingest.sinks.InfluxSink`;
the sink's writer and replayer threads do the I/O and acknowledge each message once its lines
are durable. Every ``ingest.summary_interval_s`` the service logs one summary line and writes the
``pipeline`` and ``station_state`` measurements; detector and warning state is checkpointed to
``<state_dir>/checkpoint/`` periodically and on shutdown, and restored on start.

Warnings survive a crash exactly once: a message that makes the warning book emit events is
*committed* before it is acknowledged — its lines and the events' lines are made durable, then the
checkpoint (replay clocks, detectors, warning book) is written, and only then is the message
acknowledged. A crash before the checkpoint makes the broker redeliver the message and the restored
book emits the same events again (same id, same timestamp: they overwrite themselves in InfluxDB);
a crash after it restores a book that already knows the warning, so it is neither re-raised nor
forgotten. Messages without events are acknowledged as soon as they are durable; what the
detectors learned from them since the last periodic checkpoint is the only thing a crash can cost.

The worker's in-memory *backlog* is bounded by ``ingest.max_queue`` messages: those waiting for the
processing thread plus those the :class:`~ingest.sinks.InfluxSink` holds (open batch, batches handed
to the writer, the one being written) until they are durable. Counting the writer's share matters:
the processing thread hands a batch over without waiting, so with InfluxDB slow (but up), or down
with the spool full, a bound on the first queue alone only moves the pile one hop downstream.
Room for ``mqtt.receive_maximum`` messages is kept for QoS 1, which is never dropped: it is
acknowledged only once durable, the broker should send no more unacknowledged ones than that, and
should it send more anyway (Mosquitto 2.0.11 does, after PUBACKs, while it has a backlog for us)
the consumer stops reading at the bound (TCP backpressure, :mod:`ingest.fastmqtt`). A QoS 0
message (which nothing flow-controls) that finds the rest of the backlog full is dropped on the
network thread at the cost of one counter increment; once per tick the processing thread records
everything dropped since the last tick as *one* ``overloaded`` reject (published on
``rw/v1/_system/_unknown/rejected`` and written with ``count`` = the number dropped). Nothing here
blocks the processing thread or the writer, so no wait can close a cycle: the network thread
waits for the writer, the writer for InfluxDB or the spool, never for either thread.

Lines without a message behind them (the periodic ``pipeline``/``station_state`` points and the
``overloaded`` reject lines) are added only while the writer makes progress: while it has batches
in hand and has finished none since the last such write (InfluxDB down and the spool full), the
points are skipped (counted) and the overload count is carried to the next line, so a stalled
writer's backlog stays bounded too. :attr:`Service.queue_max_depth` is the deepest the processing
queue has been, :attr:`Service.backlog_max` the deepest backlog, ``consumer.holds`` how often
reading was held back.

A watchdog (``ingest.watchdog_s``) logs, counts and re-subscribes when the worker is connected but
no message has come for that long; ``ingest.metrics_port`` serves Prometheus metrics
(:mod:`ingest.metrics`); ``ingest.shard`` makes the worker take only its shard's stations.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.settings import Settings
>>> svc = Service(Settings(ingest={"detectors": []}), load_catalog("catalog/demo.toml"))
>>> svc.stats.received, svc.stats.rejected_by_reason
(0, {})
"""

from __future__ import annotations

import logging
import pickle
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from detectors.base import DetectorSpec
from riverwatch.catalog import Catalog
from riverwatch.contract import SYSTEM_PARTNER, encode_reject, encode_warning, parse_topic
from riverwatch.durable import write_atomic
from riverwatch.errors import ConfigError, DecodeError, SinkError
from riverwatch.model import WarningEvent
from riverwatch.settings import Settings

from riverwatch import storage
from ingest.alerts import AlertRenderer
from ingest.feed import AlertFeed, FeedServer
from ingest.consumer import Consumer, Item, parse_shard, shard_stations
from ingest.metrics import Metrics
from ingest.pipeline import Pipeline
from riverwatch.storage import reject_line, warning_line, warning_message
from ingest.sinks import InfluxSink, MqttPublisher, Spool
from ingest.validate import StreamClock, Validator

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1
CHECKPOINT_FILE = "ingest.pkl"
TICK_INTERVAL_S = 1.0
DRAIN_TIMEOUT_S = 10.0
#: Seconds :meth:`Service.stop` allows the processing thread beyond its timeout (one commit wait).
STOP_GRACE_S = 5.0
#: Messages handled back to back before the loop looks at its timers again.
HANDLE_BURST = 256


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
        self.on_warning = on_warning
        self.worker = worker or settings.mqtt.client_id
        self.checkpoint_interval_s = checkpoint_interval_s
        self.checkpoint_path = Path(settings.state_dir) / "checkpoint" / CHECKPOINT_FILE
        self.stats = Stats()
        self.max_queue, self._qos0_room = _queue_bounds(settings)
        shard = parse_shard(settings.ingest.shard)
        self.shard_stations = shard_stations(catalog, shard) if shard else None
        self.validator = Validator(catalog, settings.ingest, settings.mqtt.max_payload_bytes)
        self.pipeline = Pipeline(catalog, settings, specs=specs)
        self.metrics = Metrics(self)
        self.spool = Spool(settings.ingest.spool_dir, settings.ingest.spool_max_bytes)
        self.sink = InfluxSink(settings.influx, self.spool, self._durable,
                               max_messages=max(1, settings.mqtt.receive_maximum // 2),
                               on_write=self.metrics.observe_write)
        self.consumer = Consumer(settings.mqtt, self._enqueue, stations=self.shard_stations, hold=self._queue_full)
        self.publisher = MqttPublisher(self.consumer.client)
        self.feed = AlertFeed()
        self.feed_server: FeedServer | None = None
        self.alerts = AlertRenderer(catalog, self.feed)
        self.watchdog_trips = 0
        self._watchdog_at = 0.0
        self._ack_lock = threading.Lock()
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._sink_counters = self.sink.counters
        self._enqueued = 0
        self._handled = 0
        self.queue_max_depth = 0  # deepest the processing queue has been (network thread)
        self.backlog_max = 0  # deepest the backlog (queue + writer) has been (network thread)
        self._interval_backlog_max = 0  # the same since the last pipeline point (reset by the processing thread)
        self.overload_dropped = 0  # QoS 0 messages dropped by the network thread (its counter)
        self._overload_reported = 0  # of those, recorded as rejects (the processing thread's counter)
        self._overload_unwritten = 0  # of those, not yet in a reject line (writer stalled)
        self._overload_topic = ""
        self.points_skipped = 0  # pipeline summaries not written: the writer was stalled
        self._progress_mark = {"summary": -1, "overload": -1}  # writer's batches_done at the last such write
        self._summary_marks = {"holds": 0, "overloaded": 0}
        self._last_seen: dict[tuple[str, str], float] = {}
        self._last_reject_ns = 0
        self._stopping = threading.Event()
        self._stop_deadline = float("inf")  # monotonic; set by stop()
        self._sink_stopping = False  # set by stop() before the sink's writer may give batches up
        self._deferred_acks: list[tuple] = []  # messages whose commit a stop cut short
        self._thread: threading.Thread | None = None
        self._summary_at = {"readings": 0, "time": time.monotonic()}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Restore the checkpoint, start the sink, connect to MQTT and begin processing."""
        self._restore()
        try:
            self.sink.client.create_database()
        except SinkError as exc:
            log.warning("InfluxDB not reachable at start (lines will be spooled): %s", exc)
        self.sink.start()
        self._stopping.clear()
        self._stop_deadline, self._sink_stopping, self._deferred_acks = float("inf"), False, []
        self._thread = threading.Thread(target=self._process_loop, name="ingest-process", daemon=True)
        self._thread.start()
        if self.settings.ingest.metrics_port:
            self.metrics.serve(self.settings.ingest.metrics_port, self.settings.ingest.metrics_host)
        feed = self.settings.feed
        if feed.port:
            self.feed_server = FeedServer(self.feed, feed.host, feed.port, public_url=feed.public_url).start()
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
        self._sink_stopping = True
        self.sink.stop(max(1.0, self._stop_deadline - time.monotonic()))
        self.consumer.stop()
        self.metrics.close()
        if self.feed_server is not None:
            self.feed_server.stop()
            self.feed_server = None

    @property
    def queue_depth(self) -> int:
        """Messages received from the broker and not yet processed."""
        return self._enqueued - self._handled

    @property
    def backlog(self) -> int:
        """Messages received and not yet durable: the processing queue plus the writer's backlog.

        Never smaller than the truth when it returns (a message moving from the queue to the writer
        may be counted twice for a moment); ``ingest.max_queue`` bounds it.
        """
        handled = self._handled  # before the sink's counters: a message is added there before it is handled
        counters = self._sink_counters
        done = counters.messages_done
        return self._enqueued - handled + counters.messages_added - done

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
        while time.monotonic() < deadline:
            if self._handled == self._enqueued and self.sink.idle(include_spool):
                return True
            time.sleep(0.01)
        return False

    # ------------------------------------------------------------------ hot path

    def _queue_full(self) -> bool:
        """Network thread: True while the backlog holds ``ingest.max_queue`` messages (the consumer stops reading)."""
        return self.backlog >= self.max_queue

    def _enqueue(self, item: Item) -> None:
        """Network thread: queue a message, or drop a QoS 0 one when the backlog is full (counted)."""
        handled = self._handled  # may lag the other threads: never too small
        counters = self._sink_counters
        done = counters.messages_done
        depth = self._enqueued - handled
        backlog = depth + counters.messages_added - done
        if backlog >= self._qos0_room and not item[3]:
            self.overload_dropped += 1
            self._overload_topic = item[0]
            return
        self._enqueued += 1
        self._queue.put(item)
        if depth >= self.queue_max_depth:
            self.queue_max_depth = depth + 1
        if backlog >= self.backlog_max:
            self.backlog_max = backlog + 1
        if backlog >= self._interval_backlog_max:
            self._interval_backlog_max = backlog + 1

    def _process_loop(self) -> None:
        get, get_nowait, handle = self._queue.get, self._queue.get_nowait, self._handle
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
        try:
            self._report_overload()
            if self._publish_events(self.pipeline.tick()):
                self._commit()
            self._watchdog(now)
            if summary:
                self._summary()
            if checkpoint:
                self._checkpoint()
        except Exception:
            self.stats.errors += 1
            log.exception("periodic work failed; ingestion goes on")

    def _handle(self, item: Item) -> None:
        topic, payload, mid, qos, arrival, generation = item
        stats = self.stats
        stats.received += 1
        try:
            obs = self.validator.validate(topic, payload, arrival)
            if obs is None:
                stats.status_messages += 1
                self.sink.add([], (mid, qos, 0, generation))
            else:
                stats.accepted += 1
                stats.readings_in += len(obs.values)
                self._last_seen[(obs.partner, obs.station)] = arrival
                lines: list[str] = []
                events = self.pipeline.process(obs, lines)
                token = (mid, qos, len(obs.values), generation)
                if events:
                    self.sink.add(lines)
                    self._publish_events(events)
                    self._commit(token)
                else:
                    self.sink.add(lines, token)
        except DecodeError as exc:
            try:
                self._reject(exc, topic, payload, mid, qos, arrival, generation)
            except Exception:  # publishing or recording the reject failed: still never stop
                stats.errors += 1
                log.exception("recording the reject of a message from %.200s failed", topic)
        except Exception:  # a poison message must not wedge the worker: count, ack, go on
            stats.errors += 1
            log.exception("internal error on a message from %.200s", topic)
            self.sink.add([], (mid, qos, 0, generation))
        finally:
            self._handled += 1

    def _commit(self, token: tuple | None = None) -> None:
        """Make everything so far durable, checkpoint, then acknowledge ``token``.

        Called when the warning book emitted events, so that the acknowledged stream and the
        checkpointed book never disagree (see the module docstring). Blocks while InfluxDB is down
        and the spool is full (backpressure); when stopping it leaves ``token`` to :meth:`_drain`,
        which acknowledges it after its own checkpoint (or not at all, if that one fails too).
        """
        durable = self.sink.wait_durable(1.0)
        while not durable and not self._stopping.is_set():
            durable = self.sink.wait_durable(1.0)
        if not durable or self._sink_stopping:  # (a stopped writer gives batches up: not durable)
            if token is not None:
                self._deferred_acks.append(token)
            return
        self._checkpoint(flushed=True)
        if token is not None:
            self._durable([token])

    def _watchdog(self, now: float) -> None:
        """Connected but silent for ``ingest.watchdog_s``: log, count, re-subscribe (once per period)."""
        limit = self.settings.ingest.watchdog_s
        consumer = self.consumer
        if not limit or not consumer.connected.is_set() or consumer.idle_s() < limit:
            return
        if now - self._watchdog_at < limit:
            return
        self._watchdog_at = now
        self.watchdog_trips += 1
        log.warning("watchdog: connected to MQTT but no message for %.0f s; re-subscribing %d filters",
                    consumer.idle_s(), len(consumer.subscriptions()))
        consumer.resubscribe()

    def _reject(self, exc: DecodeError, topic: str, payload: bytes, mid: int, qos: int, arrival: float,
                generation: int | None = None) -> None:
        stats = self.stats
        stats.rejected += 1
        stats.rejected_by_reason[exc.reason] = stats.rejected_by_reason.get(exc.reason, 0) + 1
        try:
            partner, station, _ = parse_topic(topic)
        except DecodeError:
            partner = station = None
        self.publisher.reject(partner, station, encode_reject(exc.reason, exc.detail, topic, payload, arrival))
        time_ns = max(int(arrival * 1e9), self._last_reject_ns + 1)
        self._last_reject_ns = time_ns
        self.sink.add([reject_line(exc.reason, partner, exc.detail, topic, time_ns)], (mid, qos, 0, generation))

    def _report_overload(self, final: bool = False) -> None:
        """Record the QoS 0 messages dropped since the last call as one ``overloaded`` reject.

        Counted and published on MQTT at once; the ``reject`` line waits (its count growing) while
        the writer is stalled, so that a long stall adds no line per tick, unless ``final`` (on stop).
        """
        dropped = self.overload_dropped - self._overload_reported
        topic = self._overload_topic
        if dropped:
            self._overload_reported += dropped
            self._overload_unwritten += dropped
            stats = self.stats
            stats.received += dropped
            stats.rejected += dropped
            stats.rejected_by_reason["overloaded"] = stats.rejected_by_reason.get("overloaded", 0) + dropped
            detail = _overload_detail(dropped, self._qos0_room, self.max_queue, topic)
            log.warning("overloaded: %s (%d so far)", detail, self._overload_reported)
            self.publisher.reject(None, None, encode_reject("overloaded", detail, topic, b"", time.time()))
        unwritten = self._overload_unwritten
        if not unwritten or not (self._writer_moved("overload") or final):
            return
        self._overload_unwritten = 0
        time_ns = max(time.time_ns(), self._last_reject_ns + 1)
        self._last_reject_ns = time_ns
        detail = _overload_detail(unwritten, self._qos0_room, self.max_queue, topic)
        self.sink.add([storage.line(storage.REJECT, {"reason": "overloaded", "partner": SYSTEM_PARTNER},
                                      {"count": unwritten, "detail": detail[:512], "topic": topic[:256]}, time_ns)])

    def _writer_moved(self, purpose: str) -> bool:
        """True (and remembered for ``purpose``) unless the writer holds batches and has finished none
        since the last time this returned True for ``purpose``: lines without a message behind them
        are added only then."""
        done = self._sink_counters.batches_done
        if done == self._progress_mark[purpose] and self.sink.pending_batches:
            return False
        self._progress_mark[purpose] = done
        return True

    def _durable(self, tokens: list) -> None:
        """A batch is durable (writer thread, or :meth:`_commit`); acknowledge its messages in order."""
        stored = 0
        for _mid, _qos, n_readings, _generation in tokens:
            stored += n_readings
        with self._ack_lock:
            self.consumer.ack_many([(mid, qos, generation) for mid, qos, _n, generation in tokens])
            self.stats.readings_stored += stored
            self.stats.acked += len(tokens)

    def _publish_events(self, events: list[WarningEvent]) -> bool:
        """Write and publish warning events; True when there were any."""
        if not events:
            return False
        lines = []
        for event in events:
            lines.append(warning_line(event, self.catalog, self.alerts.line_time(event)))
            try:
                alert = self.alerts.render(event)
                body, cap_xml = alert.json_body, alert.cap_xml
            except Exception:  # a text or CAP problem must not cost the warning itself
                log.exception("rendering warning %s failed; publishing the plain English text", event.id)
                self.stats.errors += 1
                body, cap_xml = encode_warning(event, {"en": warning_message(event, self.catalog)}), None
            if self.publisher.warning(event.partner, event.station, event.hazard, body):
                self.stats.warnings_published += 1
            if cap_xml is not None:
                self.publisher.cap(event.partner, event.station, event.hazard, cap_xml)
            if self.on_warning is not None:
                try:
                    self.on_warning(event)
                except Exception:
                    log.exception("on_warning callback failed")
        self.sink.add(lines)
        return True

    def _drain(self) -> None:
        """On stop: process what is queued, make it durable, checkpoint, acknowledge what a commit
        left; all before the stop's deadline (after it the sink's writer may give batches up, and
        an empty writer no longer means everything is durable)."""
        stop_at = self._stop_deadline
        deadline = min(time.monotonic() + DRAIN_TIMEOUT_S, stop_at)
        while time.monotonic() < deadline:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            self._handle(item)
        try:
            self._report_overload(final=True)
        except Exception:
            self.stats.errors += 1
            log.exception("recording the overload rejects failed")
        self._summary(final=True)
        if self.sink.wait_durable(max(0.0, stop_at - time.monotonic())) and not self._sink_stopping:
            self._checkpoint(flushed=True)
            deferred, self._deferred_acks = self._deferred_acks, []
            if deferred:
                self._durable(deferred)
        else:
            log.error("stop: not every batch became durable; checkpoint skipped (messages will be redelivered)")

    # ------------------------------------------------------------------ summary

    def _summary(self, final: bool = False) -> None:
        """Log the one-line summary; write ``pipeline`` and ``station_state`` points unless the
        writer is stalled (always when ``final``, on stop)."""
        now, stats = time.monotonic(), self.stats
        elapsed = max(1e-9, now - self._summary_at["time"])
        rate = (stats.readings_in - self._summary_at["readings"]) / elapsed
        self._summary_at = {"readings": stats.readings_in, "time": now}
        open_warnings = self.pipeline.open_warnings()
        counters, sink = self.sink.counters, self.sink
        depth, writer, writer_lines = self.queue_depth, sink.backlog_messages, sink.backlog_lines
        holds, marks = self.consumer.holds, self._summary_marks
        rejects = " ".join(f"{k}={v}" for k, v in sorted(stats.rejected_by_reason.items())) or "none"
        log.info("ingest: %.0f readings/s, %d in, %d stored, rejects %s, %d warnings open, write lag %.2f s, "
                 "spool %d B in %d segments%s, MQTT %s (%d reconnects), backlog %d of %d (queue %d, writer %d "
                 "messages / %d lines, max %d), %d reads held, %d QoS 0 dropped", rate, stats.readings_in,
                 stats.readings_stored, rejects, len(open_warnings), counters.write_lag_s, self.spool.bytes,
                 self.spool.segments, " (InfluxDB DOWN)" if sink.influx_down else "",
                 "up" if self.consumer.connected.is_set() else "DOWN", self.consumer.reconnects, depth + writer,
                 self.max_queue, depth, writer, writer_lines, self.backlog_max, holds, self._overload_reported)
        if counters.spool_full:
            log.error("ingest: spool full %d times: MQTT acks held back (backpressure)", counters.spool_full)
        if not (self._writer_moved("summary") or final):
            self.points_skipped += 1
            log.warning("ingest: InfluxDB writer stalled with %d batches; pipeline and station_state points "
                        "skipped (%d so far)", sink.pending_batches, self.points_skipped)
            return
        interval_max, self._interval_backlog_max = self._interval_backlog_max, depth + writer
        self._summary_marks = {"holds": holds, "overloaded": self._overload_reported}
        time_ns = time.time_ns()
        lines = [storage.line(storage.PIPELINE, {"worker": self.worker}, {
            "readings_in": stats.readings_in, "readings_stored": stats.readings_stored,
            "rejected": stats.rejected, "warnings_open": len(open_warnings), "readings_per_s": float(rate),
            "write_lag_s": float(counters.write_lag_s), "spool_bytes": self.spool.bytes,
            "spool_segments": self.spool.segments, "mqtt_connected": int(self.consumer.connected.is_set()),
            "queue_depth": depth, "writer_backlog": writer, "writer_backlog_lines": writer_lines,
            "backlog_max": max(interval_max, depth + writer), "holds": holds - marks["holds"],
            "overload_dropped": self._overload_reported - marks["overloaded"]},
            time_ns)]
        lines += self._station_state_lines(open_warnings, time_ns)
        self.sink.add(lines)

    def _station_state_lines(self, open_warnings: list, time_ns: int) -> list[str]:
        now = time.time()
        suspect = self.pipeline.qc.suspect_stations()
        by_station: dict[tuple[str, str], list] = {}
        for warning in open_warnings:
            by_station.setdefault((getattr(warning, "partner", None), getattr(warning, "station", None)),
                                  []).append(warning)
        lines = []
        mine = None if self.shard_stations is None else set(self.shard_stations)
        for st in self.catalog.stations:
            if mine is not None and st.key not in mine:
                continue  # another shard's worker reports it
            warnings = by_station.get(st.key, [])
            public = [int(getattr(w, "level", 0)) for w in warnings if getattr(w, "public", True)]
            if public and max(public) > 0:
                state = 1 + max(public)
            elif st.key in suspect or len(public) < len(warnings):
                state = 1
            else:
                state = 0
            seen = self._last_seen.get(st.key)
            fields = {"name": st.name, "lat": float(st.lat), "lon": float(st.lon), "state": state,
                      "last_seen_age_s": None if seen is None else float(now - seen),
                      "open_warnings": len(warnings)}
            lines.append(storage.line(storage.STATION_STATE, {"partner": st.partner, "station": st.id, "kind": st.kind},
                                        fields, time_ns))
        return lines

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint(self, flushed: bool = False) -> None:
        """Save replay clocks, QC, detectors and the warning book, once everything before is durable.

        The replay clocks must never run ahead of what is durable: a message processed but lost
        in a crash is redelivered and must not then be refused as ``replayed``.
        """
        if not flushed and not self.sink.wait_durable(DRAIN_TIMEOUT_S):
            log.warning("checkpoint skipped: batches not yet durable")
            return
        state = {"version": CHECKPOINT_VERSION,
                 "clocks": {k: (c.seq, c.time_s, c.seen) for k, c in self.validator.clocks.items()},
                 "pipeline": self.pipeline.snapshot()}
        path = self.checkpoint_path
        try:
            write_atomic(path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:
            self.stats.errors += 1
            log.exception("checkpoint to %s failed", path)

    def _restore(self) -> None:
        if not self.checkpoint_path.is_file():
            return
        try:
            with open(self.checkpoint_path, "rb") as f:
                state = pickle.load(f)
            if state.get("version") != CHECKPOINT_VERSION:
                raise ValueError(f"checkpoint version {state.get('version')}")
            self.validator.clocks = {k: StreamClock(*clock) for k, clock in state["clocks"].items()
                                     if self.catalog.station(*k) is not None}
            self.pipeline.restore(state["pipeline"])
        except Exception:
            self.stats.errors += 1
            log.exception("checkpoint %s unreadable; starting fresh", self.checkpoint_path)
            return
        log.info("restored checkpoint %s (%d stations)", self.checkpoint_path, len(self.validator.clocks))


def _overload_detail(dropped: int, room: int, bound: int, topic: str) -> str:
    """The ``detail`` of an ``overloaded`` reject.

    >>> _overload_detail(3, 40, 60, "rw/v1/p/s/data")[:54]
    '3 QoS 0 messages dropped: the backlog held 40 messages'
    """
    return (f"{dropped} QoS 0 messages dropped: the backlog held {room} messages (ingest.max_queue {bound} "
            f"less mqtt.receive_maximum, kept for QoS 1) waiting to be processed or stored; last from {topic}")


def _queue_bounds(settings: Settings) -> tuple[int, int]:
    """``(ingest.max_queue, room for QoS 0)``; the rest is kept for ``mqtt.receive_maximum`` QoS 1 messages.

    >>> _queue_bounds(Settings(ingest={"max_queue": 5000}, mqtt={"receive_maximum": 1000}))
    (5000, 4000)
    """
    bound, qos1 = settings.ingest.max_queue, settings.mqtt.receive_maximum
    if bound <= qos1:
        raise ConfigError(f"option ingest.max_queue: {bound} must be larger than mqtt.receive_maximum ({qos1}), "
                          "the room kept for QoS 1 messages")
    return bound, bound - qos1
