"""/healthz (live) and /readyz (ready) of a running worker, with real HTTP GETs, real Mosquitto and InfluxDB."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
import uuid

from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic, encode_json
from riverwatch.storage import HEARTBEAT
from riverwatch.settings import REPO_ROOT, Settings
from application.services import free_port

from tests.helpers import Publisher, wait_until

from dashboards.alerting import HEARTBEAT_LOOKBACK_S, HEARTBEAT_WINDOW_S, SILENT_BELOW, alert_rules

from ingest.health import LIVE_LIMIT_S, SPOOL_READY_FRACTION, Health
from ingest.service import Service
from ingest.stats import StatsSnapshot

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")


def get(port: int, path: str) -> tuple[int, dict]:
    """Status and JSON body of ``GET path`` on the worker's metrics port (a 503 is an answer, not an error)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_settings(tmp_path, mqtt_port: int, influx_url: str, database: str) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": "127.0.0.1", "port": mqtt_port, "client_id": f"health-{uuid.uuid4().hex[:6]}",
              "session_expiry_s": 30},
        influx={"url": influx_url, "database": database, "flush_interval_s": 0.05, "timeout_s": 2},
        ingest={"detectors": ["level_threshold"], "spool_dir": tmp_path / "spool", "metrics_port": free_port(),
                "summary_interval_s": 0.5})


def test_a_connected_worker_is_live_and_ready_with_every_check_named(services, influx, tmp_path):
    settings = worker_settings(tmp_path, services.mqtt_port, services.influx_url, influx.database)
    svc = Service(settings, CATALOG)
    svc.start()
    try:
        assert svc.wait_connected(10)
        port = settings.ingest.metrics_port
        status, body = get(port, "/healthz")
        assert status == 200 and body["status"] == "live" and body["checks"]["live"]["ok"] is True
        status, body = get(port, "/readyz")
        assert status == 200 and body["status"] == "ready"
        assert {name: check["ok"] for name, check in body["checks"].items()} == dict.fromkeys(
            ["backlog", "influxdb", "live", "mqtt", "spool"], True)
        assert body["checks"]["backlog"]["limit"] == settings.ingest.max_queue
    finally:
        svc.stop()


def test_a_worker_without_broker_and_database_is_live_but_not_ready(tmp_path):
    settings = worker_settings(tmp_path, closed_port(), f"http://127.0.0.1:{closed_port()}", "nowhere")
    svc = Service(settings, CATALOG)
    svc.start()
    try:
        port = settings.ingest.metrics_port
        assert wait_until(lambda: svc.consumer.last_failure is not None, 15)
        assert get(port, "/healthz")[0] == 200  # the process works: restarting it would not help
        status, body = get(port, "/readyz")
        assert status == 503 and body["status"] == "not ready"
        checks = body["checks"]
        assert checks["mqtt"]["ok"] is False and checks["mqtt"]["last_failure"].startswith("refused")
        assert checks["influxdb"]["ok"] is False
        assert checks["live"]["ok"] and checks["backlog"]["ok"] and checks["spool"]["ok"]
    finally:
        svc.stop()


def health(tick_age_s: float = 0.5, **snapshot) -> Health:
    snap = StatsSnapshot(**{"mqtt_connected": True, "max_queue": 100, **snapshot})
    return Health(lambda: snap, lambda: True, 1000, lambda: tick_age_s)


def test_a_full_backlog_or_an_almost_full_spool_is_not_ready():
    assert health(backlog=99).ready()[0] == 200
    status, body = health(backlog=100).ready()
    assert status == 503 and body["checks"]["backlog"] == {"ok": False, "messages": 100, "limit": 100}
    limit = int(1000 * SPOOL_READY_FRACTION)
    assert health(spool_bytes=limit - 1).ready()[0] == 200
    status, body = health(spool_bytes=limit).ready()
    assert status == 503 and body["checks"]["spool"] == {"ok": False, "bytes": limit, "limit": limit}


