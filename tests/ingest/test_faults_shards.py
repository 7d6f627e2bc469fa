"""Two workers sharded by river network (``ingest.shard``), one SIGKILLed mid-stream and restarted.

Two real ``riverwatch run`` processes take ``0/2`` and ``1/2`` of the demo catalog (the gauges of
the Grenzbach network on one, the weather stations on the other). A paced QoS 1 stream of both
goes through the real Mosquitto; worker 0 is SIGKILLed and started again while it runs. Every
acknowledged reading must be stored exactly once, the surviving worker must have received exactly
its own stations' messages (none twice, none of the other shard), and the restarted one may only
refuse redeliveries of what it had already stored (``replayed``).
"""

from __future__ import annotations

import time

from application.services import free_port
from ingest.consumer import shard_stations

from tests.helpers import wait_until
from tests.ingest.resilience_kit import (CATALOG, GAUGES, WAIT, WEATHER, StreamPublisher, WorkerProcess, interleaved,
                                         report, stored, worker_config)


def test_two_sharded_workers_one_sigkilled_lose_and_double_nothing(services, influx, tmp_path):
    workers = []
    for index in range(2):
        folder = tmp_path / f"shard-{index}"
        folder.mkdir()
        port = free_port()
        worker_config(folder / "worker.toml", services, influx.database, services.influx_url, folder, port,
                      client="faults", shard=f'"{index}/2"', detectors='["level_threshold"]')
        workers.append(WorkerProcess(folder / "worker.toml", folder / "worker.log", port))
    stations = GAUGES + WEATHER
    mine = {index: {key for key in shard_stations(CATALOG, (index, 2))} for index in range(2)}
    assert all(any(st.key in mine[i] for st in stations) for i in range(2))  # both shards get a share
    messages = interleaved(stations, 300, int(time.time()) - 2 * 86400)  # 1,500 messages
    share = {i: sum(1 for topic, _, _ in messages if tuple(topic.split("/")[2:4]) in mine[i]) for i in range(2)}
    publisher = StreamPublisher(services.mqtt_host, services.mqtt_port)
    killed, survivor = workers
    try:
        for worker in workers:
            worker.start()
        publisher.stream(messages, pace_s=0.008)
        assert wait_until(lambda: publisher.index >= 500, 20)
        killed.kill()
        assert wait_until(lambda: publisher.index >= 800, 20)  # its share queues in its session meanwhile
        killed.start()
        publisher.join()
        assert publisher.wait_acked()
        acknowledged = publisher.acknowledged()
        assert wait_until(lambda: stored(influx)[1] >= acknowledged, WAIT, 0.5), killed.tail()
        assert wait_until(lambda: survivor.metric("riverwatch_messages_acked_total") == share[1], WAIT)
        total, keys = stored(influx)
        rejected = killed.rejects()
        report("shards", publisher, acknowledged, total, keys, rejected, share=share,
               survivor_acked=survivor.metric("riverwatch_messages_acked_total"),
               restarted_acked=killed.metric("riverwatch_messages_acked_total"))
        assert keys == acknowledged and total == len(keys)
        assert survivor.metric("riverwatch_messages_received_total") == share[1]  # its own, each once
        assert survivor.rejects() == {}
        assert set(rejected) <= {"replayed"}  # only redeliveries of what was durable before the kill
    finally:
        publisher.close()
        for worker in workers:
            worker.stop()
