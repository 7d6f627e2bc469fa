"""The Prometheus endpoint of a running worker, read with a real HTTP GET."""

from __future__ import annotations

import time
import urllib.request
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic, encode_json
from application.services import free_port
from riverwatch.settings import REPO_ROOT, Settings

from tests.helpers import wait_until as _wait_until

from ingest.service import Service

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.02) -> bool:
    return _wait_until(predicate, timeout, interval)


def scrape(port: int) -> dict[tuple[str, str | None], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    return {(s.name, s.labels.get("reason") or s.labels.get("le")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_endpoint_reports_the_worker(services, influx, tmp_path):
    port = free_port()
    settings = Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port,
              "client_id": f"metrics-{uuid.uuid4().hex[:6]}", "session_expiry_s": 30},
        influx={"url": services.influx_url, "database": influx.database, "flush_interval_s": 0.05},
        ingest={"detectors": ["level_threshold"], "spool_dir": tmp_path / "spool", "metrics_port": port})
    svc = Service(settings, CATALOG)
    svc.start()
    try:
        assert svc.wait_connected(10)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5)
        pub.connect(services.mqtt_host, services.mqtt_port)
        pub.loop_start()
        topic, t0 = data_topic("rivertown", "gauge-hochtal"), time.time() - 7200
        try:
            for i, level in enumerate([1.0, 3.1, 3.2, 3.3, 3.4]):  # raises a flood warning
                pub.publish(topic, encode_json(t0 + 600 * i, i, {"water_level": (level, "m")}), qos=1).wait_for_publish(10)
            pub.publish(topic, b"{not json", qos=1).wait_for_publish(10)
        finally:
            pub.disconnect()
            pub.loop_stop()
        assert wait_until(lambda: svc.stats.received == 6) and svc.wait_idle(30)
        m = scrape(port)
        assert m[("riverwatch_readings_in_total", None)] == 5
        assert m[("riverwatch_readings_stored_total", None)] == 5
        assert m[("riverwatch_messages_acked_total", None)] == 6
        assert m[("riverwatch_rejects_total", "bad_json")] == 1 and m[("riverwatch_rejects_total", "oversize")] == 0
        assert m[("riverwatch_mqtt_connected", None)] == 1 and m[("riverwatch_mqtt_reconnects_total", None)] == 0
        assert m[("riverwatch_warnings_open", None)] >= 1
        assert m[("riverwatch_spool_bytes", None)] == 0 and m[("riverwatch_spool_segments", None)] == 0
        assert m[("riverwatch_spool_oldest_age_seconds", None)] == 0
        assert m[("riverwatch_influx_write_seconds_count", None)] >= 1
        # the backlog: nothing waits once idle; it was at least one message deep; nothing dropped or held
        assert m[("riverwatch_backlog_messages", None)] == 0 and m[("riverwatch_queue_depth", None)] == 0
        assert m[("riverwatch_writer_backlog_messages", None)] == 0
        assert m[("riverwatch_writer_backlog_lines", None)] == 0
        assert 1 <= m[("riverwatch_queue_depth_max", None)] <= m[("riverwatch_backlog_messages_max", None)] <= 10000
        assert m[("riverwatch_backlog_limit_messages", None)] == settings.ingest.max_queue
        assert m[("riverwatch_overload_dropped_total", None)] == 0
        assert m[("riverwatch_mqtt_holds_total", None)] == 0
        assert m[("riverwatch_pipeline_points_skipped_total", None)] == 0
        assert m[("riverwatch_influx_write_seconds_bucket", "+Inf")] == m[("riverwatch_influx_write_seconds_count", None)]
        assert "riverwatch_readings_in_total" not in {s.name for f in REGISTRY.collect() for s in f.samples}
    finally:
        svc.stop()
    assert wait_until(lambda: not _answers(port), 5)  # the endpoint stops with the worker


def _answers(port: int) -> bool:
    try:
        scrape(port)
    except OSError:
        return False
    return True
