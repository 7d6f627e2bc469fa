"""The publisher's state files after power cuts: atomic writes, tolerant loading, no reused sequence numbers."""

from __future__ import annotations

import logging

import orjson

from devices.publisher import SEQ_PER_SECOND, DevicePublisher, MultiStationPublisher, Outgoing, outbox_line, seq_floor
from riverwatch.contract import data_topic, decode_payload, encode_json

from tests.helpers import wait_until

T0 = 1_795_348_800.0
UNREACHABLE = ("127.0.0.1", 1)  # publishers that are never started: only their state files matter


def pending_seqs(state_dir) -> list[int]:
    """Sequence numbers a publisher starting on ``state_dir`` now would send again (its journal's pending)."""
    from devices.outbox import Outbox
    from devices.publisher import PublisherStats

    items = Outbox(state_dir / "outbox.jsonl", "reader", PublisherStats())._parse(
        (state_dir / "outbox.jsonl").read_bytes() if (state_dir / "outbox.jsonl").exists() else b"")
    entries, done = items
    return [decode_payload(i.payload).seq for i in entries if i.journal_id not in done]


def offline_device(state_dir, station: str = "gauge-hochtal") -> DevicePublisher:
    return DevicePublisher(*UNREACHABLE, "rivertown", station, state_dir=state_dir)


def queue_readings(pub: DevicePublisher, n: int) -> list[int]:
    return [pub.send(T0 + 60 * i, {"water_level": (1.0 + i, "m")}) for i in range(n)]


def test_state_files_are_whole_json_and_no_temporary_file_is_left(tmp_path):
    pub = offline_device(tmp_path)
    assert queue_readings(pub, 5) == [1, 2, 3, 4, 5]
    pub.close(timeout=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outbox.jsonl", "seq.json"]
    assert orjson.loads((tmp_path / "seq.json").read_bytes()) == {"rivertown/gauge-hochtal": 6}
    lines = (tmp_path / "outbox.jsonl").read_bytes().splitlines()
    assert [decode_payload(orjson.loads(line)["payload"].encode()).seq for line in lines] == [1, 2, 3, 4, 5]


def test_a_lost_sequence_file_with_an_outbox_never_reuses_a_number(tmp_path):
    first = offline_device(tmp_path)
    queue_readings(first, 5)
    first.close(timeout=0)
    (tmp_path / "seq.json").unlink()  # lost, while the outbox shows this device ran before
    second = offline_device(tmp_path)
    assert second.seq.recovered and second.snapshot().outbox_loaded == 5
    assert second.send(T0 + 600, {"water_level": (9.0, "m")}) >= seq_floor() - SEQ_PER_SECOND * 60


def test_the_outbox_beats_the_clock_when_its_numbers_are_higher(tmp_path):
    high = 10 * seq_floor()
    topic = data_topic("rivertown", "gauge-hochtal")
    item = Outgoing(topic, encode_json(T0, high, {"water_level": (1.0, "m")}), "rivertown/gauge-hochtal")
    (tmp_path / "outbox.jsonl").write_bytes(outbox_line(item))
    pub = offline_device(tmp_path)  # no seq.json at all
    assert pub.send(T0 + 60, {"water_level": (1.1, "m")}) == high + 1


def test_a_fresh_state_dir_starts_at_one(tmp_path):
    pub = offline_device(tmp_path / "new")
    assert pub.seq.recovered is None and queue_readings(pub, 2) == [1, 2]


def test_unreadable_outbox_entries_are_skipped_counted_and_logged(tmp_path, caplog):
    topic = data_topic("rivertown", "gauge-hochtal")
    good = [outbox_line(Outgoing(topic, encode_json(T0 + i, i + 1, {"water_level": (1.0, "m")}),
                                 "rivertown/gauge-hochtal")) for i in range(3)]
    bad = [b"not json\n", b'{"topic": 5, "payload": "x", "station": "p/s", "values": 1}\n',
           b'{"topic": "' + topic.encode() + b'", "payload": 7, "station": "rivertown/gauge-hochtal", "values": 1}\n',
           b'["a list"]\n', b'{"topic": "elsewhere/x", "payload": "{}", "station": "p/s", "values": 1}\n',
           b"\xff\xfe\n"]
    torn_tail = good[2][: len(good[2]) // 2]
    (tmp_path / "outbox.jsonl").write_bytes(good[0] + bad[0] + good[1] + b"".join(bad[1:]) + good[2] + torn_tail)
    (tmp_path / "seq.json").write_bytes(b'{"rivertown/gauge-hochtal": 100}')
    with caplog.at_level(logging.ERROR):
        pub = offline_device(tmp_path)
    stats = pub.snapshot()
    assert stats.outbox_loaded == 3 and stats.outbox_skipped == len(bad) + 1 and stats.queued == 3
    assert caplog.text.count("skipped the unreadable entry") == len(bad) + 1
    assert [decode_payload(m.payload).seq for m in pub._queue] == [1, 2, 3]
    assert pub.send(T0 + 60, {"water_level": (1.0, "m")}) == 100


def test_an_unwritable_state_dir_never_stops_the_publisher(tmp_path, caplog):
    (tmp_path / "seq.json").mkdir()  # neither readable as a file nor replaceable by one
    (tmp_path / "seq.json" / "keep").write_text("x")
    with caplog.at_level(logging.ERROR):
        pub = offline_device(tmp_path)
        seqs = queue_readings(pub, 3)
    assert pub.seq.recovered.startswith("unreadable") and seqs[0] >= seq_floor() - SEQ_PER_SECOND * 60
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
    assert pub.snapshot().state_write_errors >= 1 and "cannot write the sequence file" in caplog.text


def test_the_loaded_outbox_stays_on_disk_until_its_messages_are_acknowledged(services, tmp_path):
    first = offline_device(tmp_path, "gauge-durable-test")
    queue_readings(first, 4)
    first.close(timeout=0)
    outbox = tmp_path / "outbox.jsonl"
    second = offline_device(tmp_path, "gauge-durable-test")
    assert outbox.is_file(), "loading the outbox must not delete the only copy of the backlog"
    second.close(timeout=0)  # a second run that never reached the broker keeps the backlog too
    assert len(outbox.read_bytes().splitlines()) == 4
    third = DevicePublisher(services.mqtt_host, services.mqtt_port, "rivertown", "gauge-durable-test",
                            state_dir=tmp_path).start()
    try:
        assert third.flush(15)
        assert wait_until(lambda: pending_seqs(tmp_path) == [], 10)  # every loaded message acknowledged
        assert third.snapshot().acknowledged == 4
    finally:
        third.close()
    assert not outbox.exists()


def test_a_full_queue_that_drops_loaded_messages_still_releases_the_outbox(tmp_path):
    first = offline_device(tmp_path)
    queue_readings(first, 3)
    first.close(timeout=0)
    pub = MultiStationPublisher(*UNREACHABLE, [("rivertown", "gauge-hochtal")], client_id="small",
                                state_dir=tmp_path, max_queued=1)
    assert pub.snapshot().dropped == 2  # two of the three loaded messages fell out of the queue
    seq = pub.publish("rivertown", "gauge-hochtal", T0 + 600, {"water_level": (2.0, "m")})
    assert pending_seqs(tmp_path) == [seq]  # every loaded message is settled (dropped, loudly)


CHILD = """
import sys, time
from devices.publisher import DevicePublisher
pub = DevicePublisher("127.0.0.1", 1, "rivertown", sys.argv[2], state_dir=sys.argv[1]).start()
for i in range(100_000):
    seq = pub.send(1795348800.0 + 60 * i, {"water_level": (1.0 + i / 1000, "m")})
    print(seq, flush=True)  # publish() returned: the device may forget this reading now
"""


def test_a_sigkilled_device_loses_nothing_it_queued(services, tmp_path):
    """A power cut (SIGKILL) while the broker is unreachable: every reading ``publish()`` returned for
    reaches the broker from the next run. (Before, the outbox was written only on a clean close.)"""
    import os
    import signal
    import subprocess
    import sys

    from riverwatch.settings import REPO_ROOT
    from tests.devices.test_device_publisher import Collector

    station = "gauge-sigkill-test"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), station], cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, text=True)
    queued = []
    try:
        while len(queued) < 300:
            queued.append(int(child.stdout.readline()))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    queued += [int(line) for line in child.stdout.read().split()]  # printed before the kill
    sub = Collector(services.mqtt_port, data_topic("rivertown", station))
    try:
        second = DevicePublisher(services.mqtt_host, services.mqtt_port, "rivertown", station,
                                 state_dir=tmp_path).start()
        try:
            assert second.snapshot().outbox_loaded >= len(queued)
            assert second.flush(30)
        finally:
            second.close()
        received = {decode_payload(p).seq for _, p, _ in sub.wait_for(len(queued), distinct=True)}
    finally:
        sub.close()
    print(f"\n[device sigkill] queued={len(queued)} loaded={second.snapshot().outbox_loaded} "
          f"received={len(received)}")
    assert set(queued) <= received
    assert pending_seqs(tmp_path) == []


