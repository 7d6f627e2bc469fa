"""Break the services on purpose: an InfluxDB outage and a broker restart (SIGKILL of the worker:
test_resilience_sigkill.py).

Each test runs its own Mosquitto and InfluxDB (a module fixture in a tmp state dir, so restarting
them never disturbs the session services), publishes a paced QoS 1 stream with a persistent-session
publisher, breaks something mid-stream, and then proves, with exact equalities on what is in
InfluxDB, that every reading the broker acknowledged to the publisher is stored exactly once.
``pytest -s`` shows each test's figures.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from riverwatch.influx import InfluxClient
from application.services import restart_influxdb, restart_mosquitto, stop_influxdb
from riverwatch.settings import Settings

from tests.ingest.resilience_kit import (CATALOG, GAUGES, WAIT, WEATHER, StreamPublisher, interleaved, report, stored,
                                         wait_until)
from tests.ingest.resilience_kit import database, own  # noqa: F401 (fixtures)

from ingest.service import Service

OUTAGE_S = 20.0


def settings_for(own, db: InfluxClient, tmp_path: Path, **ingest) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": own.mqtt_host, "port": own.mqtt_port, "client_id": f"ingest-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 300},
        influx={"url": own.influx_url, "database": db.database, "timeout_s": 2.0},
        ingest={"detectors": [], "spool_dir": tmp_path / "spool", "summary_interval_s": 60.0, **ingest})


# --------------------------------------------------------------------------- InfluxDB outage


def test_influxdb_outage_of_20_s_loses_and_doubles_nothing(own, database, tmp_path):
    svc = Service(settings_for(own, database, tmp_path), CATALOG)
    svc.start()
    publisher = StreamPublisher(own.mqtt_host, own.mqtt_port)
    samples: list[tuple[float, int, int]] = []
    try:
        assert svc.wait_connected(10)
        stations = GAUGES + WEATHER
        messages = interleaved(stations, 600, int(time.time()) - 2 * 86400)  # 3000 messages, ~30 s
        publisher.stream(messages, pace_s=0.009)
        assert wait_until(lambda: publisher.index >= 400, 20)
        stop_influxdb(own.state_dir)
        try:
            down_at = time.monotonic()
            assert wait_until(lambda: svc.sink.influx_down and svc.spool.bytes > 0, 10)
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
            assert svc.spool.bytes > 0 and svc.stats.acked > 0  # acks went on: the spool is durable
        finally:
            restart_influxdb(own.state_dir)
        spooled_at_restart = svc.sink.counters.lines_spooled

        def sample() -> bool:
            samples.append((time.monotonic(), svc.sink.counters.lines_replayed, svc.spool.bytes))
            return samples[-1][2] == 0 and not svc.sink.influx_down

        assert wait_until(sample, WAIT, 0.01), "spool did not drain"
        publisher.join()
        assert publisher.wait_acked()
        assert wait_until(lambda: svc.stats.received >= len(messages)) and svc.wait_idle(WAIT)
        acknowledged = publisher.acknowledged()
        total, keys = stored(database)
        replaying = [s for s in samples if s[1] > samples[0][1]]
        first, last = (replaying[0], replaying[-1]) if replaying else (samples[0], samples[-1])
        rate = (last[1] - samples[0][1]) / max(1e-3, last[0] - first[0])
        report("influx outage", publisher, acknowledged, total, keys, svc.stats.rejected_by_reason,
               outage_s=OUTAGE_S, lines_spooled=svc.sink.counters.lines_spooled,
               lines_replayed=svc.sink.counters.lines_replayed, spooled_at_restart=spooled_at_restart,
               replay_readings_per_s=round(rate), corrupt=svc.spool.corrupt_records)
        assert len(acknowledged) == sum(len(k) for k, _ in publisher.sent)
        assert keys == acknowledged and total == len(keys)
        assert svc.stats.rejected_by_reason == {}
        assert svc.sink.counters.lines_replayed > 0 and svc.spool.corrupt_records == 0
    finally:
        publisher.close()
        svc.stop()


# --------------------------------------------------------------------------- broker restart


def test_broker_restart_mid_stream_resumes_by_itself(own, database, tmp_path):
    svc = Service(settings_for(own, database, tmp_path), CATALOG)
    svc.start()
    publisher = StreamPublisher(own.mqtt_host, own.mqtt_port)
    try:
        assert svc.wait_connected(10)
        messages = interleaved(GAUGES + WEATHER, 300, int(time.time()) - 86400)  # 1500 messages
        publisher.stream(messages, pace_s=0.006)
        assert wait_until(lambda: publisher.index >= 500, 20)
        restart_mosquitto(own.state_dir)
        assert wait_until(lambda: svc.consumer.reconnects >= 1 and svc.consumer.connected.is_set(), 30)
        publisher.join()
        assert publisher.wait_acked()
        acknowledged = publisher.acknowledged()
        caught_up = wait_until(lambda: stored(database)[1] >= acknowledged, WAIT, 0.5)
        if not caught_up:
            missing = acknowledged - stored(database)[1]
            print(f"\n[broker restart] MISSING {len(missing)} readings, e.g. {sorted(missing)[:6]}; "
                  f"stats={svc.stats.as_dict()} queue={svc.queue_depth} "
                  f"connected={svc.consumer.connected.is_set()} reconnects={svc.consumer.reconnects}")
        assert caught_up
        assert svc.wait_idle(WAIT)
        total, keys = stored(database)
        report("broker restart", publisher, acknowledged, total, keys, svc.stats.rejected_by_reason,
               reconnects=svc.consumer.reconnects, received=svc.stats.received, acked=svc.stats.acked,
               stale_acks_dropped=svc.consumer.acks_dropped)
        assert len(acknowledged) == sum(len(k) for k, _ in publisher.sent)
        assert keys == acknowledged and total == len(keys)
        assert set(svc.stats.rejected_by_reason) <= {"replayed"}  # redeliveries only
        assert svc.metrics.render().count(b"riverwatch_mqtt_connected{") == 1
    finally:
        publisher.close()
        svc.stop()
