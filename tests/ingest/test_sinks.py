"""Spool (CRC, order, bound) and the InfluxDB sink's handling of rejected lines."""

from __future__ import annotations

import time

import pytest

from riverwatch.errors import SinkError
from riverwatch.settings import InfluxSettings

from ingest.sinks import InfluxSink, Spool


def test_spool_replays_in_order_across_segments_and_restarts(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=64)
    bodies = [f"reading value={i} {i}".encode() for i in range(20)]
    for body in bodies:
        spool.append(body)
    assert spool.segments > 1
    spool.close()
    reopened = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=64)
    assert reopened.bytes == spool.bytes
    got = []
    assert reopened.replay(got.append) == 20
    assert got == bodies and reopened.bytes == 0 and reopened.segments == 0


def test_spool_stops_at_a_failing_callback_and_resumes(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    for i in range(5):
        spool.append(str(i).encode())
    seen = []

    def flaky(body):
        if body == b"3" and b"3" not in seen:
            seen.append(body)
            raise SinkError("down")
        seen.append(body)

    with pytest.raises(SinkError):
        spool.replay(flaky)
    assert spool.replay(seen.append) == 2
    assert seen == [b"0", b"1", b"2", b"3", b"3", b"4"]


def test_spool_skips_a_torn_record(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(b"good")
    spool.append(b"torn away")
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    segment.write_bytes(segment.read_bytes()[:-3])
    got = []
    Spool(tmp_path, max_bytes=1 << 20).replay(got.append)
    assert got == [b"good"]


def test_spool_is_bounded(tmp_path):
    spool = Spool(tmp_path, max_bytes=100)
    spool.append(b"x" * 50)
    with pytest.raises(SinkError, match="full"):
        spool.append(b"y" * 50)
    assert spool.bytes == 58


def test_rejected_lines_are_bisected_counted_and_dropped(influx, tmp_path):
    acked = []
    settings = InfluxSettings(url=influx.url, database=influx.database, batch_lines=100, flush_interval_s=0.05)
    sink = InfluxSink(settings, Spool(tmp_path, 1 << 20), acked.extend)
    sink.start()
    try:
        lines = [f"reading,station=s value={i}.5 {i + 1}" for i in range(10)]
        lines[3] = "reading,station=s value=oops 4"
        lines[7] = "reading,station=s value=1i 8"  # field type conflict with the float series
        sink.add(lines, "token")
        assert sink.wait_durable(10)
        deadline = time.monotonic() + 10
        while not acked and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        sink.stop()
    assert acked == ["token"]
    assert sink.counters.lines_rejected == 2
    rows = influx.query_rows('SELECT count("value") FROM "reading"')
    assert rows[0]["count"] == 8
