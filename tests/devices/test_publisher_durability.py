"""The publisher's state files after power cuts: atomic writes, tolerant loading, no reused sequence numbers."""

from __future__ import annotations

import logging

import orjson

from devices.publisher import SEQ_PER_SECOND, DevicePublisher, MultiStationPublisher, Outgoing, outbox_line, seq_floor
from riverwatch.contract import data_topic, decode_payload, encode_json

from tests.helpers import wait_until

T0 = 1_795_348_800.0
UNREACHABLE = ("127.0.0.1", 1)  # publishers that are never started: only their state files matter


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
        assert wait_until(lambda: not outbox.exists(), 10)  # every loaded message acknowledged
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
    pub.publish("rivertown", "gauge-hochtal", T0 + 600, {"water_level": (2.0, "m")})
    assert not (tmp_path / "outbox.jsonl").exists()  # every loaded message is settled (dropped, loudly)
