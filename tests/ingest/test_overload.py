"""A QoS 0 flood against a real Mosquitto and InfluxDB: the worker's backlog stays bounded, QoS 1 is never dropped.

First the processing thread is held at a gate (a wrapper around ``pipeline.process``; the broker and
the database are real) while a QoS 0 burst far larger than ``ingest.max_queue`` and a stream of
QoS 1 readings arrive, so the queue fills deterministically, without timing assumptions. Then the
*writer* is what is slow: the real InfluxDB sits behind :class:`DelayProxy`, a loopback TCP proxy
the test holds (InfluxDB up but not answering yet), throttles, or makes refuse connections
(InfluxDB unreachable, here with the spool full so the writer is stalled). ``pytest -s`` shows
each test's figures.

The service-level tests run with the fast client (``mqtt.fast_path``, which holds reads at the bound)
and with plain paho, which never holds its reads: there QoS 0 is dropped at the same bound while
QoS 1 relies on the broker's receive maximum (see :mod:`ingest.consumer`).
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
import urllib.request
import uuid
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic, encode_json, rejected_topic
from riverwatch.errors import ConfigError
from application.services import free_port
from riverwatch.settings import REPO_ROOT, Settings

from tests.helpers import Publisher, wait_until

from ingest.fastmqtt import FastClient
from ingest.service import Service
from ingest.spool import Spool

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
QOS1_STATION = ("rivertown", "gauge-hochtal")
QOS0_STATION = ("rivertown", "gauge-grenzbruecke")
RECEIVE_MAXIMUM = 20
MAX_QUEUE = 60
QOS0_BURST = 3000
QOS1_READINGS = 100
WAIT = 60.0


@pytest.fixture(params=[True, False], ids=["fast", "plain"])
def fast_path(request) -> bool:
    """``mqtt.fast_path``: the fast client (reads held at the bound), or plain paho (never held)."""
    return request.param


def backlog_bound(fast_path: bool) -> int:
    """The deepest backlog allowed once acks flow: ``ingest.max_queue`` with the fast client, which
    stops reading there; with plain paho, which cannot, the QoS 0 room plus every QoS 1 message the
    test sends (QoS 0 is admitted only below its room; Mosquitto 2.0.11 sends more QoS 1 than the
    receive maximum after PUBACKs while it has a backlog for us, which only a held read stops)."""
    return MAX_QUEUE if fast_path else MAX_QUEUE - RECEIVE_MAXIMUM + QOS1_READINGS


def check_client(svc: Service, fast_path: bool) -> None:
    """The worker got the client asked for; plain paho never held a read."""
    assert svc.consumer.fast is fast_path
    if not fast_path:
        assert svc.consumer.holds == 0


def make_settings(services, influx, tmp_path, influx_url: str | None = None, timeout_s: float = 5.0,
                  fast_path: bool = True, **ingest) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"ingest-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 30, "receive_maximum": RECEIVE_MAXIMUM, "fast_path": fast_path},
        influx={"url": influx_url or services.influx_url, "database": influx.database, "flush_interval_s": 0.05,
                "timeout_s": timeout_s},
        ingest={"detectors": [], "spool_dir": tmp_path / "spool", "summary_interval_s": 0.5, "max_queue": MAX_QUEUE,
                **ingest})


def reading(seq: int, t: float) -> bytes:
    return encode_json(t, seq, {"water_level": (1.0 + seq * 1e-4, "m")})


def stored(influx, station: str) -> int:
    rows = influx.query_rows(f'SELECT count("value") FROM "reading" WHERE "station" = \'{station}\'')
    return int(rows[0]["count"]) if rows else 0


def overloaded_count(influx) -> int:
    rows = influx.query_rows('SELECT sum("count") FROM "reject" WHERE "reason" = \'overloaded\'')
    return int(rows[0]["sum"]) if rows else 0


def publish_qos1(client: Publisher, t0: float, done: threading.Event) -> None:
    topic = data_topic(*QOS1_STATION)
    for i in range(QOS1_READINGS):
        client.client.publish(topic, reading(i + 1, t0 + i), qos=1).wait_for_publish(10)
    done.set()


def test_qos0_flood_is_dropped_and_counted_while_every_qos1_reading_is_stored(services, influx, tmp_path, fast_path):
    svc = Service(make_settings(services, influx, tmp_path, fast_path=fast_path), CATALOG)
    gate, entered = threading.Event(), threading.Event()
    process = svc.pipeline.process

    def gated(obs, lines):
        entered.set()
        gate.wait(WAIT)
        return process(obs, lines)

    svc.pipeline.process = gated
    watcher = Publisher(services, subscribe=rejected_topic(None, None))
    flooder, steady = Publisher(services), Publisher(services)
    svc.start()
    try:
        assert svc.wait_connected(10)
        t0 = time.time() - 2 * 3600
        qos1_done = threading.Event()
        sender = threading.Thread(target=publish_qos1, args=(steady, t0, qos1_done), daemon=True)
        sender.start()
        assert entered.wait(WAIT), "the first QoS 1 reading never reached the pipeline"
        topic = data_topic(*QOS0_STATION)
        infos = [flooder.client.publish(topic, reading(i + 1, t0 + i), qos=0) for i in range(QOS0_BURST)]
        infos[-1].wait_for_publish(WAIT)
        # held at the gate, the worker queues at most MAX_QUEUE - RECEIVE_MAXIMUM QoS 0 messages
        room = MAX_QUEUE - RECEIVE_MAXIMUM
        assert wait_until(lambda: svc.overload_dropped >= QOS0_BURST - room, WAIT), svc.overload_dropped
        gate.set()
        assert qos1_done.wait(WAIT)
        total = QOS0_BURST + QOS1_READINGS
        assert wait_until(lambda: svc.stats.accepted + svc.overload_dropped == total, WAIT), \
            (svc.stats.accepted, svc.overload_dropped)
        assert svc.wait_idle(WAIT)
        dropped = svc.overload_dropped
        assert wait_until(lambda: svc.stats.rejected_by_reason.get("overloaded") == dropped, WAIT)
        assert svc.wait_idle(WAIT)
        stored_qos0 = stored(influx, QOS0_STATION[1])
        stored_qos1 = stored(influx, QOS1_STATION[1])
        print(f"QoS 0 published {QOS0_BURST}, stored {stored_qos0}, dropped {dropped}; QoS 1 published "
              f"{QOS1_READINGS}, stored {stored_qos1}; max queue depth {svc.queue_max_depth} (bound {MAX_QUEUE}), "
              f"reads held {svc.consumer.holds}")
        assert stored_qos1 == QOS1_READINGS
        assert stored_qos0 + dropped == QOS0_BURST
        assert dropped >= QOS0_BURST - room
        assert room <= svc.queue_max_depth <= MAX_QUEUE
        assert svc.stats.rejected_by_reason == {"overloaded": dropped}
        assert svc.stats.readings_stored == stored_qos0 + stored_qos1
        assert overloaded_count(influx) == dropped
        bodies = []

        def reported() -> int:
            bodies[:] = [orjson.loads(m.payload) for m in watcher.received]
            return sum(int(re.match(r"(\d+) QoS 0", b["detail"]).group(1)) for b in bodies)

        assert wait_until(lambda: reported() == dropped, WAIT)
        assert {b["reason"] for b in bodies} == {"overloaded"}
        assert len(bodies) < dropped  # aggregated, not one reject per dropped message
        check_client(svc, fast_path)
    finally:
        gate.set()
        svc.stop()
        for client in (watcher, flooder, steady):
            client.close()


def test_the_bound_must_leave_room_beyond_the_qos1_window():
    settings = Settings(ingest={"detectors": [], "max_queue": 1000}, mqtt={"receive_maximum": 1000})
    with pytest.raises(ConfigError, match="ingest.max_queue"):
        Service(settings, CATALOG)


def test_a_held_fast_client_stops_at_the_bound_and_resumes_with_what_it_had_buffered(services):
    """Held, nothing is read; at the bound delivery stops mid-buffer; released, the rest arrives in
    order although no more traffic comes (the buffered tail is handled by ``loop_misc``)."""
    got: list[bytes] = []
    opened, released, subscribed = threading.Event(), threading.Event(), threading.Event()
    client = FastClient(CallbackAPIVersion.VERSION2, client_id=f"hold-{uuid.uuid4().hex[:8]}",
                        protocol=mqtt.MQTTv5, manual_ack=True)
    client.on_raw = lambda topic, payload, mid, qos: got.append(payload)
    client.on_subscribe = lambda *a: subscribed.set()
    topic = f"test/hold/{uuid.uuid4().hex[:8]}"
    client.connect(services.mqtt_host, services.mqtt_port)
    client.loop_start()
    publisher = Publisher(services)
    try:
        client.subscribe(topic, qos=1)
        assert subscribed.wait(10)
        client.hold = lambda: not opened.is_set() or (len(got) >= 10 and not released.is_set())
        payloads = [b"m%03d" % i for i in range(50)]
        for payload in payloads:
            publisher.client.publish(topic, payload, qos=1).wait_for_publish(10)
        assert wait_until(lambda: client.holds > 0, WAIT)
        assert got == []  # held: nothing is read
        opened.set()  # everything waiting in the socket comes in one read; the bound stops it at 10
        assert wait_until(lambda: len(got) == 10 and client.holds > 1, WAIT), (client.holds, len(got))
        assert got == payloads[:10]
        released.set()
        assert wait_until(lambda: len(got) == len(payloads), WAIT), len(got)
        assert got == payloads
    finally:
        publisher.close()
        client.disconnect()
        client.loop_stop()


def small_publish(topic: str, payload: bytes, mid: int) -> bytes:
    """A QoS 1 MQTT 5 PUBLISH without properties (remaining length below 128)."""
    body = struct.pack("!H", len(topic)) + topic.encode() + struct.pack("!H", mid) + b"\x00" + payload
    return bytes([0x32, len(body)]) + body


def test_a_hold_stops_mid_buffer_and_loop_misc_hands_over_the_rest_once_released():
    """Pure buffer logic: what a hold left behind needs no further socket read."""
    got: list[int] = []
    released = threading.Event()
    client = FastClient(CallbackAPIVersion.VERSION2, client_id="hold-buffer", protocol=mqtt.MQTTv5, manual_ack=True)
    client.on_raw = lambda topic, payload, mid, qos: got.append(mid)
    client.hold = lambda: len(got) >= 3 and not released.is_set()
    stream = b"".join(small_publish("rw/v1/p/s/data", b"x", mid) for mid in range(1, 9))
    rc, used = client._handle_buffer(stream, None)
    assert rc == 0 and got == [1, 2, 3] and client.holds == 1
    client._sock = client._rx_sock = object()  # as after a read on this socket that was held mid-buffer
    client._rx = stream[used:]
    try:
        client.loop_misc()
        assert got == [1, 2, 3]  # still held
        released.set()
        client.loop_misc()
        assert got == list(range(1, 9)) and client._rx == b""
    finally:
        client._sock = None


# --------------------------------------------------------------------------- a slow or unreachable InfluxDB

#: Seconds each chunk toward InfluxDB waits in the proxy while it is throttled.
THROTTLE_S = 0.02
#: The throttled flood comes in this many chunks, each once the writer has made room.
THROTTLED_CHUNKS = 30
#: The smallest spool the settings allow; the stall test fills it before the worker starts.
SPOOL_BYTES = 1 << 20


class DelayProxy:
    """A loopback TCP proxy in front of the real InfluxDB, slowed down or cut off by the test.

    :meth:`hold` keeps every byte toward InfluxDB in the proxy (InfluxDB is up; a write simply takes
    as long as the test wants), :meth:`throttle` delays each chunk toward it, :meth:`refuse` cuts
    open connections and closes new ones at once (InfluxDB unreachable), :meth:`release` lets
    everything through again. Answers always pass at once. ``held_chunks`` counts chunks that met
    a hold.
    """

    def __init__(self, influx_url: str) -> None:
        parts = urlsplit(influx_url)
        self._target = (parts.hostname, parts.port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self.held_chunks = 0
        self._passing = threading.Event()
        self._passing.set()
        self._delay_s = 0.0
        self._refusing = False
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True)]
        self._threads[0].start()

    def hold(self) -> None:
        self._passing.clear()

    def throttle(self, delay_s: float) -> None:
        self._delay_s = delay_s
        self._passing.set()

    def refuse(self) -> None:
        self._refusing = True
        self._cut()

    def release(self) -> None:
        self._refusing, self._delay_s = False, 0.0
        self._passing.set()

    def close(self) -> None:
        self._closed.set()
        self._passing.set()
        self._server.close()
        self._cut()
        for thread in self._threads:
            thread.join(5)

    def _cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._refusing:
                _shut(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                _shut(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst, toward_influx in ((client, upstream, True), (upstream, client, False)):
                pump = threading.Thread(target=self._pump, args=(src, dst, toward_influx), name="proxy-pump",
                                        daemon=True)
                pump.start()
                self._threads.append(pump)

    def _pump(self, src: socket.socket, dst: socket.socket, toward_influx: bool) -> None:
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    return
                if toward_influx:
                    if not self._passing.is_set():
                        self.held_chunks += 1
                    while not self._passing.wait(0.1):
                        if self._closed.is_set():
                            return
                    if self._refusing or self._closed.is_set():
                        return
                    if self._delay_s:
                        time.sleep(self._delay_s)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _shut(src)
            _shut(dst)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class Peaks:
    """The largest backlog figures seen, sampled in the background (an observation, not a timing)."""

    def __init__(self, svc: Service) -> None:
        self.backlog = self.writer = self.lines = 0
        self._svc = svc
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peaks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        svc = self._svc
        while not self._stop.wait(0.002):
            self.backlog = max(self.backlog, svc.backlog)
            self.writer = max(self.writer, svc.sink.backlog_messages)
            self.lines = max(self.lines, svc.sink.backlog_lines)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def flood(client: Publisher, t0: float, first: int, count: int = QOS0_BURST) -> None:
    """``count`` QoS 0 readings with sequence numbers after ``first``, as fast as paho sends."""
    topic = data_topic(*QOS0_STATION)
    infos = [client.client.publish(topic, reading(first + i + 1, t0 + first + i), qos=0) for i in range(count)]
    infos[-1].wait_for_publish(WAIT)


def pipeline_totals(influx) -> dict:
    rows = influx.query_rows('SELECT sum("overload_dropped") AS "dropped", max("backlog_max") AS "backlog_max", '
                             'max("writer_backlog") AS "writer", sum("holds") AS "holds" FROM "pipeline"')
    return rows[0] if rows else {}


def test_a_slow_influxdb_keeps_the_writer_backlog_within_the_bound(services, influx, tmp_path, fast_path):
    """InfluxDB up but slow: first it answers nothing until released, then every request crawls.
    The writer's batches count into the backlog, so QoS 0 is dropped at the bound instead of piling
    up behind the writer; every QoS 1 reading is stored, and stored + dropped is every QoS 0 sent."""
    proxy = DelayProxy(services.influx_url)
    port = free_port()
    svc = Service(make_settings(services, influx, tmp_path, influx_url=proxy.url, timeout_s=WAIT, metrics_port=port,
                                fast_path=fast_path), CATALOG)
    flooder, steady = Publisher(services), Publisher(services)
    room = MAX_QUEUE - RECEIVE_MAXIMUM
    svc.start()
    peaks = Peaks(svc)
    try:
        assert svc.wait_connected(10) and svc.wait_idle(WAIT)
        t0 = time.time() - 2 * 3600
        proxy.hold()
        qos1_done = threading.Event()
        threading.Thread(target=publish_qos1, args=(steady, t0, qos1_done), daemon=True).start()
        flood(flooder, t0, 0)
        # the writer waits for InfluxDB with its first batch: the backlog fills, QoS 0 is dropped
        assert wait_until(lambda: svc.overload_dropped >= QOS0_BURST - room, WAIT), svc.overload_dropped
        held = {"backlog": svc.backlog, "writer": svc.sink.backlog_messages, "queue": svc.queue_depth,
                "held_chunks": proxy.held_chunks}
        assert held["held_chunks"] > 0 and 0 < held["writer"] <= held["backlog"] <= MAX_QUEUE, held
        proxy.throttle(THROTTLE_S)  # now every write crawls: the writer drains the backlog slowly
        for chunk in range(THROTTLED_CHUNKS):
            assert wait_until(lambda: svc.backlog < room, WAIT), svc.backlog  # the writer made room again
            size = QOS0_BURST // THROTTLED_CHUNKS
            flood(flooder, t0, QOS0_BURST + chunk * size, size)
        assert qos1_done.wait(WAIT)
        total = 2 * QOS0_BURST + QOS1_READINGS
        assert wait_until(lambda: svc.stats.accepted + svc.overload_dropped == total, WAIT), \
            (svc.stats.accepted, svc.overload_dropped)
        proxy.release()
        assert svc.wait_idle(WAIT)
        metrics = scrape(port)
    finally:
        peaks.stop()
        svc.stop()
        proxy.close()
        for client in (flooder, steady):
            client.close()
    dropped = svc.overload_dropped
    stored_qos0, stored_qos1 = stored(influx, QOS0_STATION[1]), stored(influx, QOS1_STATION[1])
    totals = pipeline_totals(influx)
    print(f"\n[slow influxdb] QoS 0 sent {2 * QOS0_BURST}, stored {stored_qos0}, dropped {dropped}; QoS 1 sent "
          f"{QOS1_READINGS}, stored {stored_qos1}; bound {MAX_QUEUE}: while held {held}, max backlog "
          f"{svc.backlog_max} (sampled {peaks.backlog}, writer {peaks.writer} messages / {peaks.lines} lines); "
          f"reads held {svc.consumer.holds}; pipeline points {totals}")
    assert stored_qos1 == QOS1_READINGS
    assert stored_qos0 + dropped == 2 * QOS0_BURST and stored_qos0 >= THROTTLED_CHUNKS
    bound = backlog_bound(fast_path)
    assert room <= svc.backlog_max <= bound
    assert peaks.backlog <= bound and peaks.writer <= bound
    assert svc.stats.rejected_by_reason == {"overloaded": dropped}
    assert overloaded_count(influx) == dropped
    assert totals["dropped"] == dropped and 0 < totals["backlog_max"] <= bound
    assert metrics["riverwatch_overload_dropped_total"] == dropped
    assert metrics["riverwatch_backlog_messages_max"] == svc.backlog_max
    assert metrics["riverwatch_backlog_limit_messages"] == MAX_QUEUE
    assert metrics["riverwatch_backlog_messages"] == metrics["riverwatch_writer_backlog_messages"] == 0
    assert metrics["riverwatch_mqtt_holds_total"] == svc.consumer.holds
    written = set(influx.query_rows('SELECT * FROM "pipeline" LIMIT 1')[0]) - {"time", "worker"}
    assert written == documented_pipeline_fields()
    check_client(svc, fast_path)


def documented_pipeline_fields() -> set[str]:
    """The fields of the ``pipeline`` table in docs/storage-schema.md."""
    text = (REPO_ROOT / "docs" / "storage-schema.md").read_text()
    table = text.split("### `pipeline`", 1)[1].split("###", 1)[0]
    return {name for row in re.findall(r"^\| field \|([^|]*)\|", table, re.M) for name in re.findall(r"`(\w+)`", row)}


def scrape(port: int) -> dict[str, float]:
    """The worker's Prometheus metrics (samples without labels but ``worker``)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples
            if set(s.labels) == {"worker"}}


