"""The local InfluxDB, started, stopped and restarted for real in its own state dir."""

from __future__ import annotations

import pytest

from riverwatch.influx import InfluxClient, InfluxUnavailableError
from application.local_influxdb import restart_influxdb, start_influxdb, stop_influxdb

from tests.helpers import require_binaries


@pytest.fixture(autouse=True)
def _binaries():
    require_binaries("influxd")


def test_stopped_influxdb_is_retryable_and_restart_keeps_data(tmp_path):
    _, port = start_influxdb(tmp_path)
    client = InfluxClient(f"http://127.0.0.1:{port}", "rw")
    try:
        client.create_database()
        client.write("level,station=S1 value=1.5 1000000000")
        assert stop_influxdb(tmp_path)
        assert not client.ping()
        with pytest.raises(InfluxUnavailableError) as info:
            client.write("level,station=S1 value=2.5 2000000000")
        assert info.value.retryable and info.value.status is None

        assert restart_influxdb(tmp_path)[1] == port
        client.write("level,station=S1 value=2.5 2000000000")  # same client reconnects
        rows = client.query_rows("SELECT value FROM level")
        assert [r["value"] for r in rows] == [1.5, 2.5]
    finally:
        client.close()
        stop_influxdb(tmp_path)
