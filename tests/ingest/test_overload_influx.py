"""A slow or unreachable InfluxDB under a QoS 0 flood: the writer's backlog stays bounded, QoS 1 is never dropped.

The real InfluxDB sits behind :class:`~tests.ingest.overload_kit.DelayProxy`, a loopback TCP proxy
the test holds (InfluxDB up but not answering yet), throttles, or makes refuse connections (InfluxDB
unreachable, here with the spool full so the writer is stalled). The broker is a real Mosquitto.
``pytest -s`` shows each test's figures. Both tests run with the fast client and with plain paho
(the ``fast_path`` fixture, tests/ingest/conftest.py).
"""

from __future__ import annotations

import threading
import time


from application.services import free_port

from tests.helpers import Publisher, wait_until

from ingest.service import Service
from tests.ingest.overload_kit import (CATALOG, DelayProxy, MAX_QUEUE, Peaks, QOS0_BURST, QOS0_STATION, QOS1_READINGS, QOS1_STATION,
    RECEIVE_MAXIMUM, SPOOL_BYTES, THROTTLED_CHUNKS, THROTTLE_S, WAIT, backlog_bound, check_client,
    documented_pipeline_fields, fill_spool, flood, make_settings, overloaded_count, pipeline_totals,
    publish_qos1, scrape, stored)


def test_a_slow_influxdb_keeps_the_writer_backlog_within_the_bound(services, influx, tmp_path, fast_path):
    """InfluxDB up but slow: first it answers nothing until released, then every request crawls.
    The writer's batches count into the backlog, so QoS 0 is dropped at the bound instead of piling
    up behind the writer; every QoS 1 reading is stored, and stored + dropped is every QoS 0 sent."""
    proxy = DelayProxy(services.influx_url)
    port = free_port()
    svc = Service(make_settings(services, influx, tmp_path, influx_url=proxy.url, timeout_s=WAIT, metrics_port=port,
                                fast_path=fast_path), CATALOG)
    flooder, steady = Publisher(services), Publisher(services)
    room = MAX_QUEUE - RECEIVE_MAXIMUM
    svc.start()
    peaks = Peaks(svc)
    try:
        assert svc.wait_connected(10) and svc.wait_idle(WAIT)
        t0 = time.time() - 2 * 3600
        proxy.hold()
        qos1_done = threading.Event()
        threading.Thread(target=publish_qos1, args=(steady, t0, qos1_done), daemon=True).start()
        flood(flooder, t0, 0)
        # the writer waits for InfluxDB with its first batch: the backlog fills, QoS 0 is dropped
        assert wait_until(lambda: svc.overload_dropped >= QOS0_BURST - room, WAIT), svc.overload_dropped
        held = {"backlog": svc.backlog, "writer": svc.sink.backlog_messages, "queue": svc.queue_depth,
                "held_chunks": proxy.held_chunks}
        assert held["held_chunks"] > 0 and 0 < held["writer"] <= held["backlog"] <= MAX_QUEUE, held
        proxy.throttle(THROTTLE_S)  # now every write crawls: the writer drains the backlog slowly
        for chunk in range(THROTTLED_CHUNKS):
            assert wait_until(lambda: svc.backlog < room, WAIT), svc.backlog  # the writer made room again
            size = QOS0_BURST // THROTTLED_CHUNKS
            flood(flooder, t0, QOS0_BURST + chunk * size, size)
        assert qos1_done.wait(WAIT)
        total = 2 * QOS0_BURST + QOS1_READINGS
        assert wait_until(lambda: svc.stats.accepted + svc.overload_dropped == total, WAIT), \
            (svc.stats.accepted, svc.overload_dropped)
        proxy.release()
        assert svc.wait_idle(WAIT)
        metrics = scrape(port)
    finally:
        peaks.stop()
        svc.stop()
        proxy.close()
        for client in (flooder, steady):
            client.close()
    dropped = svc.overload_dropped
    stored_qos0, stored_qos1 = stored(influx, QOS0_STATION[1]), stored(influx, QOS1_STATION[1])
    totals = pipeline_totals(influx)
    print(f"\n[slow influxdb] QoS 0 sent {2 * QOS0_BURST}, stored {stored_qos0}, dropped {dropped}; QoS 1 sent "
          f"{QOS1_READINGS}, stored {stored_qos1}; bound {MAX_QUEUE}: while held {held}, max backlog "
          f"{svc.backlog_max} (sampled {peaks.backlog}, writer {peaks.writer} messages / {peaks.lines} lines); "
          f"reads held {svc.consumer.holds}; pipeline points {totals}")
    assert stored_qos1 == QOS1_READINGS
    assert stored_qos0 + dropped == 2 * QOS0_BURST and stored_qos0 >= THROTTLED_CHUNKS
    bound = backlog_bound(fast_path)
    assert room <= svc.backlog_max <= bound
    assert peaks.backlog <= bound and peaks.writer <= bound
    assert svc.stats.rejected_by_reason == {"overloaded": dropped}
    assert overloaded_count(influx) == dropped
    assert totals["dropped"] == dropped and 0 < totals["backlog_max"] <= bound
    assert metrics["riverwatch_overload_dropped_total"] == dropped
    assert metrics["riverwatch_backlog_messages_max"] == svc.backlog_max
    assert metrics["riverwatch_backlog_limit_messages"] == MAX_QUEUE
    assert metrics["riverwatch_backlog_messages"] == metrics["riverwatch_writer_backlog_messages"] == 0
    assert metrics["riverwatch_mqtt_holds_total"] == svc.consumer.holds
    written = set(influx.query_rows('SELECT * FROM "pipeline" LIMIT 1')[0]) - {"time", "worker"}
    assert written == documented_pipeline_fields()
    check_client(svc, fast_path)


