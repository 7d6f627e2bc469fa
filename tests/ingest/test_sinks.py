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


def test_the_backlog_counts_what_the_sink_holds_until_it_is_durable(influx, tmp_path):
    """Open batch, handed over, written: counted in messages (tokens) and lines until durable."""
    settings = InfluxSettings(url=influx.url, database=influx.database, batch_lines=100, flush_interval_s=60)
    sink = InfluxSink(settings, Spool(tmp_path, 1 << 20), max_messages=2)
    sink.add(["reading,station=s value=1 1", "reading,station=s value=2 2"], "m1")
    sink.add(["pipeline readings_in=2i 3"])  # a line without a message
    assert (sink.backlog_messages, sink.backlog_lines, sink.pending_batches) == (1, 3, 0)
    sink.add(["reading,station=s value=3 4"], "m2")  # two messages: the batch is handed over
    assert (sink.backlog_messages, sink.backlog_lines, sink.pending_batches) == (2, 4, 1)
    sink.add([], "m3")  # a message without lines (a status message)
    assert (sink.backlog_messages, sink.backlog_lines) == (3, 4)
    sink.start()
    try:
        assert sink.wait_durable(10)
    finally:
        sink.stop()
    assert (sink.backlog_messages, sink.backlog_lines, sink.pending_batches) == (0, 0, 0)
    assert sink.counters.batches_done == 2 and sink.counters.messages_done == 3
    assert influx.query_rows('SELECT count("value") FROM "reading"')[0]["count"] == 3


