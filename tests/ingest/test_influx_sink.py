"""The InfluxDB sink against the real InfluxDB: rejected lines, the backlog it holds, a full spool, replay."""

from __future__ import annotations

import time

from riverwatch.settings import InfluxSettings

from ingest.influx_sink import InfluxSink
from ingest.spool import Spool


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
