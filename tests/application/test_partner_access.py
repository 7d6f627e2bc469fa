"""Per-partner databases and read-only users on a real InfluxDB with authentication on."""

from __future__ import annotations

import pytest

from application.local_influxdb import start_influxdb, stop_influxdb
from application.cli import main
from application.partner_access import (create_admin, grant_partner_reads, partner_database, password_variable,
                                        reader_account)
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


def test_grant_readers_creates_users_keeps_their_passwords_and_rotates_on_request(secured_influx, tmp_path,
                                                                                  monkeypatch, capsys):
    url, _ = secured_influx
    for key, value in {"RIVERWATCH_INFLUX__URL": url, "RIVERWATCH_INFLUX__USERNAME": "admin",
                       "RIVERWATCH_INFLUX__PASSWORD": "admin-pass", "RIVERWATCH_STATE_DIR": str(tmp_path / "state")}.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "state" / "secrets" / "influx-readers.env"

    def passwords() -> dict[str, str]:
        pairs = dict(line.split("=", 1) for line in out.read_text().splitlines())
        return {p: pairs[password_variable(p)] for p in ("rivertown", "lacville")}

    def can_read(partner: str, password: str) -> bool:
        with InfluxClient(url, partner_database("riverwatch", partner), username=reader_account(partner),
                          password=password) as reader:
            try:
                reader.query_rows('SELECT * FROM "reading"')
            except InfluxError:
                return False
            return True

    assert main(["config", "grant-readers"]) == 0
    first = passwords()
    assert out.stat().st_mode & 0o077 == 0 and all(can_read(p, pw) for p, pw in first.items())
    assert main(["config", "grant-readers"]) == 0 and passwords() == first  # idempotent
    assert main(["config", "grant-readers", "--rotate"]) == 0
    rotated = passwords()
    assert all(rotated[p] != first[p] and can_read(p, rotated[p]) and not can_read(p, first[p]) for p in first)
    assert "INFLUX_READER_<PARTNER>_PASSWORD" in capsys.readouterr().out