def test_spool_skips_a_corrupt_record_in_the_middle_and_goes_on(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    for body in (b"first", b"second", b"third"):
        spool.append(body)
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[8 + 5 + 8 + 2] ^= 0x40  # flip a bit inside "second"'s body; its length is intact
    segment.write_bytes(bytes(data))
    got = []
    reopened = Spool(tmp_path, max_bytes=1 << 20)
    assert reopened.replay(got.append) == 2
    assert got == [b"first", b"third"] and reopened.corrupt_records == 1 and reopened.bytes == 0


def test_a_torn_tail_after_a_crash_is_counted_and_new_appends_go_to_a_new_segment(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(b"durable")
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    with open(segment, "ab") as f:  # a crash mid-append: a header promising 100 bytes, 3 written
        f.write(b"\x00\x00\x00\x64\x00\x00\x00\x00abc")
    restarted = Spool(tmp_path, max_bytes=1 << 20)
    restarted.append(b"after restart")
    assert restarted.segments == 2
    got = []
    assert restarted.replay(got.append) == 2
    assert got == [b"durable", b"after restart"] and restarted.corrupt_records == 1


def test_oldest_spooled_batch_age(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    assert spool.oldest_age_s() == 0.0
    spool.append(b"x")
    assert 0.0 <= spool.oldest_age_s() < 60
    assert spool.oldest_age_s(now_s=time.time() + 100) >= 100


def test_full_spool_holds_acks_back_and_drops_nothing(influx, tmp_path):
    """InfluxDB unreachable and the spool full: the batch is held, its messages stay unacknowledged."""
    from application.services import free_port

    acked = []
    dead = InfluxSettings(url=f"http://127.0.0.1:{free_port()}", database=influx.database,
                          flush_interval_s=0.01, timeout_s=0.5)
    spool = Spool(tmp_path, max_bytes=600)
    sink = InfluxSink(dead, spool, acked.extend)
    sink.start()
    lines = [[f"reading,station=s value={i}.5 {1000 * i + j + 1}" for j in range(8)] for i in range(6)]
    try:
        for i, batch in enumerate(lines):
            sink.add(batch, f"m{i}")
            sink.flush()
        deadline = time.monotonic() + 10
        while sink.counters.spool_full == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        stuck = (sink.backlog_messages, sink.backlog_lines, len(acked))  # the writer holds its batch
    finally:
        sink.stop(timeout=1.0)
    assert sink.counters.spool_full > 0
    assert stuck[:2] == (6 - stuck[2], 8 * (6 - stuck[2]))  # what is not acked is still in memory, counted
    assert sink.backlog_messages == sink.backlog_lines == 0  # given up on stop: unacked, and released
    held = [f"m{i}" for i in range(6) if f"m{i}" not in acked]
    assert acked == [f"m{i}" for i in range(len(acked))] and held  # in order; the rest never acked
    spooled = sink.counters.lines_spooled
    assert spooled == 8 * len(acked)
    # InfluxDB is back: a new worker on the same spool replays every acknowledged line
    live = InfluxSettings(url=influx.url, database=influx.database, flush_interval_s=0.01)
    again = InfluxSink(live, Spool(tmp_path, max_bytes=600))
    again.start()
    try:
        deadline = time.monotonic() + 10
        while again.spool.bytes and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        again.stop()
    assert again.counters.lines_replayed == spooled
    assert influx.query_rows('SELECT count("value") FROM "reading"')[0]["count"] == spooled


def test_replay_bisection_keeps_a_string_field_with_a_newline_whole(influx, tmp_path):
    """A spooled batch refused on replay is bisected by *line*: a newline inside a quoted string
    (InfluxDB takes it, the live path writes it) must not split the line, or a crafted reject
    detail would turn into a line of its own — here a forged reading."""
    from riverwatch.storage import reject_line

    forged = ("reading,partner=rivertown,station=gauge-hochtal,quantity=water_level,kind=river_gauge "
              "value=999.0,qc=1i,seq=1i 1800000000000000000")
    reject = reject_line("topic_mismatch", "rivertown", f"payload says x\n{forged}\ny/s", "rw/v1/a/b/data", 7)
    good = "reading,station=s value=1.5 5"
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append("\n".join([good, reject, "reading,station=s value=oops 6"]).encode())
    settings = InfluxSettings(url=influx.url, database=influx.database, flush_interval_s=0.01)
    sink = InfluxSink(settings, spool)
    sink.start()
    try:
        deadline = time.monotonic() + 10
        while spool.bytes and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sink.stop()
    assert spool.bytes == 0
    assert influx.query_rows('SELECT * FROM "reading" WHERE "station" = \'gauge-hochtal\'') == []
    rejects = influx.query_rows('SELECT "detail" FROM "reject"')
    assert [row["detail"] for row in rejects] == [f"payload says x\n{forged}\ny/s"]
    assert sink.counters.lines_rejected == 1


_DISK_FAILS_SCRIPT = r"""
import resource, signal, sys
from ingest.sinks import Spool
from riverwatch.errors import SinkError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG, like a full disk
spool = Spool(sys.argv[1], max_bytes=1 << 20)
spool.append(b"a" * 50)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (100, hard))
try:
    spool.append(b"b" * int(sys.argv[2]))
    failure = "none"
except SinkError:
    failure = "SinkError"
except Exception as exc:
    failure = type(exc).__name__
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
try:
    spool.append(b"c" * 10)
    after = "ok"
except Exception as exc:
    after = type(exc).__name__
got = []
spool.replay(got.append)
print(failure, after, [len(body) for body in got], spool.bytes)
"""


@pytest.mark.parametrize("size", [100, 20_000])  # a record smaller and larger than the write buffer
def test_a_failing_disk_write_is_a_sink_error_and_the_spool_recovers(tmp_path, size):
    """The disk refuses an append (full, I/O error) half-way: the caller gets a SinkError (so the
    writer holds the batch and retries), later appends work, and the byte count stays true."""
    import subprocess
    import sys

    from riverwatch.settings import REPO_ROOT

    result = subprocess.run([sys.executable, "-c", _DISK_FAILS_SCRIPT, str(tmp_path / "spool"), str(size)],
                            capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(None, 2)[:2] == ["SinkError", "ok"]
    assert result.stdout.strip().endswith("[50, 10] 0")
