"""InfluxDB misbehaving while it is up: a half-open connection mid-write, 5xx answers, answers 30 s late
or trickling in a byte at a time.

The real InfluxDB sits behind :class:`~tests.ingest.fault_proxy.FaultProxy`, which changes only
what comes back. A paced QoS 1 stream (persistent-session publisher, as in ``test_resilience``)
runs through the real Mosquitto into a real worker; mid-stream the proxy starts to misbehave, and
later behaves again. Each time the worker must give up on the write within ``influx.timeout_s``,
spool, keep acknowledging, replay once InfluxDB answers, and store every acknowledged reading
exactly once (writes that InfluxDB stored although its answer never came are written again by the
replay: they overwrite themselves). ``pytest -s`` shows the figures.
"""

from __future__ import annotations

import time
import uuid

import pytest

from riverwatch.settings import Settings

from tests.helpers import wait_until
from tests.ingest.fault_proxy import FaultProxy
from tests.ingest.resilience_kit import GAUGES, WAIT, WEATHER, CATALOG, StreamPublisher, interleaved, report, stored

from ingest.service import Service

TIMEOUT_S = 2.0
MESSAGES_PER_STATION = 240  # 1,200 messages at 8 ms: about 10 s of stream


def settings_via(services, influx, proxy: FaultProxy, tmp_path) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"ingest-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 300},
        influx={"url": proxy.url, "database": influx.database, "timeout_s": TIMEOUT_S},
        ingest={"detectors": [], "spool_dir": tmp_path / "spool", "summary_interval_s": 60.0})


@pytest.mark.parametrize("fault", ["half_open", "http_503", "late", "trickle"])
def test_influxdb_up_but_misbehaving_mid_stream_loses_and_doubles_nothing(services, influx, tmp_path, fault):
    proxy = FaultProxy(services.influx_url, late_s=30.0)
    svc = Service(settings_via(services, influx, proxy, tmp_path), CATALOG)
    svc.start()
    publisher = StreamPublisher(services.mqtt_host, services.mqtt_port)
    try:
        assert svc.wait_connected(10)
        messages = interleaved(GAUGES + WEATHER, MESSAGES_PER_STATION, int(time.time()) - 3 * 86400)
        publisher.stream(messages, pace_s=0.008)
        assert wait_until(lambda: publisher.index >= 250 and svc.sink.counters.lines_written > 0, 20)
        proxy.set_mode(fault)
        failed_at = time.monotonic()
        assert wait_until(lambda: svc.sink.influx_down and svc.spool.bytes > 0, 4 * TIMEOUT_S + 5)
        detected_s = time.monotonic() - failed_at
        acked_while_down = svc.stats.acked
        assert wait_until(lambda: svc.stats.acked > acked_while_down + 100, 20)  # acks go on: the spool is durable
        proxy.set_mode("pass")
        publisher.join()
        assert publisher.wait_acked()
        assert wait_until(lambda: svc.spool.bytes == 0 and not svc.sink.influx_down, WAIT), "spool did not drain"
        acknowledged = publisher.acknowledged()
        assert wait_until(lambda: stored(influx)[1] >= acknowledged, WAIT, 0.5)
        assert svc.wait_idle(WAIT)
        total, keys = stored(influx)
        report(f"influx {fault}", publisher, acknowledged, total, keys, svc.stats.rejected_by_reason,
               detected_s=round(detected_s, 1), write_errors=svc.sink.counters.write_errors,
               lines_spooled=svc.sink.counters.lines_spooled, lines_replayed=svc.sink.counters.lines_replayed,
               swallowed=proxy.answers_swallowed, answered_503=proxy.answers_503, delayed=proxy.answers_delayed)
        assert len(acknowledged) == sum(len(k) for k, _ in publisher.sent)
        assert keys == acknowledged and total == len(keys)
        assert svc.stats.rejected_by_reason == {}
        assert svc.sink.counters.write_errors >= 1 and svc.sink.counters.lines_spooled > 0
        assert svc.spool.corrupt_records == 0
    finally:
        publisher.close()
        svc.stop()
        proxy.close()


def test_a_write_whose_answer_trickles_in_gives_up_after_the_timeout(services, influx):
    """A socket timeout alone never fires while a byte comes every 0.5 s: the write must still end."""
    import threading

    from riverwatch.influx import InfluxClient, InfluxUnavailableError

    proxy = FaultProxy(services.influx_url, trickle_s=0.5)
    client = InfluxClient(proxy.url, influx.database, timeout=1.0)
    outcome: list[object] = []

    def write() -> None:
        try:
            client.write(b"reading,station=s value=1 1")
            outcome.append("written")
        except InfluxUnavailableError as exc:
            outcome.append(exc)

    try:
        proxy.set_mode("trickle")
        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        thread.join(30)  # without a bound on the whole answer the write takes minutes
        assert outcome and isinstance(outcome[0], InfluxUnavailableError), outcome
        assert "no whole answer within 1 s" in str(outcome[0])
        assert proxy.answers_delayed >= 1
    finally:
        client.close()
        proxy.close()
