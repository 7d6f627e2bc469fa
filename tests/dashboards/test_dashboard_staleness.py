"""A dead worker's last values are not shown as current: the Overview and Station "current"
panels only read ``station_state`` rows of the last few minutes (real InfluxDB)."""

from __future__ import annotations

import time
import uuid

import pytest

from riverwatch import storage
from riverwatch.influx import InfluxClient

from dashboards import overview, station
from dashboards.queries import interpolate

#: The dashboards' "current" queries, over Grafana's default 24 h range.
CURRENT = {"map": overview.STATION_ROWS, "per partner": overview.STATIONS_PER_PARTNER,
           "alerting": overview.ALERTING_PER_PARTNER,
           "freshness": overview.FRESHNESS, "station state": station.STATE}
VARIABLES = {"partner": "rivertown", "station": "gauge-hochtal"}


@pytest.fixture()
def client(services):
    with InfluxClient(services.influx_url, f"stale_{uuid.uuid4().hex[:10]}") as db:
        db.create_database()
        try:
            yield db
        finally:
            db.drop_database()


def write_state(db: InfluxClient, age_s: float) -> None:
    """One ``station_state`` row as the worker writes it, ``age_s`` seconds ago."""
    tags = {"partner": "rivertown", "station": "gauge-hochtal", "kind": "river_gauge"}
    fields = {"name": "Hochtal", "lat": 47.0, "lon": 8.0, "state": 4, "last_seen_age_s": 3.0, "open_warnings": 1}
    db.write(storage.line(storage.STATION_STATE, tags, fields, int((time.time() - age_s) * 1e9)))


def rows(db: InfluxClient, query: str) -> list[dict]:
    return db.query_rows(interpolate(query, VARIABLES, time_filter="time > now() - 24h"))


def test_values_of_a_dead_worker_show_as_no_data(client):
    write_state(client, age_s=20 * 60)  # the worker died 20 minutes ago
    assert {name: rows(client, q) for name, q in CURRENT.items()} == {name: [] for name in CURRENT}


def test_values_of_a_live_worker_are_shown(client):
    write_state(client, age_s=5)
    assert all(rows(client, q) for q in CURRENT.values())


def test_alerting_count_is_zero_not_missing_when_all_stations_are_normal(client):
    tags = {"partner": "rivertown", "station": "gauge-hochtal", "kind": "river_gauge"}
    client.write(storage.line(storage.STATION_STATE, tags, {"state": 1, "open_warnings": 0},
                              time.time_ns() - 2_000_000_000))
    assert [row["stations"] for row in rows(client, overview.ALERTING_PER_PARTNER)] == [0]
    write_state(client, age_s=1)  # state 4
    assert [row["stations"] for row in rows(client, overview.ALERTING_PER_PARTNER)] == [1]
