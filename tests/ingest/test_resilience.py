"""Break things on purpose: InfluxDB outage, SIGKILL of the worker, broker restart.

Each test runs its own Mosquitto and InfluxDB (a module fixture in a tmp state dir, so restarting
them never disturbs the session services), publishes a paced QoS 1 stream with a persistent-session
publisher, breaks something mid-stream, and then proves, with exact equalities on what is in
InfluxDB, that every reading the broker acknowledged to the publisher is stored exactly once.
``pytest -s`` shows each test's figures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from prometheus_client.parser import text_string_to_metric_families

from riverwatch.catalog import load_catalog
from riverwatch.influx import InfluxClient
from application.services import (free_port, restart_influxdb, restart_mosquitto, services_down,
                                 services_up, stop_influxdb)
from riverwatch.settings import REPO_ROOT, Settings

from riverwatch.contract import data_topic, encode_json

from tests.helpers import require_binaries, wait_until as _wait_until

from ingest.service import Service

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
GAUGES = [st for st in CATALOG.stations if st.kind == "river_gauge"]
WEATHER = [st for st in CATALOG.stations if st.kind == "weather"]
STEP_S = 60
WAIT = 60.0
OUTAGE_S = 20.0


# --------------------------------------------------------------------------- helpers


def wait_until(predicate, timeout: float = WAIT, interval: float = 0.02) -> bool:
    return _wait_until(predicate, timeout, interval)


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """Mosquitto and InfluxDB of this module only: the tests stop and restart them."""
    require_binaries("mosquitto", "influxd")
    state = tmp_path_factory.mktemp("resilience-services")
    try:
        yield services_up(state)
    finally:
        services_down(state)


@pytest.fixture
def database(own):
    client = InfluxClient(own.influx_url, f"res_{uuid.uuid4().hex[:10]}", timeout=5.0)
    client.create_database()
    try:
        yield client
    finally:
        try:
            if client.ping() or wait_until(client.ping, 20):
                client.drop_database()
        finally:
            client.close()


def message(station, index: int, t0: int, level: float | None = None) -> tuple[str, bytes, list[tuple]]:
    """One message of ``station`` (index = seq), with the (station, quantity, time_ns) keys it stores."""
    t = t0 + STEP_S * index
    if station.kind == "river_gauge":
        values = {"water_level": (1.0 + 0.001 * (index % 100) if level is None else level, "m"),
                  "discharge": (20.0 + 0.01 * index, "m3/s"), "water_temperature": (11.0 + 0.001 * index, "degC")}
    else:
        values = {"air_temperature": (12.0 + 0.01 * (index % 50), "degC"), "relative_humidity": (70.0, "%"),
                  "air_pressure": (1010.0 + 0.01 * (index % 30), "hPa"), "wind_speed": (3.0, "m/s"),
                  "precipitation": (0.0, "mm")}
    keys = [(station.id, q, t * 10**9) for q in values]
    return data_topic(station.partner, station.id), encode_json(float(t), index, values), keys


class StreamPublisher:
    """A device-like QoS 1 publisher: persistent session, survives broker restarts, records broker acks."""

    def __init__(self, host: str, port: int) -> None:
        self.sent: list[tuple[list[tuple], mqtt.MQTTMessageInfo]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
        self.client.connect(host, port, clean_start=False, properties=props)
        self.client.loop_start()
        self._thread: threading.Thread | None = None
        self.index = 0

    def publish(self, topic: str, payload: bytes, keys: list[tuple]) -> None:
        self.sent.append((keys, self.client.publish(topic, payload, qos=1)))

    def stream(self, messages: list, pace_s: float) -> None:
        """Publish ``messages`` in a background thread, ``pace_s`` apart; ``index`` says how far it got."""
        def run() -> None:
            for i, (topic, payload, keys) in enumerate(messages):
                self.publish(topic, payload, keys)
                self.index = i + 1
                time.sleep(pace_s)
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def join(self, timeout: float = WAIT) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
            assert not self._thread.is_alive(), "publisher did not finish"

    def wait_acked(self, timeout: float = WAIT) -> bool:
        return wait_until(lambda: all(broker_acked(info) for _, info in self.sent), timeout, 0.1)

    def acknowledged(self) -> set[tuple]:
        return {key for keys, info in self.sent if broker_acked(info) for key in keys}

    def acknowledged_messages(self) -> int:
        return sum(1 for _, info in self.sent if broker_acked(info))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def broker_acked(info: mqtt.MQTTMessageInfo) -> bool:
    """PUBACK received. (``is_published()`` raises for a message published while disconnected, which
    paho keeps and sends after reconnecting, so read the flag it sets on PUBACK.)"""
    return info._published


def stored(db: InfluxClient) -> tuple[int, set[tuple]]:
    """(InfluxQL COUNT of all readings, the set of distinct (station, quantity, time) keys).

    Every point is one key (no duplicates) is checked when nothing was written between the count and
    the rows (a count before and after agree); while writes still land, as in a polling wait, it is not.
    """
    def count() -> int:
        return sum(int(r["count"]) for r in db.query_rows('SELECT count("value") FROM "reading"'))

    for _ in range(10):
        before = count()
        rows = db.query_rows('SELECT "value" FROM "reading" GROUP BY "station", "quantity"')
        total = count()
        if before == total:
            assert len(rows) == total
            break
        time.sleep(0.05)
    keys = {(r["station"], r["quantity"], r["time"]) for r in rows}
    return total, keys


def report(name: str, publisher: StreamPublisher, acknowledged: set, total: int, keys: set, rejected: dict,
           **extra) -> None:
    figures = {"published": len(publisher.sent), "acknowledged": publisher.acknowledged_messages(),
               "acknowledged_readings": len(acknowledged), "stored_readings": len(keys),
               "duplicates": total - len(keys), "rejected": dict(sorted(rejected.items())), **extra}
    print(f"\n[{name}] " + " ".join(f"{k}={v}" for k, v in figures.items()))


def settings_for(own, db: InfluxClient, tmp_path: Path, **ingest) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": own.mqtt_host, "port": own.mqtt_port, "client_id": f"ingest-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 300},
        influx={"url": own.influx_url, "database": db.database, "timeout_s": 2.0},
        ingest={"detectors": [], "spool_dir": tmp_path / "spool", "summary_interval_s": 60.0, **ingest})


def interleaved(stations, n: int, t0: int) -> list:
    return [message(st, i, t0) for i in range(n) for st in stations]


# --------------------------------------------------------------------------- InfluxDB outage


def test_influxdb_outage_of_20_s_loses_and_doubles_nothing(own, database, tmp_path):
    svc = Service(settings_for(own, database, tmp_path), CATALOG)
    svc.start()
    publisher = StreamPublisher(own.mqtt_host, own.mqtt_port)
    samples: list[tuple[float, int, int]] = []
    try:
        assert svc.wait_connected(10)
        stations = GAUGES + WEATHER
        messages = interleaved(stations, 600, int(time.time()) - 2 * 86400)  # 3000 messages, ~30 s
        publisher.stream(messages, pace_s=0.009)
        assert wait_until(lambda: publisher.index >= 400, 20)
        stop_influxdb(own.state_dir)
        try:
            down_at = time.monotonic()
            assert wait_until(lambda: svc.sink.influx_down and svc.spool.bytes > 0, 10)
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
            assert svc.spool.bytes > 0 and svc.stats.acked > 0  # acks went on: the spool is durable
        finally:
            restart_influxdb(own.state_dir)
        spooled_at_restart = svc.sink.counters.lines_spooled

        def sample() -> bool:
            samples.append((time.monotonic(), svc.sink.counters.lines_replayed, svc.spool.bytes))
            return samples[-1][2] == 0 and not svc.sink.influx_down

        assert wait_until(sample, WAIT, 0.01), "spool did not drain"
        publisher.join()
        assert publisher.wait_acked()
        assert wait_until(lambda: svc.stats.received >= len(messages)) and svc.wait_idle(WAIT)
        acknowledged = publisher.acknowledged()
        total, keys = stored(database)
        replaying = [s for s in samples if s[1] > samples[0][1]]
        first, last = (replaying[0], replaying[-1]) if replaying else (samples[0], samples[-1])
        rate = (last[1] - samples[0][1]) / max(1e-3, last[0] - first[0])
        report("influx outage", publisher, acknowledged, total, keys, svc.stats.rejected_by_reason,
               outage_s=OUTAGE_S, lines_spooled=svc.sink.counters.lines_spooled,
               lines_replayed=svc.sink.counters.lines_replayed, spooled_at_restart=spooled_at_restart,
               replay_readings_per_s=round(rate), corrupt=svc.spool.corrupt_records)
        assert len(acknowledged) == sum(len(k) for k, _ in publisher.sent)
        assert keys == acknowledged and total == len(keys)
        assert svc.stats.rejected_by_reason == {}
        assert svc.sink.counters.lines_replayed > 0 and svc.spool.corrupt_records == 0
    finally:
        publisher.close()
        svc.stop()


# --------------------------------------------------------------------------- SIGKILL of the worker


class WorkerProcess:
    """``python -m application.cli run --config FILE`` as a real process (so SIGKILL is real)."""

    def __init__(self, config: Path, log: Path, metrics_port: int) -> None:
        self.config, self.log, self.metrics_port = config, log, metrics_port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERWATCH_")}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "application.cli", "run", "--config", str(self.config)],
                                         cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        assert wait_until(lambda: self.metric("riverwatch_mqtt_connected") == 1.0, 30), self.tail()

    def metrics(self) -> dict[tuple, float]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as resp:
                text = resp.read().decode()
        except OSError:
            return {}
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out[(s.name, s.labels.get("reason"))] = s.value
        return out

    def metric(self, name: str, reason: str | None = None) -> float | None:
        return self.metrics().get((name, reason))

    def rejects(self) -> dict[str, int]:
        return {reason: int(v) for (name, reason), v in self.metrics().items()
                if name == "riverwatch_rejects_total" and v}

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


def write_config(path: Path, own, db: InfluxClient, tmp_path: Path, metrics_port: int) -> None:
    path.write_text(f"""
