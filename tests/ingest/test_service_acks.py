"""Acknowledgements in a running worker: real Mosquitto, InfluxDB, feed server and headless Chromium.

An operator acknowledges over MQTT and with the alert page's form; hostile acknowledgements are
refused; an unacknowledged warning is re-announced until someone acknowledges; a restart keeps who
acknowledged. ``RIVERWATCH_SCREENSHOTS=1`` also writes the pages to ``docs/img/`` (alert_page_ack.png,
alert_ack_done.png).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import orjson
import pytest

from application.services import free_port
from riverwatch.ack_contract import ack_topic, warning_ack_topic
from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic, encode_json, warning_topic
from riverwatch.settings import REPO_ROOT, Settings
from riverwatch.storage import ACK, REJECT

from tests.helpers import Publisher, wait_until, worker_starter
from tests.ingest.test_feed_pages import browser, chromium, screenshot  # noqa: F401 (fixture)

from ingest.service import Service

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
GAUGE = ("rivertown", "gauge-hochtal")
LEVELS = [1.0, 1.2, 1.5, 2.0, 2.6, 3.1, 3.2, 3.3, 3.3, 3.4]  # warning threshold 3.0 m
TOKENS = {"rivertown": "rt-" + uuid.uuid4().hex, "lacville": "lv-" + uuid.uuid4().hex}
OPERATOR = {"by": "marie", "role": "operator", "comment": "sandbags at the quay", "action": "quay closed"}


def make_settings(services, influx, tmp_path, feed_port: int) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"acks-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 30},
        influx={"url": services.influx_url, "database": influx.database, "flush_interval_s": 0.05, "timeout_s": 2.0},
        ingest={"detectors": ["level_threshold"], "spool_dir": tmp_path / "spool", "summary_interval_s": 0.5},
        feed={"port": feed_port}, acks={"remind_after_s": 1.0, "tokens": TOKENS})


def post_form(url: str, fields: dict[str, str]) -> tuple[int, str]:
    """POST the alert page's form as a browser does; the status and the HTML answer."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def raise_flood_warning(services, svc: Service) -> str:
    """Publish a rising gauge until the worker raises a flood warning; its id."""
    events = []
    svc.on_warning = events.append
    pub, t0 = Publisher(services), time.time() - 3600
    try:
        for i, level in enumerate(LEVELS):
            pub.publish(data_topic(*GAUGE), encode_json(t0 + 360 * i, i, {"water_level": (level, "m")}))
    finally:
        pub.close()
    assert wait_until(lambda: any(e.station == GAUGE[1] and e.level >= 2 for e in events))
    return next(e.id for e in events if e.station == GAUGE[1])


@pytest.fixture
def worker(services, influx, tmp_path):
    settings = make_settings(services, influx, tmp_path, free_port())
    with worker_starter(CATALOG) as start:
        yield lambda: start(settings)
    pub = Publisher(services)  # the retained warning and CAP of this test go with it
    for topic in (warning_topic(*GAUGE, "flood"), f"rw/v1/{GAUGE[0]}/{GAUGE[1]}/cap/flood"):
        pub.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
    pub.close()