def test_a_stalled_writer_keeps_the_backlog_bounded_and_stop_waits_for_durability(services, influx, tmp_path,
                                                                                    fast_path):
    """InfluxDB unreachable and the spool full: the writer holds its batch, nothing is acknowledged,
    the backlog stops at the bound, and the periodic points stop piling up behind it. A stop (the
    SIGTERM path) begun in the middle of it returns once InfluxDB answers again; a second worker on
    the same session stores the QoS 1 readings the first one never took."""
    proxy = DelayProxy(services.influx_url)
    proxy.refuse()
    fillers = fill_spool(tmp_path / "spool")
    settings = make_settings(services, influx, tmp_path, influx_url=proxy.url, spool_max_bytes=SPOOL_BYTES,
                             fast_path=fast_path)
    svc, second = Service(settings, CATALOG), None
    flooder, steady = Publisher(services), Publisher(services)
    room = MAX_QUEUE - RECEIVE_MAXIMUM
    summary_lines = 1 + len(CATALOG.stations)
    line_bound = MAX_QUEUE + 2 * summary_lines + 1  # a line a message, two summaries, one overload reject
    svc.start()
    peaks = Peaks(svc)
    stopper = threading.Thread(target=svc.stop, name="stop", daemon=True)
    try:
        assert svc.wait_connected(10)
        t0 = time.time() - 2 * 3600
        flood(flooder, t0, 0)
        assert wait_until(lambda: svc.stats.received == QOS0_BURST, WAIT), svc.stats.received
        accepted_qos0, dropped = svc.stats.accepted, svc.overload_dropped
        qos1_done = threading.Event()
        threading.Thread(target=publish_qos1, args=(steady, t0, qos1_done), daemon=True).start()
        assert qos1_done.wait(WAIT)
        assert wait_until(lambda: svc.points_skipped >= 2 and svc.sink.counters.spool_full > 0, WAIT)
        peaks.stop()
        stalled = {"backlog": svc.backlog, "writer": svc.sink.backlog_messages, "lines": svc.sink.backlog_lines,
                   "batches_done": svc.sink.counters.batches_done, "skipped": svc.points_skipped,
                   "acked": svc.stats.acked}
        assert stalled["acked"] == 0 and svc.sink.counters.lines_written == 0  # nothing durable, nothing acked
        stopper.start()
        assert wait_until(svc._stopping.is_set, WAIT)
        proxy.release()
        stopper.join(WAIT)
        assert not stopper.is_alive(), "stop did not return once InfluxDB answered"
        second = Service(settings, CATALOG)  # same client id and spool: the rest of the session
        second.start()
        assert second.wait_connected(10)
        assert wait_until(lambda: stored(influx, QOS1_STATION[1]) == QOS1_READINGS, WAIT)
        assert second.wait_idle(WAIT)
    finally:
        peaks.stop()
        if not stopper.is_alive() and stopper.ident is None:
            svc.stop()
        if second is not None:
            second.stop()
        proxy.close()
        for client in (flooder, steady):
            client.close()
    stored_qos0, stored_qos1 = stored(influx, QOS0_STATION[1]), stored(influx, QOS1_STATION[1])
    replayed = influx.query_rows('SELECT count("value") FROM "filler"')[0]["count"]
    totals = pipeline_totals(influx)
    print(f"\n[stalled writer] QoS 0 sent {QOS0_BURST}, accepted {accepted_qos0}, stored {stored_qos0}, dropped "
          f"{dropped}; QoS 1 sent {QOS1_READINGS}, stored {stored_qos1} (first worker acked {svc.stats.acked}, "
          f"second {second.stats.acked}); bound {MAX_QUEUE} messages / {line_bound} lines: stalled {stalled}, "
          f"sampled max backlog {peaks.backlog}, writer {peaks.writer} messages / {peaks.lines} lines; "
          f"reads held {svc.consumer.holds}; spool full {svc.sink.counters.spool_full}x; "
          f"filler replayed {replayed}/{fillers}; pipeline points {totals}")
    assert accepted_qos0 <= room and accepted_qos0 + dropped == QOS0_BURST
    assert svc.overload_dropped == dropped  # no QoS 1 was ever dropped
    assert stored_qos0 == accepted_qos0 and stored_qos1 == QOS1_READINGS
    # stalled, nothing is acknowledged: the broker keeps to the receive maximum, plain paho too
    assert stalled["backlog"] <= MAX_QUEUE and peaks.backlog <= MAX_QUEUE
    assert svc.backlog_max <= backlog_bound(fast_path)  # the stop's acks let the broker send again
    assert stalled["lines"] <= line_bound and peaks.lines <= line_bound
    assert overloaded_count(influx) == dropped and totals["dropped"] == dropped
    assert replayed == fillers
    check_client(svc, fast_path)
