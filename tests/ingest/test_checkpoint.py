"""The checkpoint by parts: a part that no longer loads is reset alone (counted, logged), the rest is kept;
first pure, then a worker restarted on a damaged checkpoint against the real Mosquitto and InfluxDB."""

from __future__ import annotations

import logging
import pickle
import threading
import time
import uuid

from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic, encode_json, warning_topic
from riverwatch.settings import REPO_ROOT, Settings

from tests.helpers import Publisher, wait_until

from ingest.checkpoint import CLOCKS, VERSION, dump_parts, join_parts, load_parts, split_state
from ingest.service import Service

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
GAUGE = ("rivertown", "gauge-hochtal")
WAIT = 30.0
#: A pickle of a class that no longer exists (a detector renamed or moved since the checkpoint).
GONE = b"\x80\x04cdetectors.gone\nVanished\n)\x81."


def test_a_part_that_does_not_load_is_reset_alone(caplog):
    key = ("detectors", (GAUGE, "level_threshold", "water_level"))
    parts = split_state({GAUGE: (3, 1.7e9, 7)}, {"detectors": {key[1]: [1.0], (GAUGE, "rainfall", None): [2.0]},
                                                 "book": {"version": 1, "warnings": []}})
    blob, failed = dump_parts(parts)
    state = pickle.loads(blob)
    assert failed == [] and state["version"] == VERSION
    state["parts"][key] = GONE
    with caplog.at_level(logging.WARNING, logger="ingest.checkpoint"):
        loaded, reset = load_parts(pickle.dumps(state))
    assert reset == [key] and repr(key) in caplog.text
    clocks, snapshot = join_parts(loaded)
    assert clocks == {GAUGE: (3, 1.7e9, 7)}
    assert snapshot == {"detectors": {(GAUGE, "rainfall", None): [2.0]}, "qc": {},
                        "book": {"version": 1, "warnings": []}}


def test_a_part_that_cannot_be_pickled_is_left_out_and_the_rest_saved():
    parts = split_state({}, {"detectors": {"kept": 1, "lock": threading.Lock()}, "book": None})
    blob, failed = dump_parts(parts)
    assert failed == [("detectors", "lock")]
    loaded, reset = load_parts(blob)
    assert reset == [] and set(loaded) == {CLOCKS, ("detectors", "kept"), ("book",)}


def test_a_checkpoint_of_the_first_format_is_read_whole():
    old = {"version": 1, "clocks": {GAUGE: (1, 2.0, 1)}, "pipeline": {"detectors": {"k": 1}, "qc": {}, "book": None}}
    loaded, reset = load_parts(pickle.dumps(old))
    assert reset == [] and join_parts(loaded) == (old["clocks"], old["pipeline"])


def make_settings(services, influx, tmp_path) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"ingest-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 30},
        influx={"url": services.influx_url, "database": influx.database, "flush_interval_s": 0.05},
        ingest={"detectors": ["level_threshold", "rate_of_rise"], "spool_dir": tmp_path / "spool",
                "summary_interval_s": 0.5})


def damage_one_detector(path) -> tuple:
    """Replace the stored part of one ``level_threshold`` detector of the gauge by :data:`GONE`; its key."""
    state = pickle.loads(path.read_bytes())
    key = next(k for k in state["parts"] if k[0] == "detectors" and k[1][0] == GAUGE and k[1][1] == "level_threshold")
    state["parts"][key] = GONE
    path.write_bytes(pickle.dumps(state))
    return key


def test_a_restart_on_a_damaged_detector_part_keeps_the_warning_and_the_other_detectors(services, influx, tmp_path):
    settings = make_settings(services, influx, tmp_path)
    pub = Publisher(services)
    topic, t0 = data_topic(*GAUGE), time.time() - 7200
    payloads = [encode_json(t0 + 600 * i, i, {"water_level": (level, "m")})
                for i, level in enumerate([1.0, 3.1, 3.2, 3.3, 3.4])]  # raises a flood warning (3.0 m)
    first, second = Service(settings, CATALOG), Service(settings, CATALOG)
    running: list[Service] = []
    try:
        first.start()
        running.append(first)
        assert first.wait_connected(10)
        for payload in payloads:
            pub.publish(topic, payload)
        assert wait_until(lambda: first.stats.accepted == len(payloads), WAIT) and first.wait_idle(WAIT)
        warnings = {(w.partner, w.station, w.hazard) for w in first.pipeline.open_warnings()}
        assert (*GAUGE, "flood") in warnings
        running.remove(first)
        first.stop()
        detectors = set(first.pipeline.snapshot()["detectors"])
        damaged = damage_one_detector(first.checkpoint_path)
        assert len(detectors) >= 2 and damaged[1] in detectors

        second.start()
        running.append(second)
        assert second.wait_connected(10)
        assert second.checkpoints.parts_reset == 1
        assert b'riverwatch_checkpoint_parts_reset_total{worker="%s"} 1.0' % second.worker.encode() \
            in second.metrics.render()
        assert {(w.partner, w.station, w.hazard) for w in second.pipeline.open_warnings()} == warnings
        assert set(second.pipeline.snapshot()["detectors"]) == detectors - {damaged[1]}
        pub.publish(topic, payloads[-1])  # the replay clocks survived too
        assert wait_until(lambda: second.stats.received == 1, WAIT) and second.wait_idle(WAIT)
        assert second.stats.rejected_by_reason == {"replayed": 1} and second.stats.errors == 0
    finally:
        for svc in running:
            svc.stop()
        pub.client.publish(warning_topic(*GAUGE, "flood"), b"", qos=1, retain=True).wait_for_publish(10)
        pub.close()
