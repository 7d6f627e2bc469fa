"""The InfluxDB client against the session's real InfluxDB."""

from __future__ import annotations

import threading

import pytest

from riverwatch.errors import ConfigError, SinkError
from riverwatch.influx import InfluxClient, InfluxRejectedError, InfluxUnavailableError


def test_ping(influx):
    assert influx.ping()


def test_write_and_read_back(influx):
    influx.write(
        "level,station=S1 value=1.25,ok=true 1700000000000000000\n"
        'level,station=S2 value=3.5,note="a b" 1700000000000000000\n'
    )
    rows = influx.query_rows("SELECT * FROM level GROUP BY station")
    assert rows == [
        {"station": "S1", "time": 1700000000000000000, "note": None, "ok": True, "value": 1.25},
        {"station": "S2", "time": 1700000000000000000, "note": "a b", "ok": None, "value": 3.5},
    ]
    series = influx.query("SELECT value FROM level WHERE station = 'S1'", epoch="s")
    assert series == [{"name": "level", "columns": ["time", "value"], "values": [[1700000000, 1.25]]}]
    rfc = influx.query_rows("SELECT value FROM level WHERE station = 'S1'", epoch=None)
    assert rfc[0]["time"] == "2023-11-14T22:13:20Z"


def test_precision(influx):
    influx.write(b"level value=1 1700000000", precision="s")
    assert influx.query_rows("SELECT value FROM level")[0]["time"] == 1700000000 * 10**9


def test_bad_line_is_rejected_not_retryable(influx):
    with pytest.raises(SinkError) as info:
        influx.write("level,station=S1 value=1 1\nthis is not line protocol")
    err = info.value
    assert isinstance(err, InfluxRejectedError)
    assert err.retryable is False and err.status == 400
    assert "unable to parse" in str(err)
    # InfluxDB 1.x keeps the good lines of a partial write.
    assert influx.query_rows("SELECT count(value) FROM level")[0]["count"] == 1


def test_same_point_twice_is_stored_once(influx):
    line = "level,station=S1 value=2.0 1700000000000000000"
    influx.write(line)
    influx.write(line)
    rows = influx.query_rows("SELECT count(value) FROM level")
    assert rows[0]["count"] == 1


def test_missing_database_is_retryable(services):
    with InfluxClient(services.influx_url, "riverwatch_no_such_db") as client:
        with pytest.raises(InfluxUnavailableError) as info:
            client.write("level value=1")
        assert info.value.retryable and info.value.status == 404


def test_query_error(influx):
    with pytest.raises(InfluxRejectedError, match="error parsing query"):
        influx.query("SELEC nothing")
    assert influx.query("SELECT * FROM nothing_here") == []


def test_create_database_is_idempotent(influx):
    influx.create_database()
    influx.create_database()
    names = [row["name"] for row in influx.query_rows("SHOW DATABASES")]
    assert influx.database in names


def test_concurrent_writes(influx):
    def writer(k: int) -> None:
        for i in range(20):
            influx.write(f"level,station=T{k} value={i} {i + 1}")

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert influx.query_rows("SELECT count(value) FROM level")[0]["count"] == 80


def test_bad_url():
    with pytest.raises(ConfigError, match="influx url"):
        InfluxClient("127.0.0.1:8086", "db")