def test_acks_over_mqtt_and_the_page_form_are_stored_published_and_stop_reminders(
        worker, services, influx, browser, tmp_path):
    svc = worker()
    watcher = Publisher(services, subscribe=f"{warning_topic(*GAUGE, 'flood')}/#")
    try:
        warning_id = raise_flood_warning(services, svc)
        assert wait_until(lambda: svc.acks.reminders >= 1), "an unacknowledged warning is re-announced"

        operator = Publisher(services)
        operator.publish(ack_topic("lacville", warning_id), orjson.dumps(OPERATOR))
        operator.publish(ack_topic("lacville", "no-such-warning.1"), orjson.dumps(OPERATOR))
        operator.publish(ack_topic("lacville", warning_id), orjson.dumps(OPERATOR))  # again: a replay
        operator.close()
        assert wait_until(lambda: svc.acks.accepted == 1 and sum(svc.acks.refused.values()) == 2)
        assert svc.acks.refused == {"ack_unknown_warning": 1, "ack_replayed": 1}
        reminded = lambda: sum(orjson.loads(m.payload).get("id") == warning_id for m in watcher.received  # noqa: E731
                               if m.topic == warning_ack_topic(*GAUGE, "flood"))  # reminders carry "id"
        assert wait_until(lambda: reminded() >= 1)
        before = reminded()
        time.sleep(2.5)  # two reminder intervals: acknowledged, so none more for this warning
        assert reminded() == before

        page_url = f"{svc.feed_server.url}/alerts/{warning_id}.html?lang=fr"
        image = screenshot(browser, tmp_path, page_url, "alert_page_ack.png", "1100,1300")
        dom = chromium(browser, tmp_path / "profile", page_url, "--dump-dom").decode()
        assert 'class="ack"' in dom and "Accuser réception" in dom and 'type="password"' in dom
        assert image.size == (1100, 1300)

        form_url = f"{svc.feed_server.url}/alerts/{warning_id}/ack"
        fields = {"by": "jonas", "comment": "", "action": "Pegel beobachtet", "lang": "de"}
        assert post_form(form_url, {**fields, "token": "guessed"})[0] == 401
        status, page = post_form(form_url, {**fields, "token": TOKENS["rivertown"]})
        assert status == 200 and "Quittiert" in page and "jonas (rivertown)" in page
        done = tmp_path / "ack_done.html"
        done.write_text(page)
        screenshot(browser, tmp_path, done.as_uri(), "alert_ack_done.png", "1100,400")
        status, page = post_form(form_url, {**fields, "token": TOKENS["rivertown"]})
        assert status == 409 and "bereits quittiert" in page

        assert svc.wait_idle(30)
        ack_messages = [orjson.loads(m.payload) for m in watcher.received
                        if m.topic == warning_ack_topic(*GAUGE, "flood")]
        assert sorted(m["partner"] for m in ack_messages if m["type"] == "ack") == ["lacville", "rivertown"]
        assert any(m["type"] == "reminder" for m in ack_messages)
    finally:
        watcher.close()

    stored = influx.query_rows(f'SELECT * FROM "{ACK}" WHERE "kind" = \'ack\'')
    assert sorted((r["partner"], r["by"], r["action"]) for r in stored) == [
        ("lacville", "marie", "quay closed"), ("rivertown", "jonas", "Pegel beobachtet")]
    assert all(r["id"] == warning_id and r["after_s"] > 0 for r in stored)
    reminders = influx.query_rows(f'SELECT * FROM "{ACK}" WHERE "kind" = \'reminder\'')
    assert len(reminders) == svc.acks.reminders and warning_id in {r["id"] for r in reminders}
    refused = influx.query_rows(f'SELECT * FROM "{REJECT}" WHERE "reason" =~ /^ack_/')
    assert sorted(r["reason"] for r in refused) == ["ack_replayed", "ack_replayed", "ack_unknown_warning"]


def test_a_restarted_worker_remembers_who_acknowledged(worker, services):
    first = worker()
    warning_id = raise_flood_warning(services, first)
    operator = Publisher(services)
    operator.publish(ack_topic("lacville", warning_id), orjson.dumps(OPERATOR))
    assert wait_until(lambda: first.acks.accepted == 1) and first.wait_idle(30)
    first.stop()

    second = worker()
    assert second.acks.book.acknowledged_by(warning_id) == ["lacville"]
    operator.publish(ack_topic("lacville", warning_id), orjson.dumps(OPERATOR))
    operator.publish(ack_topic("rivertown", warning_id), orjson.dumps({**OPERATOR, "by": "jonas"}))
    operator.close()
    assert wait_until(lambda: second.acks.refused == {"ack_replayed": 1} and second.acks.accepted == 1)
    request = urllib.request.Request(f"{second.feed_server.url}/alerts/{warning_id}/ack", method="POST",
                                     data=json.dumps(OPERATOR).encode(),
                                     headers={"Authorization": f"Bearer {TOKENS['rivertown']}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 409 and json.loads(refused.value.read()) == {"reason": "ack_replayed"}
