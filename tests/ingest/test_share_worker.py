"""A worker sharing by agreement into per-partner databases, on a real InfluxDB with authentication.

Readings go through the real broker and worker; each partner reads its own database with its own
read-only user (``application.partner_access``) and is refused everything else.
"""

from __future__ import annotations

import time
import uuid

import pytest

from application.local_influxdb import start_influxdb, stop_influxdb
from application.partner_access import create_admin, grant_partner_reads, reader_account
from riverwatch.contract import data_topic, encode_json
from riverwatch.influx import InfluxClient, InfluxError
from riverwatch.settings import Settings
from riverwatch.sharing import partner_database

from tests.helpers import Publisher, require_binaries, wait_until
from tests.ingest.test_share_sink import with_sharing

from ingest.share_plan import window_start
from ingest.service import Service

ADMIN = ("admin", "admin-pass")
PASSWORDS = {"rivertown": "rt-" + uuid.uuid4().hex, "lacville": "lv-" + uuid.uuid4().hex}
WINDOW_S, DELAY_S = 10, 1
CATALOG = with_sharing({"from": "rivertown", "to": "lacville", "stations": ["gauge-hochtal"],
                        "quantities": ["water_level"], "data": "aggregate",
                        "aggregate": {"window_s": WINDOW_S, "functions": ["mean", "max", "count"]},
                        "delay_s": DELAY_S, "warnings": False, "cap": False, "acks": False,
                        "agreement": "RT-LV-TEST", "purpose": "test"})
GAUGE = ("rivertown", "gauge-hochtal")


@pytest.fixture
def secured(tmp_path):
    require_binaries("influxd")
    _, port = start_influxdb(tmp_path / "influx", auth=True)
    url = f"http://127.0.0.1:{port}"
    try:
        create_admin(url, *ADMIN)
        with InfluxClient(url, "riverwatch", username=ADMIN[0], password=ADMIN[1]) as admin:
            admin.create_database()
            grant_partner_reads(admin, CATALOG, PASSWORDS)
            yield url, admin
    finally:
        stop_influxdb(tmp_path / "influx")


def worker_settings(services, url: str, tmp_path) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"share-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 60},
        influx={"url": url, "database": "riverwatch", "username": ADMIN[0], "password": ADMIN[1],
                "flush_interval_s": 0.05, "timeout_s": 3.0},
        ingest={"detectors": ["level_threshold"], "spool_dir": tmp_path / "spool", "summary_interval_s": 0.5},
        sharing={"interval_s": 0.2, "raw_window_s": 1})


def publish(services, values: list[tuple[float, float]], seq0: int) -> None:
    pub = Publisher(services)
    try:
        for i, (t, level) in enumerate(values):
            pub.publish(data_topic(*GAUGE), encode_json(t, seq0 + i, {"water_level": (level, "m")}))
    finally:
        pub.close()


def reader(url: str, partner: str, database: str | None = None) -> InfluxClient:
    return InfluxClient(url, database or partner_database("riverwatch", partner), username=reader_account(partner),
                        password=PASSWORDS[partner])


def test_a_restart_in_the_middle_of_a_window_loses_and_duplicates_nothing_and_each_partner_reads_only_its_view(
        services, secured, tmp_path):
    url, admin = secured
    settings = worker_settings(services, url, tmp_path)
    start = window_start(time.time_ns(), WINDOW_S) / 1e9 + 2 * WINDOW_S  # a window that has not begun yet
    values = [(start + 0.75 * i, 1.0 + 0.1 * i) for i in range(12)]  # 9 s of readings in one 10-s window
    svc = Service(settings, CATALOG)
    svc.start()
    try:
        assert svc.wait_connected(10)
        publish(services, values[:6], 1)
        assert svc.wait_idle(10)
    finally:
        svc.stop()  # in the middle of the window
    with reader(url, "lacville") as lac:
        assert lac.query_rows('SELECT * FROM "reading"') == []  # the window is not over, let alone delayed
    svc = Service(settings, CATALOG)
    svc.start()
    try:
        assert svc.wait_connected(10)
        publish(services, values[6:], 7)
        assert svc.wait_idle(10)
        with reader(url, "lacville") as lac:
            assert wait_until(lambda: lac.query_rows('SELECT "count" FROM "reading"'), timeout=4 * WINDOW_S)
            assert time.time() >= start + WINDOW_S + DELAY_S  # never before the delay
            rows = lac.query_rows('SELECT "mean", "max", "count", "station" FROM "reading"')
            with pytest.raises(InfluxError, match="not authorized"):
                lac.write("reading,partner=x value=1 1")
        with reader(url, "rivertown") as own:
            assert wait_until(lambda: len(own.query_rows('SELECT "value" FROM "reading"')) == len(values))
            raw = own.query_rows('SELECT "value", "seq" FROM "reading" WHERE "station" = \'gauge-hochtal\'')
            # what its dashboards read beyond the readings: the workers' figures, the stations' state, the audit
            for measurement in ("pipeline", "heartbeat", "station_state", "sharing_audit"):
                assert wait_until(lambda: own.query_rows(f'SELECT * FROM "{measurement}" LIMIT 1'), timeout=15), \
                    measurement
        snap = svc.stats_snapshot()
        assert snap.sharing_points >= len(values) and snap.sharing_errors == 0
    finally:
        svc.stop()
    levels = [level for _, level in values]
    assert [(r["count"], r["max"], r["station"]) for r in rows] == [(12, max(levels), "gauge-hochtal")]
    assert rows[0]["time"] == int(start * 1e9) and abs(rows[0]["mean"] - sum(levels) / 12) < 1e-12
    assert [r["value"] for r in raw] == levels and [r["seq"] for r in raw] == list(range(1, 13))
    for partner, database in [("lacville", "riverwatch"), ("lacville", partner_database("riverwatch", "rivertown")),
                              ("rivertown", partner_database("riverwatch", "lacville"))]:
        with reader(url, partner, database) as other:
            with pytest.raises(InfluxError, match="not authorized"):
                other.query_rows('SELECT * FROM "reading"')
    audit = admin.query_rows('SELECT "points", "agreement", "to" FROM "sharing_audit" WHERE "kind" = \'reading\'')
    assert {(r["to"], r["agreement"]) for r in audit} == {("lacville", "RT-LV-TEST"), ("rivertown", "own")}