state_dir = "{tmp_path / 'worker-state'}"
[mqtt]
host = "{own.mqtt_host}"
port = {own.mqtt_port}
client_id = "killme-{uuid.uuid4().hex[:8]}"
session_expiry_s = 300
[influx]
url = "{own.influx_url}"
database = "{db.database}"
[ingest]
detectors = ["level_threshold"]
spool_dir = "{tmp_path / 'worker-spool'}"
summary_interval_s = 1.0
metrics_port = {metrics_port}
""")


class WarningWatcher:
    """Collects every warning event published on MQTT."""

    def __init__(self, host: str, port: int) -> None:
        self.events: list[dict] = []
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: m.payload and self.events.append(orjson.loads(m.payload))
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe("rw/v1/+/+/warning/+", qos=1)
        assert ready.wait(10)

    def seen(self, id_: str, state: str, level: str | None = None) -> bool:
        return any(e["id"] == id_ and e["state"] == state and (level is None or e["level"] == level)
                   for e in self.events)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def flood_levels() -> list[float]:
    """Rise 1.0 → 3.3 m (warning at 3.0), hold, then fall to 1.0 m and stay low long enough to clear."""
    rise = [round(1.0 + 0.02 * i, 3) for i in range(116)]
    hold = [3.3 + 0.01 * (i % 5) for i in range(420)]
    fall = [round(3.3 - 0.02 * i, 3) for i in range(116)]
    low = [1.0 + 0.001 * (i % 7) for i in range(150)]
    return rise + hold + fall + low


def test_sigkill_of_the_worker_loses_nothing_and_keeps_its_warnings(own, database, tmp_path):
    origin = CATALOG.station("rivertown", "gauge-hochtal")
    t0 = int(time.time()) - 4 * 86400
    levels = flood_levels()
    messages = []
    for i, level in enumerate(levels):
        messages.append(message(origin, i, t0, level))
        messages += [message(st, i, t0) for st in WEATHER]
    hold_end = (116 + 420) * 3  # index in ``messages`` where the water starts falling
    port = free_port()
    config = tmp_path / "worker.toml"
    write_config(config, own, database, tmp_path, port)
    worker = WorkerProcess(config, tmp_path / "worker.log", port)
    watcher = WarningWatcher(own.mqtt_host, own.mqtt_port)
    publisher = StreamPublisher(own.mqtt_host, own.mqtt_port)
    warning_topics = set()
    try:
        worker.start()
        publisher.stream(messages, pace_s=0.006)
        origin_id = None

        def escalated() -> bool:
            nonlocal origin_id
            for e in watcher.events:
                if e["station"] == origin.id and e["hazard"] == "flood" and e["level"] == "warning":
                    origin_id = e["id"]
                    return True
            return False

        assert wait_until(escalated, WAIT), worker.tail()
        killed_at = publisher.index + 150
        assert wait_until(lambda: publisher.index >= killed_at, WAIT)
        assert publisher.index < hold_end, "the stream outran the test: the kill must come while the water is high"
        before_kill = {k: v for k, v in worker.metrics().items() if k[0] == "riverwatch_messages_acked_total"}
        worker.kill()
        time.sleep(2.0)  # the stream goes on into the persistent session while the worker is dead
        events_before_restart = len(watcher.events)
        worker.start()
        publisher.join()
        assert publisher.wait_acked()
        acknowledged = publisher.acknowledged()
        assert wait_until(lambda: watcher.seen(origin_id, "cleared"), WAIT), worker.tail()
        assert wait_until(lambda: stored(database)[1] >= acknowledged, WAIT, 0.5), worker.tail()
        rejected = worker.rejects()
        after = [e for e in watcher.events[events_before_restart:]]
        total, keys = stored(database)
        rows = database.query_rows('SELECT "id", "state", "level" FROM "warning"')
        raised = Counter(r["id"] for r in rows if r["state"] == "raised")
        warning_topics = {(e["partner"], e["station"], e["hazard"]) for e in watcher.events}
        report("sigkill", publisher, acknowledged, total, keys, rejected,
               killed_at_message=killed_at, acked_by_first_worker=int(sum(before_kill.values())),
               acked_by_second_worker=int(worker.metric("riverwatch_messages_acked_total") or 0),
               warning_ids=len(raised), raised_events_in_influx=sum(raised.values()),
               events_after_restart=Counter(e["state"] for e in after))
        assert len(acknowledged) == sum(len(k) for k, _ in publisher.sent)
        assert keys == acknowledged and total == len(keys)
        assert raised[origin_id] == 1 and set(raised.values()) == {1}
        assert not any(e["id"] == origin_id and e["state"] == "raised" for e in after)  # not re-raised
        assert any(e["id"] == origin_id and e["state"] == "cleared" for e in after)  # not forgotten
        cleared = [r for r in rows if r["id"] == origin_id and r["state"] == "cleared"]
        assert len(cleared) == 1
        assert set(rejected) <= {"replayed"}  # only redeliveries of what was already durable
    finally:
        publisher.close()
        worker.stop()
        clear_retained(own, warning_topics)
        watcher.close()


def clear_retained(own, topics) -> None:
    if not topics:
        return
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"clean-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.connect(own.mqtt_host, own.mqtt_port)
    client.loop_start()
    try:
        for partner, station, hazard in topics:
            client.publish(f"rw/v1/{partner}/{station}/warning/{hazard}", b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


# --------------------------------------------------------------------------- broker restart


def test_broker_restart_mid_stream_resumes_by_itself(own, database, tmp_path):
    svc = Service(settings_for(own, database, tmp_path), CATALOG)
    svc.start()
    publisher = StreamPublisher(own.mqtt_host, own.mqtt_port)
    try:
        assert svc.wait_connected(10)
        messages = interleaved(GAUGES + WEATHER, 300, int(time.time()) - 86400)  # 1500 messages
        publisher.stream(messages, pace_s=0.006)
        assert wait_until(lambda: publisher.index >= 500, 20)
        restart_mosquitto(own.state_dir)
        assert wait_until(lambda: svc.consumer.reconnects >= 1 and svc.consumer.connected.is_set(), 30)
        publisher.join()
        assert publisher.wait_acked()
        acknowledged = publisher.acknowledged()
        caught_up = wait_until(lambda: stored(database)[1] >= acknowledged, WAIT, 0.5)
        if not caught_up:
            missing = acknowledged - stored(database)[1]
            print(f"\n[broker restart] MISSING {len(missing)} readings, e.g. {sorted(missing)[:6]}; "
                  f"stats={svc.stats.as_dict()} queue={svc.queue_depth} "
                  f"connected={svc.consumer.connected.is_set()} reconnects={svc.consumer.reconnects}")
        assert caught_up
        assert svc.wait_idle(WAIT)
        total, keys = stored(database)
        report("broker restart", publisher, acknowledged, total, keys, svc.stats.rejected_by_reason,
               reconnects=svc.consumer.reconnects, received=svc.stats.received, acked=svc.stats.acked,
               stale_acks_dropped=svc.consumer.acks_dropped)
        assert len(acknowledged) == sum(len(k) for k, _ in publisher.sent)
        assert keys == acknowledged and total == len(keys)
        assert set(svc.stats.rejected_by_reason) <= {"replayed"}  # redeliveries only
        assert svc.metrics.render().count(b"riverwatch_mqtt_connected{") == 1
    finally:
        publisher.close()
        svc.stop()