def fill_spool(directory) -> int:
    """Leave ``SPOOL_BYTES`` of spool with one record of ``filler`` lines and no room for a batch;
    returns the number of lines."""
    limit = SPOOL_BYTES - 8 - 16  # record header, and less room than any batch needs
    lines, size = [], -1
    while True:
        line = f"filler value={len(lines)}i {len(lines) + 1}"
        if size + 1 + len(line) > limit:
            break
        lines.append(line)
        size += 1 + len(line)
    spool = Spool(directory, SPOOL_BYTES)
    spool.append("\n".join(lines).encode())
    spool.close()
    return len(lines)


def test_a_stalled_writer_keeps_the_backlog_bounded_and_stop_waits_for_durability(services, influx, tmp_path,
                                                                                    fast_path):
    """InfluxDB unreachable and the spool full: the writer holds its batch, nothing is acknowledged,
    the backlog stops at the bound, and the periodic points stop piling up behind it. A stop (the
    SIGTERM path) begun in the middle of it returns once InfluxDB answers again; a second worker on
    the same session stores the QoS 1 readings the first one never took."""
    proxy = DelayProxy(services.influx_url)
    proxy.refuse()
    fillers = fill_spool(tmp_path / "spool")
    settings = make_settings(services, influx, tmp_path, influx_url=proxy.url, spool_max_bytes=SPOOL_BYTES,
                             fast_path=fast_path)
    svc, second = Service(settings, CATALOG), None
    flooder, steady = Publisher(services), Publisher(services)
    room = MAX_QUEUE - RECEIVE_MAXIMUM
    summary_lines = 1 + len(CATALOG.stations)
    line_bound = MAX_QUEUE + 2 * summary_lines + 1  # a line a message, two summaries, one overload reject
    svc.start()
    peaks = Peaks(svc)
    stopper = threading.Thread(target=svc.stop, name="stop", daemon=True)
    try:
        assert svc.wait_connected(10)
        t0 = time.time() - 2 * 3600
        flood(flooder, t0, 0)
        assert wait_until(lambda: svc.stats.received == QOS0_BURST, WAIT), svc.stats.received
        accepted_qos0, dropped = svc.stats.accepted, svc.overload_dropped
        qos1_done = threading.Event()
        threading.Thread(target=publish_qos1, args=(steady, t0, qos1_done), daemon=True).start()
        assert qos1_done.wait(WAIT)
        assert wait_until(lambda: svc.points_skipped >= 2 and svc.sink.counters.spool_full > 0, WAIT)
        peaks.stop()
        stalled = {"backlog": svc.backlog, "writer": svc.sink.backlog_messages, "lines": svc.sink.backlog_lines,
                   "batches_done": svc.sink.counters.batches_done, "skipped": svc.points_skipped,
                   "acked": svc.stats.acked}
        assert stalled["acked"] == 0 and svc.sink.counters.lines_written == 0  # nothing durable, nothing acked
        stopper.start()
        assert wait_until(svc._stopping.is_set, WAIT)
        proxy.release()
        stopper.join(WAIT)
        assert not stopper.is_alive(), "stop did not return once InfluxDB answered"
        second = Service(settings, CATALOG)  # same client id and spool: the rest of the session
        second.start()
        assert second.wait_connected(10)
        assert wait_until(lambda: stored(influx, QOS1_STATION[1]) == QOS1_READINGS, WAIT)
        assert second.wait_idle(WAIT)
    finally:
        peaks.stop()
        if not stopper.is_alive() and stopper.ident is None:
            svc.stop()
        if second is not None:
            second.stop()
        proxy.close()
        for client in (flooder, steady):
            client.close()
    stored_qos0, stored_qos1 = stored(influx, QOS0_STATION[1]), stored(influx, QOS1_STATION[1])
    replayed = influx.query_rows('SELECT count("value") FROM "filler"')[0]["count"]
    totals = pipeline_totals(influx)
    print(f"\n[stalled writer] QoS 0 sent {QOS0_BURST}, accepted {accepted_qos0}, stored {stored_qos0}, dropped "
          f"{dropped}; QoS 1 sent {QOS1_READINGS}, stored {stored_qos1} (first worker acked {svc.stats.acked}, "
          f"second {second.stats.acked}); bound {MAX_QUEUE} messages / {line_bound} lines: stalled {stalled}, "
          f"sampled max backlog {peaks.backlog}, writer {peaks.writer} messages / {peaks.lines} lines; "
          f"reads held {svc.consumer.holds}; spool full {svc.sink.counters.spool_full}x; "
          f"filler replayed {replayed}/{fillers}; pipeline points {totals}")
    assert accepted_qos0 <= room and accepted_qos0 + dropped == QOS0_BURST
    assert svc.overload_dropped == dropped  # no QoS 1 was ever dropped
    assert stored_qos0 == accepted_qos0 and stored_qos1 == QOS1_READINGS
    # stalled, nothing is acknowledged: the broker keeps to the receive maximum, plain paho too
    assert stalled["backlog"] <= MAX_QUEUE and peaks.backlog <= MAX_QUEUE
    assert svc.backlog_max <= backlog_bound(fast_path)  # the stop's acks let the broker send again
    assert stalled["lines"] <= line_bound and peaks.lines <= line_bound
    assert overloaded_count(influx) == dropped and totals["dropped"] == dropped
    assert replayed == fillers
    check_client(svc, fast_path)
