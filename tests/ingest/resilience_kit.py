"""Shared by the resilience tests (test_resilience.py, test_resilience_sigkill.py) and the fault tests
that reuse their stream: a module's own Mosquitto and InfluxDB (``own``), a fresh database, the paced
QoS 1 :class:`StreamPublisher` with its broker acks, the exact count of what InfluxDB stored, and
:class:`WorkerProcess`, ``riverwatch run`` as a real process with its config (:func:`worker_config`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from prometheus_client.parser import text_string_to_metric_families

from riverwatch.catalog import load_catalog
from riverwatch.influx import InfluxClient
from application.services import services_down, services_up
from riverwatch.settings import REPO_ROOT

from riverwatch.contract import data_topic, encode_json

from tests.helpers import require_binaries, wait_until as _wait_until

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
GAUGES = [st for st in CATALOG.stations if st.kind == "river_gauge"]
WEATHER = [st for st in CATALOG.stations if st.kind == "weather"]
STEP_S = 60
WAIT = 60.0


def worker_config(path: Path, services, database: str, influx_url: str, tmp_path: Path, metrics_port: int, *,
                  detectors: str = "[]", client: str = "worker", influx_timeout_s: float | None = 2.0,
                  **ingest: str) -> None:
    """A ``riverwatch run`` config on ``services``' broker (``mqtt_host``, ``mqtt_port``), writing to
    ``influx_url``; ``ingest`` adds ``[ingest]`` options as TOML values."""
    extra = "".join(f"{key} = {value}\n" for key, value in ingest.items())
    timeout = "" if influx_timeout_s is None else f"timeout_s = {influx_timeout_s}\n"
    path.write_text(f"""
state_dir = "{tmp_path / 'worker-state'}"
[mqtt]
host = "{services.mqtt_host}"
port = {services.mqtt_port}
client_id = "{client}-{uuid.uuid4().hex[:8]}"
session_expiry_s = 300
[influx]
url = "{influx_url}"
database = "{database}"
{timeout}[ingest]
detectors = {detectors}
spool_dir = "{tmp_path / 'worker-spool'}"
summary_interval_s = 1.0
metrics_port = {metrics_port}
{extra}""")


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


def interleaved(stations, n: int, t0: int) -> list:
    return [message(st, i, t0) for i in range(n) for st in stations]


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
