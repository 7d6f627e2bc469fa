"""Per-partner databases and read-only users on a real InfluxDB with authentication on."""

from __future__ import annotations

import pytest

from application.local_influxdb import start_influxdb, stop_influxdb
from application.partner_access import create_admin, grant_partner_reads, partner_database, reader_account
from riverwatch.catalog import load_catalog
from riverwatch.influx import InfluxClient, InfluxError
from riverwatch.settings import REPO_ROOT

from tests.helpers import require_binaries

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
PASSWORDS = {"rivertown": "rt-pass", "lacville": "lv-'quote\\pass"}


@pytest.fixture
def secured_influx(tmp_path):
    require_binaries("influxd")
    _, port = start_influxdb(tmp_path, auth=True)
    url = f"http://127.0.0.1:{port}"
    try:
        create_admin(url, "admin", "admin-pass")
        with InfluxClient(url, "riverwatch", username="admin", password="admin-pass") as admin:
            admin.create_database()
            yield url, admin
    finally:
        stop_influxdb(tmp_path)


def test_a_partner_reads_its_own_database_and_nothing_else(secured_influx):
    url, admin = secured_influx
    assert grant_partner_reads(admin, CATALOG, PASSWORDS) == ["rivertown", "lacville"]
    admin.write("reading,partner=rivertown,station=gauge-hochtal value=2.5 1")
    with InfluxClient(url, partner_database("riverwatch", "lacville"), username="admin", password="admin-pass") as own:
        own.write("reading,partner=rivertown,station=gauge-hochtal mean=2.4 1")
    with InfluxClient(url, partner_database("riverwatch", "lacville"), username=reader_account("lacville"),
                      password=PASSWORDS["lacville"]) as reader:
        assert reader.query_rows('SELECT "mean" FROM "reading"')[0]["mean"] == 2.4
        with pytest.raises(InfluxError, match="not authorized"):
            reader.write("reading,partner=x value=1 2")  # read-only
    for other in ("riverwatch", partner_database("riverwatch", "rivertown")):
        with InfluxClient(url, other, username=reader_account("lacville"), password=PASSWORDS["lacville"]) as reader:
            with pytest.raises(InfluxError, match="not authorized"):
                reader.query_rows('SELECT * FROM "reading"')


def test_granting_again_sets_the_new_password(secured_influx):
    url, admin = secured_influx
    grant_partner_reads(admin, CATALOG, PASSWORDS)
    grant_partner_reads(admin, CATALOG, {**PASSWORDS, "rivertown": "rotated"})
    db = partner_database("riverwatch", "rivertown")
    with InfluxClient(url, db, username=reader_account("rivertown"), password="rotated") as reader:
        assert reader.query_rows('SELECT * FROM "reading"') == []
    with InfluxClient(url, db, username=reader_account("rivertown"), password="rt-pass") as stale:
        with pytest.raises(InfluxError):
            stale.query_rows('SELECT * FROM "reading"')