def test_a_processing_thread_that_stopped_ticking_is_not_live():
    status, body = health(tick_age_s=LIVE_LIMIT_S + 1).live()
    assert status == 503 and body == {"status": "not live", "checks": {"live": {"ok": False,
                                                                                 "tick_age_s": LIVE_LIMIT_S + 1}}}
    assert health(tick_age_s=LIVE_LIMIT_S + 1).ready()[0] == 503


# --- silence is loud: the alert rules' own queries, run against the real InfluxDB -------------------

def rule(uid: str) -> dict:
    return next(r for r in alert_rules("rw-shared") if r["uid"] == uid)


def evaluate(client, rule_doc: dict, at_ns: int) -> dict[tuple, float] | None:
    """The rule evaluated at ``at_ns`` as Grafana does: query A over its relative range (``$timeFilter``),
    reduce B = last value per series. None when the query returns no series (Grafana's "no data")."""
    source = rule_doc["data"][0]
    since = at_ns - source["relativeTimeRange"]["from"] * 10**9
    q = source["model"]["query"].replace("$timeFilter", f"time > {since} AND time <= {at_ns}")
    series = client.query(q)
    if not series:
        return None
    return {tuple(sorted(s.get("tags", {}).items())): s["values"][-1][-1] for s in series}


def firing(rule_doc: dict, last: dict[tuple, float] | None) -> set[tuple] | str:
    """What condition C fires for: the series below its threshold, or the rule's noDataState on no data."""
    if last is None:
        return rule_doc["noDataState"]
    threshold = rule_doc["data"][2]["model"]["conditions"][0]["evaluator"]
    assert threshold["type"] == "lt"
    return {key for key, value in last.items() if value < threshold["params"][0]}


def test_a_stopped_worker_fires_the_heartbeat_rule_and_then_its_no_data_alerts(services, influx, tmp_path):
    settings = worker_settings(tmp_path, services.mqtt_port, services.influx_url, influx.database)
    heartbeat, worker = rule("rw-heartbeat"), (("worker", settings.mqtt.client_id),)
    assert firing(heartbeat, evaluate(influx, heartbeat, time.time_ns())) == "Alerting"  # no worker ever ran
    svc = Service(settings, CATALOG)
    svc.start()
    try:
        assert svc.wait_connected(10)
        assert wait_until(lambda: influx.query(f'SELECT count("alive") FROM "{HEARTBEAT}"'), 15)
        last = evaluate(influx, heartbeat, time.time_ns())
        assert last[worker] > SILENT_BELOW and firing(heartbeat, last) == set()  # running: quiet
    finally:
        svc.stop()
    stopped_ns = time.time_ns()
    # the same query, evaluated one heartbeat window after the stop: this worker's series is 0, so it fires
    later = evaluate(influx, heartbeat, stopped_ns + (HEARTBEAT_WINDOW_S + 60) * 10**9)
    assert later[worker] == 0 and firing(heartbeat, later) == {worker}
    # once the worker has been gone longer than the rule looks back, the query returns nothing: no data = alerting
    gone = stopped_ns + (HEARTBEAT_LOOKBACK_S + 120) * 10**9
    assert evaluate(influx, heartbeat, gone) is None and firing(heartbeat, None) == "Alerting"


def test_staleness_is_judged_on_the_readings_own_timestamps(services, influx, tmp_path):
    settings = worker_settings(tmp_path, services.mqtt_port, services.influx_url, influx.database)
    stale = rule("rw-stale")
    svc = Service(settings, CATALOG)
    svc.start()
    pub = Publisher(services)
    try:
        assert svc.wait_connected(10)
        now = time.time()
        pub.publish(data_topic("rivertown", "gauge-hochtal"), encode_json(now - 60, 1, {"water_level": (1.0, "m")}))
        # arrives now, but was measured two hours ago (a device that caught up): stale all the same
        pub.publish(data_topic("lacville", "gauge-lacville"), encode_json(now - 7200, 1, {"water_level": (1.0, "m")}))
        assert wait_until(lambda: svc.stats.readings_in == 2) and svc.wait_idle(30)
    finally:
        pub.close()
        svc.stop()
    fired = firing(stale, evaluate(influx, stale, time.time_ns()))
    assert fired == {(("partner", "lacville"), ("station", "gauge-lacville"))}
