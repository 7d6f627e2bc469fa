"""Scenario messages without a broker, and run_scenario / ``riverwatch simulate`` against Mosquitto."""

from __future__ import annotations

import math
import time

import pytest

from devices.cli import parse_duration
from devices.simulate import interval_from_rate, run_scenario, scenario_messages
from riverwatch.catalog import load_catalog
from application.cli import main
from riverwatch.contract import DATA_SUBSCRIPTION, decode_payload, parse_topic
from riverwatch.errors import ConfigError
from riverwatch.settings import REPO_ROOT, Settings
from riverwatch.units import to_canonical

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")


def test_messages_decode_with_per_station_seq_and_canonical_values():
    start = 1_790_000_000.0
    msgs = list(scenario_messages(CATALOG, "storm", start, 3 * 3600, interval_s=300, seed=2, fmt="senml"))
    assert len(msgs) == 7 * 36
    last_seq: dict[str, int] = {}
    for topic, payload, reading in msgs:
        partner, station, channel = parse_topic(topic)
        assert (partner, station, channel) == (reading.partner, reading.station, "data")
        raw = decode_payload(payload)
        assert raw.seq == last_seq.get(station, 0) + 1 == reading.seq
        last_seq[station] = raw.seq
        assert raw.time_s == pytest.approx(reading.sent_time_s)
        assert start <= reading.time_s <= start + 3 * 3600
        assert set(CATALOG.by_id(station).quantities) == {q for q, _, _ in raw.values}
        for quantity, value, unit in raw.values:
            assert to_canonical(quantity, value, unit) == reading.values[quantity]


def test_interval_per_station_and_from_rate():
    msgs = list(scenario_messages(CATALOG, "calm", 1.79e9, 3600, interval_s={"gauge-hochtal": 60.0}))
    counts: dict[str, int] = {}
    for _, _, r in msgs:
        counts[r.station] = counts.get(r.station, 0) + 1
    assert counts["gauge-hochtal"] == 60 and counts["wx-lacville"] == 60  # others default to 60 s
    assert interval_from_rate(7, 600.0, 70.0) == 60.0
    with pytest.raises(ConfigError, match="--rate"):
        interval_from_rate(7, 600.0, 0)
    assert parse_duration("2d") == 172800.0


class Subscriber:
    """A plain paho client counting what arrives on the data topics."""

    def __init__(self, port: int) -> None:
        import threading

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.payloads: list[tuple[str, bytes]] = []
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(DATA_SUBSCRIPTION, qos=1)
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = lambda c, u, m: self.payloads.append((m.topic, m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(5)

    def wait_for(self, count: int, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while len(self.payloads) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(self.payloads)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_run_scenario_broker_acknowledges_what_subscribers_get(services, tmp_path):
    settings = Settings(mqtt={"host": services.mqtt_host, "port": services.mqtt_port}, state_dir=tmp_path)
    sub = Subscriber(services.mqtt_port)
    try:
        fast = run_scenario(settings, CATALOG, "all", math.inf, 2 * 3600, interval_s=60, seed=1,
                            client_id="sim-test-fast")
        paced = run_scenario(settings, CATALOG, "faults", 7200.0, 3600, rate=700.0, fmt="senml",
                             client_id="sim-test-paced")
        total = fast.acknowledged + paced.acknowledged
        assert sub.wait_for(total) == total
    finally:
        sub.close()
    assert fast.published == fast.acknowledged == 7 * 120 and fast.unacknowledged == 0
    assert fast.readings_acknowledged == sum(len(s.quantities) for s in CATALOG.stations) * 120
    assert fast.peaks["gauge-lacville"].time_s - fast.peaks["gauge-grenzbruecke"].time_s == 90 * 60
    assert all(c.acknowledged == c.published == 120 for c in fast.per_station.values())
    assert paced.published == paced.acknowledged > 0  # 7 stations x 7200/700 s interval, minus the dropout
    assert time.time() - paced.start_s >= 3600 - 5  # default start: now - duration, nothing in the future
    newest = max(decode_payload(p).time_s for t, p in sub.payloads if "wx-rivertown" not in t)
    assert newest <= time.time()
    seqs = [decode_payload(p).seq for t, p in sub.payloads if t.endswith("/gauge-hochtal/data")]
    assert seqs == list(range(1, len(seqs) + 1))  # continued across both runs through the state dir


def test_cli_simulate_prints_acknowledged(services, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for key, value in services.as_env().items():
        monkeypatch.setenv(key, value)
    code = main(["simulate", "--scenario", "plume", "--speed", "0", "--span", "1h", "--interval", "5m",
                 "--start", "2026-11-22T00:00:00Z", "--client-id", "sim-test-cli"])
    out = capsys.readouterr().out
    assert code == 0
    assert "published 84 messages" in out and "broker acknowledged 84 messages" in out
    assert "0 unacknowledged" in out and "wq-lacville" in out
    assert (tmp_path / ".riverwatch" / "devices" / "seq.json").is_file()
    assert main(["simulate", "--scenario", "calm", "--rate", "-1"]) == 2
