"""A drill beside a real flood, through real Mosquitto and InfluxDB: the real outputs are exactly
those of the same flood without the drill, and the drill's own warnings are marked and kept apart."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic, encode_json
from riverwatch.exercise_contract import station_exercise_topic
from riverwatch.influx import InfluxClient
from riverwatch.settings import REPO_ROOT, Settings

from tests.conftest import clear_retained
from tests.ingest.test_feed_pages import browser, screenshot  # noqa: F401 (fixture)
from tests.helpers import Publisher, wait_until

from ingest.checkpoint import read_checkpoint
from ingest.service import Service

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
GAUGE = ("rivertown", "gauge-hochtal")
DRILL = "joint-1"
T0 = time.time() - 4 * 3600
REAL = [1.0, 1.2, 1.5, 2.0, 2.6, 3.1, 3.2, 3.3, 3.3, 3.4, 3.2, 2.8, 2.2, 1.6, 1.2, 1.0]  # a wave past 3.0 m
EXERCISE = [1.4, 2.2, 3.0, 3.6, 4.1, 4.4, 4.6, 4.5, 4.2, 3.7, 3.0, 2.4, 1.8, 1.4, 1.2, 1.1]  # a bigger one
REAL_TOPICS = ("rw/v1/+/+/warning/#", "rw/v1/+/+/cap/#", "rw/v1/+/+/rejected")
MEASUREMENTS = ("reading", "score", "warning", "reject")


def settings_for(services, database: str, tmp_path) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"x-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 30},
        influx={"url": services.influx_url, "database": database, "flush_interval_s": 0.05, "timeout_s": 2.0},
        ingest={"detectors": ["level_threshold", "rate_of_rise"], "spool_dir": tmp_path / "spool",
                "summary_interval_s": 3600},
        acks={"remind_after_s": 86400})  # reminders carry the wall clock: none in this comparison


def run_flood(services, influx: InfluxClient, tmp_path, with_drill: bool) -> dict:
    """Play the real flood (and the drill, interleaved, on the same station); what came out."""
    clear_retained(services.mqtt_host, services.mqtt_port)
    svc, events = Service(settings_for(services, influx.database, tmp_path), CATALOG), []
    svc.on_warning = events.append
    watchers = {topic: Publisher(services, subscribe=topic) for topic in REAL_TOPICS + ("rw/v1/_exercise/#",)}
    pub = Publisher(services)
    svc.start()
    try:
        assert svc.wait_connected(10)
        for i, (real, drill) in enumerate(zip(REAL, EXERCISE)):
            pub.publish(data_topic(*GAUGE), encode_json(T0 + 900 * i, i, {"water_level": (real, "m")}))
            if with_drill:
                pub.publish(station_exercise_topic(DRILL, *GAUGE),
                            encode_json(T0 + 900 * i + 30, 1000 + i, {"water_level": (drill, "m")}))
        if with_drill:  # a bad drill message is refused inside the drill, not on the real topics
            pub.publish(station_exercise_topic(DRILL, *GAUGE), b'{"ts": "yesterday"}')
        sent = len(REAL) * (2 if with_drill else 1) + with_drill
        assert wait_until(lambda: svc.stats.received == sent) and svc.wait_idle(30)
        time.sleep(1.5)  # one more lifecycle tick, published
    finally:
        svc.stop()
        pub.close()
        for watcher in watchers.values():
            watcher.close()
    clock_fields = {"worker", "published_ns"}  # the worker's name and its wall clock differ between runs
    rows = {m: [{k: v for k, v in r.items() if k not in clock_fields}
                for r in influx.query_rows(f'SELECT * FROM "{m}"')] for m in MEASUREMENTS}
    real_messages = [(m.topic, m.payload) for t in REAL_TOPICS for m in watchers[t].received if m.payload]
    clocks, _ = read_checkpoint(svc.checkpoint_path)
    return {"events": events, "rows": rows, "messages": real_messages, "clocks": clocks,
            "exercise": watchers["rw/v1/_exercise/#"].received, "open": svc.pipeline.open_warnings(),
            "influx": influx}


@pytest.fixture
def second_database(services):
    client = InfluxClient(services.influx_url, f"test_{uuid.uuid4().hex[:12]}")
    client.create_database()
    yield client
    client.drop_database()
    client.close()


def test_a_drill_beside_a_real_flood_changes_no_real_output(services, influx, second_database, tmp_path):
    alone = run_flood(services, influx, tmp_path / "alone", with_drill=False)
    both = run_flood(services, second_database, tmp_path / "both", with_drill=True)

    assert alone["events"] and both["events"] == alone["events"]
    assert both["rows"] == alone["rows"] and alone["rows"]["warning"]
    assert both["messages"] == alone["messages"] and alone["messages"]
    assert both["clocks"] == alone["clocks"]
    assert both["open"] == alone["open"]

    exercise = {m.topic: m for m in both["exercise"] if m.payload}
    warning = orjson.loads(exercise[f"rw/v1/_exercise/{DRILL}/rivertown/gauge-hochtal/warning/flood"].payload)
    assert warning["id"].startswith(f"exercise.{DRILL}.")
    assert all(text.startswith(("EXERCISE", "ÜBUNG", "EXERCICE")) for text in warning["messages"].values())
    assert {"de", "en"} <= set(warning["messages"])
    cap = exercise[f"rw/v1/_exercise/{DRILL}/rivertown/gauge-hochtal/cap/flood"].payload
    assert b"<status>Exercise</status>" in cap and b"Actual" not in cap
    assert f"rw/v1/_exercise/{DRILL}/rivertown/gauge-hochtal/rejected" in exercise

    stored = both["influx"]
    drill_rows = stored.query_rows(f'SELECT * FROM "exercise_warning" WHERE "drill" = \'{DRILL}\'')
    assert drill_rows and max(r["level"] for r in drill_rows) > max(r["level"] for r in alone["rows"]["warning"])
    readings = stored.query_rows('SELECT count("value") FROM "exercise_reading"')
    assert readings[0]["count"] == len(EXERCISE)
    assert [r["reason"] for r in stored.query_rows('SELECT * FROM "exercise_reject"')] == ["bad_timestamp"]


def test_a_drills_alerts_are_served_under_exercise_only(services, influx, tmp_path, browser):
    """The feed server shows a drill's warning on its own pages and feeds under /exercise/, marked in
    the reader's language, and nowhere in the public index or feeds."""
    from application.services import free_port

    base = settings_for(services, influx.database, tmp_path)
    settings = base.model_copy(update={"feed": base.feed.model_copy(update={"port": free_port()})})
    svc, pub = Service(settings, CATALOG), Publisher(services)
    svc.start()
    try:
        assert svc.wait_connected(10)
        for i, level in enumerate(EXERCISE):
            pub.publish(station_exercise_topic(DRILL, *GAUGE), encode_json(T0 + 900 * i, i, {"water_level": (level, "m")}))
        assert wait_until(lambda: svc.stats.received == len(EXERCISE)) and svc.wait_idle(30)
        base = svc.feed_server.url
        drill_feed, public_feed = get(f"{base}/exercise/alerts.atom"), get(f"{base}/alerts.atom")
        assert f"exercise.{DRILL}." in drill_feed and "urn:riverwatch:exercise" in drill_feed
        assert "exercise." not in public_feed and "exercise." not in get(f"{base}/?lang=de")
        warning_id = next(a.id for a in svc.exercises.feed.listed())
        page_url = f"{base}/exercise/alerts/{warning_id}.html?lang=de"
        assert "ÜBUNG" in get(page_url) and 'class="ack"' not in get(page_url)
        screenshot(browser, tmp_path, page_url, "exercise_page_de.png", "1100,900")
    finally:
        svc.stop()
        pub.close()


def get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()