def test_the_journal_is_compacted_and_read_back_in_order(tmp_path):
    """Settled entries are dropped from the journal once they outnumber the pending ones; a crash
    (no close) leaves a journal whose pending entries come back in their order, a torn tail skipped."""
    from devices.outbox import COMPACT_AFTER, Outbox
    from devices.publisher import PublisherStats

    path, topic = tmp_path / "outbox.jsonl", data_topic("rivertown", "gauge-hochtal")
    outbox = Outbox(path, "t", PublisherStats(), sync_every=100)
    items = [outbox.append(Outgoing(topic, encode_json(T0 + i, i + 1, {"water_level": (1.0, "m")}),
                                    "rivertown/gauge-hochtal")) for i in range(2 * COMPACT_AFTER)]
    for item in items[::2] + items[1:COMPACT_AFTER:2]:  # settled out of order, the second half of odds pending
        outbox.settle(item)
    outbox.sync()
    kept = [decode_payload(i.payload).seq for i in items[COMPACT_AFTER + 1::2]]
    assert len(path.read_bytes().splitlines()) < 2 * COMPACT_AFTER  # compacted on the way
    with open(path, "ab") as f:
        f.write(b'{"done":')  # torn by the crash
    stats = PublisherStats()
    again = Outbox(path, "t", stats).read()
    assert [decode_payload(i.payload).seq for i in again] == kept and stats.outbox_skipped == 1
    assert len(path.read_bytes().splitlines()) == len(kept)  # rewritten with the pending ones only
