"""Shared by the overload tests: settings, readings, counts and :class:`DelayProxy`, a loopback proxy
in front of the real InfluxDB that the test slows down or cuts off (see test_overload.py)."""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.request
import uuid
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic, encode_json
from riverwatch.settings import REPO_ROOT, Settings

from tests.helpers import Publisher

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
