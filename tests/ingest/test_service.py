"""End to end through real Mosquitto and InfluxDB: nothing lost, nothing doubled, rejects and warnings out."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import Counter

import orjson
import pytest

from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic, encode_json, warning_topic
from application.services import restart_influxdb, stop_influxdb
from riverwatch.settings import REPO_ROOT, Settings

from tests.helpers import Publisher, worker_starter
from tests.helpers import wait_until as _wait_until

from ingest.checkpoint import read_checkpoint
from ingest.service import Service

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
GAUGE = ("rivertown", "gauge-hochtal")
WAIT = 30.0
#: Seconds each InfluxDB write takes once a stop has begun (longer than one commit wait).
SLOW_WRITE_S = 1.3


def wait_until(predicate, timeout: float = WAIT, interval: float = 0.02) -> bool:
    return _wait_until(predicate, timeout, interval)


def make_settings(services, influx, tmp_path, detectors=()) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"ingest-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 30},
        influx={"url": services.influx_url, "database": influx.database, "flush_interval_s": 0.05,
                "timeout_s": 2.0},
        ingest={"detectors": list(detectors), "spool_dir": tmp_path / "spool", "summary_interval_s": 0.5})


@contextlib.contextmanager
def running(service: Service):
    """``service`` started and connected for the ``with`` block, stopped after it."""
    service.start()
    try:
        assert service.wait_connected(10)
        yield service
    finally:
        service.stop()


@pytest.fixture
def publisher(services):
    pub = Publisher(services, subscribe="rw/v1/+/+/rejected")
    yield pub
    pub.close()


@pytest.fixture
def service_factory(services, influx, tmp_path):
    with worker_starter(CATALOG) as start:
        yield lambda **kwargs: start(make_settings(services, influx, tmp_path, **kwargs))


def gauge_payload(seq: int, t: float, level_ft: float = 5.0) -> bytes:
    return encode_json(t, seq, {"water_level": (level_ft, "ft"), "discharge": (100.0 + seq, "cfs"),
                                "water_temperature": (11.0 + seq * 0.01, "degC")})


def count(influx, q: str) -> int:
    rows = influx.query_rows(q)
    return int(rows[0]["count"]) if rows else 0


def test_end_to_end_exactly_once_in_canonical_units_with_a_reject(service_factory, publisher, influx):
    svc = service_factory()
    n, t0 = 40, time.time() - 3600
    topic = data_topic(*GAUGE)
    for i in range(n):
        publisher.publish(topic, gauge_payload(i, t0 + 60 * i, level_ft=5.0 + 0.01 * i))
        if i == n // 2:
            publisher.publish(topic, b'{"ts": "2026-01-01T00:00:00Z", "seq": ')
    assert wait_until(lambda: svc.stats.received == n + 1)
    assert svc.wait_idle(WAIT)
    assert svc.stats.accepted == n and svc.stats.rejected_by_reason == {"bad_json": 1}
    assert svc.stats.readings_stored == 3 * n and svc.stats.acked == n + 1
    assert count(influx, 'SELECT count("value") FROM "reading"') == 3 * n
    level = influx.query_rows('SELECT "value", "qc" FROM "reading" WHERE "quantity" = \'water_level\'')
    assert [r["value"] for r in level] == pytest.approx([(5.0 + 0.01 * i) * 0.3048 for i in range(n)])
    assert {r["qc"] for r in level} == {1}
    assert wait_until(lambda: publisher.received)
    reject = orjson.loads(publisher.received[0].payload)
    assert publisher.received[0].topic == "rw/v1/rivertown/gauge-hochtal/rejected"
    assert reject["reason"] == "bad_json"
    assert count(influx, 'SELECT count("count") FROM "reject" WHERE "reason" = \'bad_json\'') == 1
    assert wait_until(lambda: count(influx, 'SELECT count("readings_in") FROM "pipeline"') > 0)
    states = influx.query_rows('SELECT last("state") FROM "station_state" GROUP BY "station"')
    assert len(states) == len(CATALOG.stations)


def test_redelivery_is_stored_once(service_factory, publisher, influx, services, tmp_path):
    svc = service_factory()
    payload, topic = gauge_payload(7, time.time() - 600), data_topic(*GAUGE)
    publisher.publish(topic, payload)
    publisher.publish(topic, payload)
    assert wait_until(lambda: svc.stats.received == 2) and svc.wait_idle(WAIT)
    assert svc.stats.rejected_by_reason == {"replayed": 1}
    # a worker without that memory (fresh state) stores the same points again: they overwrite
    with running(Service(make_settings(services, influx, tmp_path / "other"), CATALOG)) as other:
        publisher.publish(topic, payload)
        assert wait_until(lambda: other.stats.accepted == 1) and other.wait_idle(WAIT)
    assert count(influx, 'SELECT count("value") FROM "reading"') == 3


def test_influxdb_outage_is_spooled_and_replayed(service_factory, publisher, influx, services):
    svc = service_factory()
    n, t0, topic = 60, time.time() - 3600, data_topic(*GAUGE)
    for i in range(n // 3):
        publisher.publish(topic, gauge_payload(i, t0 + 60 * i))
    assert wait_until(lambda: svc.stats.received == n // 3) and svc.wait_idle(WAIT)
    stop_influxdb(services.state_dir)
    try:
        for i in range(n // 3, n):
            publisher.publish(topic, gauge_payload(i, t0 + 60 * i))
        assert wait_until(lambda: svc.stats.received == n)
        assert wait_until(lambda: svc.stats.acked == n)  # durable in the spool, acknowledged
        assert svc.sink.counters.lines_spooled > 0 and svc.spool.bytes > 0
    finally:
        restart_influxdb(services.state_dir)
    assert svc.wait_idle(WAIT)
    assert svc.spool.bytes == 0 and svc.sink.counters.lines_replayed > 0
    assert svc.stats.readings_stored == 3 * n
    assert count(influx, 'SELECT count("value") FROM "reading"') == 3 * n
    per_series = influx.query_rows('SELECT count("value") FROM "reading" GROUP BY "quantity"')
    assert [r["count"] for r in per_series] == [n, n, n]


def test_a_warning_is_written_and_published_retained(service_factory, influx, services):
    svc_warnings = []
    svc = service_factory(detectors=["level_threshold"])
    svc.on_warning = svc_warnings.append
    pub = Publisher(services)
    topic, t0 = data_topic(*GAUGE), time.time() - 3600
    levels = [1.0, 1.2, 1.5, 2.0, 2.6, 3.1, 3.2, 3.3, 3.3, 3.4]  # warning threshold 3.0 m
    hazard_topic = warning_topic(*GAUGE, "flood")
    try:
        for i, level in enumerate(levels):
            pub.publish(topic, encode_json(t0 + 600 * i, i, {"water_level": (level, "m")}))
        assert wait_until(lambda: svc.stats.received == len(levels)) and svc.wait_idle(WAIT)
        assert any(e.station == GAUGE[1] and e.level >= 3 for e in svc_warnings)
        rows = influx.query_rows('SELECT * FROM "warning" WHERE "station" = \'gauge-hochtal\'')
        assert max(r["level"] for r in rows) == 3 and rows[0]["state"] == "raised"
        late = Publisher(services, subscribe=hazard_topic)  # a late subscriber gets the retained state
        try:
            assert wait_until(lambda: late.received)
            message = late.received[-1]
            assert message.retain and orjson.loads(message.payload)["level"] == "warning"
        finally:
            late.close()
    finally:
        for event_topic in {warning_topic(e.partner, e.station, e.hazard) for e in svc_warnings}:
            pub.client.publish(event_topic, b"", qos=1, retain=True).wait_for_publish(10)
        pub.close()


def test_checkpoint_restores_replay_memory_after_a_restart(services, influx, tmp_path, publisher):
    settings = make_settings(services, influx, tmp_path)
    payload, topic = gauge_payload(3, time.time() - 600), data_topic(*GAUGE)
    with running(Service(settings, CATALOG)) as first:
        publisher.publish(topic, payload)
        assert wait_until(lambda: first.stats.accepted == 1) and first.wait_idle(WAIT)
    assert first.checkpoint_path.is_file()
    with running(Service(settings, CATALOG)) as second:
        publisher.publish(topic, payload)
        assert wait_until(lambda: second.stats.received == 1) and second.wait_idle(WAIT)
        assert second.stats.rejected_by_reason == {"replayed": 1}


def test_messages_published_while_stopped_wait_in_the_session(services, influx, tmp_path, publisher):
    settings = make_settings(services, influx, tmp_path)
    first = Service(settings, CATALOG)
    first.start()
    assert first.wait_connected(10)
    first.stop()
    t0, topic = time.time() - 3600, data_topic(*GAUGE)
    for i in range(10):
        publisher.publish(topic, gauge_payload(i, t0 + 60 * i))
    second = Service(settings, CATALOG)
    second.start()
    try:
        assert wait_until(lambda: second.stats.received == 10) and second.wait_idle(WAIT)
    finally:
        second.stop()
    assert count(influx, 'SELECT count("value") FROM "reading"') == 30


def test_watchdog_resubscribes_when_connected_but_silent(services, influx, tmp_path, publisher):
    settings = make_settings(services, influx, tmp_path)
    settings.ingest.watchdog_s = 0.3
    with running(Service(settings, CATALOG)) as svc:
        assert wait_until(lambda: svc.watchdog_trips >= 2, 10)
        assert wait_until(svc.consumer.connected.is_set, 10)
        publisher.publish(data_topic(*GAUGE), gauge_payload(1, time.time() - 60))
        assert wait_until(lambda: svc.stats.accepted == 1) and svc.wait_idle(WAIT)
        assert b"riverwatch_watchdog_trips_total" in svc.metrics.render()


def test_a_message_with_warning_events_is_checkpointed_before_it_is_acked(service_factory, influx, services):
    svc = service_factory(detectors=["level_threshold"])
    acked_with_book: list[bool] = []
    durable = svc.commits.durable

    def spy(tokens):  # at the ack of the message that raised the warning, the checkpoint knows it
        if any(t[2] and svc.pipeline.open_warnings() for t in tokens):
            book = read_checkpoint(svc.checkpoint_path)[1]["book"]
            acked_with_book.append(book is not None and "gauge-hochtal" in repr(book))
        durable(tokens)

    svc.commits.durable = spy
    svc.sink.on_durable = spy
    pub = Publisher(services)
    topic, t0 = data_topic(*GAUGE), time.time() - 7200
    try:
        for i, level in enumerate([1.0, 3.1, 3.2, 3.3, 3.4]):
            pub.publish(topic, encode_json(t0 + 600 * i, i, {"water_level": (level, "m")}))
        assert wait_until(lambda: svc.stats.received == 5) and svc.wait_idle(WAIT)
    finally:
        for hazard_topic in {warning_topic(w.partner, w.station, w.hazard) for w in svc.pipeline.open_warnings()}:
            pub.client.publish(hazard_topic, b"", qos=1, retain=True).wait_for_publish(10)
        pub.close()
    assert acked_with_book and all(acked_with_book)


def test_a_failing_periodic_step_does_not_stop_ingestion(service_factory, publisher, influx):
    svc = service_factory()

    def broken_tick(*args, **kwargs):
        raise RuntimeError("a bug in the lifecycle tick")

    svc.pipeline.tick = broken_tick  # pure code of ours, not the broker or the database
    t0 = time.time() - 600
    for seq in range(1, 6):
        publisher.publish(data_topic(*GAUGE), gauge_payload(seq, t0 + seq))
        time.sleep(0.3)  # let ticks (and their failures) happen between messages
    assert wait_until(lambda: svc.stats.received == 5) and svc.wait_idle(WAIT)
    assert svc.stats.errors >= 1
    assert count(influx, 'SELECT COUNT("value") FROM "reading"') == 15


def test_a_clean_stop_mid_burst_acks_everything_it_stored(services, influx, tmp_path, publisher):
    """Stop mid-burst, restart on the same session: the first worker's last acks reach the broker
    before it disconnects (its close waits for the broker's, so a broker still sending to it does
    not break the connection before reading them), so nothing stored comes back as ``replayed``
    and nothing is lost or delivered twice."""
    settings = make_settings(services, influx, tmp_path)
    n, topic = 10000, data_topic(*GAUGE)
    t0 = time.time() - 60 * (n + 10)
    with running(Service(settings, CATALOG)) as first:
        infos = [publisher.client.publish(topic, gauge_payload(i, t0 + 60 * i), qos=1) for i in range(n)]
        assert wait_until(lambda: first.stats.received >= n // 10)
    for info in infos:
        info.wait_for_publish(10)
    with running(Service(settings, CATALOG)) as second:
        publisher.publish(topic, gauge_payload(n, t0 + 60 * n))  # after every redelivery on the session
        assert wait_until(lambda: first.stats.accepted + second.stats.accepted == n + 1), (
            first.stats.as_dict(), second.stats.as_dict())
        assert second.wait_idle(WAIT)
    graceful = getattr(first.consumer.client, "graceful_closes", None)
    print(f"\n[clean stop] first: received {first.stats.received} acked {first.stats.acked} unsent "
          f"{first.consumer.acks_unsent} graceful closes {graceful}; second: received {second.stats.received} "
          f"rejects {second.stats.rejected_by_reason}")
    assert first.stats.acked == first.stats.received and first.consumer.acks_unsent == 0
    assert graceful in (None, 1)  # None: the plain paho client (another paho release)
    assert second.stats.rejected_by_reason == {}
    assert first.stats.received + second.stats.received == n + 1  # nothing was delivered twice
    assert count(influx, 'SELECT count("value") FROM "reading"') == 3 * (n + 1)


def test_a_warning_raised_while_stopping_is_checkpointed_and_acked(services, influx, tmp_path):
    """A warning raised by the last messages drained on stop while InfluxDB answers slowly: the stop
    waits for durability, checkpoints, acknowledges, then disconnects; a restart on the same session
    gets nothing back (no ``replayed``) and the warning is raised once."""
    settings = make_settings(services, influx, tmp_path, detectors=["level_threshold"])
    first = Service(settings, CATALOG)
    go = threading.Event()
    process, write = first.pipeline.process, first.sink.client.write

    def gated(obs, lines):  # the processing thread waits until the stop has begun
        go.wait(WAIT)
        return process(obs, lines)

    def slow_write(body, *args, **kwargs):  # the real InfluxDB, answering slowly during the stop
        if first._stopping.is_set():
            time.sleep(SLOW_WRITE_S)
        return write(body, *args, **kwargs)

    first.pipeline.process, first.sink.client.write = gated, slow_write
    pub = Publisher(services)
    topic, t0 = data_topic(*GAUGE), time.time() - 7200
    levels = [1.0, 3.1, 3.2, 3.3, 3.4]  # warning threshold 3.0 m
    stopper = threading.Thread(target=first.stop, name="stop", daemon=True)
    second = None
    first.start()
    try:
        assert first.wait_connected(10)
        for i, level in enumerate(levels):
            pub.publish(topic, encode_json(t0 + 600 * i, i, {"water_level": (level, "m")}))
        assert wait_until(lambda: first.queue_depth >= len(levels) - 1)
        stopper.start()
        assert wait_until(first._stopping.is_set)
        go.set()
        stopper.join(WAIT)
        assert not stopper.is_alive()
        second = Service(settings, CATALOG)
        second.start()
        assert second.wait_connected(10)
        pub.publish(topic, encode_json(t0 + 600 * len(levels), len(levels), {"water_level": (3.5, "m")}))
        assert wait_until(lambda: second.stats.accepted == 1) and second.wait_idle(WAIT)
    finally:
        go.set()
        if stopper.ident is None:
            first.stop()
        if second is not None:
            second.stop()
        pub.close()
    rows = influx.query_rows('SELECT "id", "state" FROM "warning"')
    raised = Counter(r["id"] for r in rows if r["state"] == "raised")
    print(f"\n[stop with a warning] first: received {first.stats.received} acked {first.stats.acked} "
          f"unsent {first.consumer.acks_unsent}; second: received {second.stats.received} "
          f"rejects {second.stats.rejected_by_reason}; raised {dict(raised)}")
    assert first.stats.received == len(levels) and first.stats.acked == len(levels)
    assert first.consumer.acks_unsent == 0
    assert second.stats.received == 1 and second.stats.rejected_by_reason == {}  # nothing came back
    assert raised and set(raised.values()) == {1} and any(GAUGE[1] in key for key in raised)
    assert count(influx, 'SELECT count("value") FROM "reading"') == len(levels) + 1


def test_readings_influxdb_refuses_are_never_counted_as_stored(service_factory, publisher, influx):
    """Issue #12: a line InfluxDB refuses (here a field type conflict) is counted as refused, not stored,
    and leaves a ``storage_refused`` reject record; the other lines of its batch are stored."""
    n, t0 = 5, time.time() - 3600
    influx.write(f"reading,partner=x,station=y qc=0.5 {int((t0 - 60) * 1e9)}")  # qc is a float in this shard
    svc = service_factory()
    for i in range(n):
        publisher.publish(data_topic(*GAUGE), gauge_payload(i, t0 + 60 * i))
    assert wait_until(lambda: svc.stats.received == n)
    assert svc.wait_idle(WAIT)
    assert svc.stats.acked == n and svc.stats.readings_in == 3 * n
    assert svc.stats.readings_stored == 0
    assert svc.stats_snapshot().readings_refused == 3 * n
    assert count(influx, 'SELECT count("value") FROM "reading"') == 0
    assert count(influx, 'SELECT count("count") FROM "reject" WHERE "reason" = \'storage_refused\'') == 3 * n


def test_a_day_long_backlog_flushed_between_live_readings_is_stored_late(service_factory, publisher, influx):
    """Issue #12 item 3: a device back from a 1-day outage flushes 1,440 queued messages (one a
    minute) while its live readings go on; the ones beyond the replay window are stored, marked
    late (kept from the detectors), and a second copy of one is still a replay."""
    svc = service_factory(detectors=["level_threshold"])
    topic, backlog, live = data_topic(*GAUGE), 1440, 100
    t0 = time.time() - 2 * 86400
    seqs = list(range(backlog, backlog + live))  # live readings first (the device reconnected)
    for i in range(backlog):  # then the queued day, oldest first, a live reading every 15 of them
        seqs.append(i)
        if i % 15 == 0:
            seqs.append(backlog + live + i // 15)
    seqs.append(3)  # a second copy of a late one
    for seq in seqs:
        publisher.publish(topic, gauge_payload(seq, t0 + 60 * seq))
    accepted = len(seqs) - 1
    assert wait_until(lambda: svc.stats.received == len(seqs), 60)
    assert svc.wait_idle(WAIT)
    assert svc.stats.rejected_by_reason == {"replayed": 1}
    assert svc.stats.accepted == accepted and svc.stats.readings_stored == 3 * accepted
    assert count(influx, 'SELECT count("value") FROM "reading"') == 3 * accepted
