"""10,000 hostile messages mixed into 10,000 good ones, through the real broker and database.

Every good reading must be stored, every hostile message rejected with the reason the contract
names for it (the count per reason equals what was sent, in the worker's counters and in the
``reject`` measurement), and the worker must still be alive and storing afterwards.
``pytest -s`` shows the figures.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic, encode_json, encode_senml, format_time
from riverwatch.settings import REPO_ROOT, Settings

from tests.helpers import wait_until as _wait_until

from ingest.service import Service

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
STATIONS = [st for st in CATALOG.stations if st.kind in ("river_gauge", "weather")]
N_GOOD = N_HOSTILE = 10_000
STEP_S = 10
WAIT = 90.0


def wait_until(predicate, timeout: float = WAIT, interval: float = 0.05) -> bool:
    return _wait_until(predicate, timeout, interval)


def good_values(station, index: int) -> dict:
    if station.kind == "river_gauge":
        return {"water_level": (1.0 + 0.001 * (index % 100), "m"), "discharge": (20.0 + 0.01 * index, "m3/s"),
                "water_temperature": (11.0 + 0.001 * index, "degC")}
    return {"air_temperature": (12.0 + 0.01 * (index % 50), "degC"), "relative_humidity": (70.0, "%"),
            "air_pressure": (1010.0 + 0.01 * (index % 30), "hPa"), "wind_speed": (3.0, "m/s"),
            "precipitation": (0.0, "mm")}


def doc(ts, seq, readings) -> dict:
    return {"ts": ts, "seq": seq, "readings": readings}


def level(value) -> dict:
    return {"water_level": {"value": value, "unit": "m"}}


def strftime(pattern: str, t: float) -> str:
    return time.strftime(pattern, time.gmtime(t))


def senml_twice(g) -> bytes:
    """A SenML pack of the good message's station carrying its first quantity twice."""
    (quantity, (value, unit)), st = next(iter(g["values"].items())), g["station"]
    return orjson.dumps([{"bn": f"urn:dev:rw:{st.partner}:{st.id}:", "bt": g["t"] + 1, "n": "seq", "v": g["seq"] + 1},
                         {"n": quantity, "u": unit, "v": value}, {"n": quantity, "u": unit, "v": value + 1}])


def timed(g, pattern: str) -> bytes:
    """The good message's readings, one second later, with ``ts`` written by ``strftime(pattern)``."""
    readings = {q: {"value": v, "unit": u} for q, (v, u) in g["values"].items()}
    return orjson.dumps(doc(strftime(pattern, g["t"] + 1), g["seq"] + 1, readings))


def issue12_kinds(now: float):
    """Messages that were accepted, acknowledged and then lost (issue #12): now rejected by reason."""
    weather = next(st for st in STATIONS if st.kind == "weather")
    return [
        ("overflows when converted (in -> mm)", "not_finite",
         lambda g: (data_topic(weather.partner, weather.id),
                    encode_json(g["t"] + 1, g["seq"] + 1, {"precipitation": (1e308, "in")}))),
        ("seq of 2^63", "bad_seq", lambda g: on(g, encode_json(g["t"] + 1, 2**63, g["values"]))),
        ("basic ISO 8601 time", "bad_timestamp", lambda g: on(g, timed(g, "%Y%m%dT%H%M%SZ"))),
        ("space instead of T", "bad_timestamp", lambda g: on(g, timed(g, "%Y-%m-%d %H:%M:%S+00:00"))),
        ("ISO week date", "bad_timestamp", lambda g: on(g, timed(g, "%G-W%V-%uT%H:%M:%SZ"))),
        ("SenML naming another partner's station", "topic_mismatch",
         lambda g: on(g, encode_senml("mallory", g["station"].id, g["t"] + 1, g["seq"] + 1, g["values"]))),
        ("SenML with one quantity twice", "duplicate_quantity", lambda g: on(g, senml_twice(g))),
    ]


def on(good, payload):
    return good["topic"], payload


def hostile_kinds(now: float):
    """``(name, reason, make(good) -> (topic, payload))``; ``good`` is the good message just sent."""
    ts = format_time(now - 3600)
    dumps = orjson.dumps
    return issue12_kinds(now) + [
        ("truncated JSON", "bad_json", lambda g: on(g, b'{"ts": "' + ts.encode() + b'", "seq": ')),
        ("trailing garbage", "bad_json", lambda g: on(g, g["payload"] + b"}}")),
        ("binary garbage", "bad_encoding",
         lambda g: on(g, b"\xff\xfe" + random.Random(g["i"]).randbytes(120))),
        ("oversize", "oversize", lambda g: on(g, dumps(doc(ts, 1, level(1.0))) + b" " * 20_000)),
        ("nesting beyond the parser", "bad_json", lambda g: on(g, b"[" * 1500 + b"]" * 1500)),
        ("deeply nested readings", "bad_schema",
         lambda g: on(g, b'{"ts": "' + ts.encode() + b'", "seq": 1, "readings": ' + b"[" * 400 + b"]" * 400 + b"}")),
        ("huge array", "bad_schema", lambda g: on(g, b"[" + b",".join([b"0"] * 4000) + b"]")),
        ("NaN as text", "not_finite", lambda g: on(g, dumps(doc(ts, 1, level("NaN"))))),
        ("-Infinity as text", "not_finite", lambda g: on(g, dumps(doc(ts, 1, level("-Infinity"))))),
        ("bare NaN token", "not_finite",
         lambda g: on(g, dumps(doc(ts, 1, level(0.5))).replace(b"0.5", b"NaN"))),
        ("bare Infinity token", "not_finite",
         lambda g: on(g, dumps(doc(ts, 1, level(0.5))).replace(b"0.5", b"Infinity"))),
        ("seq as text", "bad_schema", lambda g: on(g, dumps(doc(ts, "7", level(1.0))))),
        ("readings as text", "bad_schema", lambda g: on(g, dumps(doc(ts, 1, "high")))),
        ("ts as a boolean", "bad_timestamp", lambda g: on(g, dumps(doc(True, 1, level(1.0))))),
        ("unknown partner", "unknown_station",
         lambda g: (data_topic("mallory", "gauge-hochtal"), dumps(doc(ts, 1, level(1.0))))),
        ("unknown station", "unknown_station",
         lambda g: (data_topic("rivertown", "gauge-nowhere"), dumps(doc(ts, 1, level(1.0))))),
        ("unknown quantity", "unknown_quantity",
         lambda g: on(g, dumps(doc(ts, 1, {"kryptonite": {"value": 1.0, "unit": "kg"}})))),
        ("unknown unit", "unknown_unit",
         lambda g: on(g, encode_json(g["t"] + 1, g["seq"] + 1, {next(iter(g["values"])): (1.0, "furlong")}))),
        ("far future", "future_timestamp",
         lambda g: on(g, encode_json(now + 86400, g["seq"] + 1, g["values"]))),
        ("before the station existed", "too_old",
         lambda g: on(g, encode_json(631152000.0, g["seq"] + 1, g["values"]))),
        ("duplicate", "replayed", lambda g: on(g, g["payload"])),
        ("replayed older seq", "replayed",
         lambda g: on(g, encode_json(g["t"] - STEP_S, max(0, g["seq"] - 1), g["values"]))),
        ("payload partner differs from topic", "topic_mismatch",
         lambda g: on(g, encode_json(g["t"] + 1, g["seq"] + 1, g["values"], partner="mallory"))),
        ("topic with a bad name", "topic_invalid",
         lambda g: ("rw/v1/rivertown/gauge hochtal!/data", g["payload"])),
    ]


def build(now: float):
    """The interleaved stream, the expected (station, quantity) -> times, and reasons sent."""
    kinds = hostile_kinds(now)
    t0 = int(now) - 3 * 86400
    stream, expected, sent = [], {}, Counter()
    for i in range(N_GOOD):
        station = STATIONS[i % len(STATIONS)]
        index = i // len(STATIONS)
        t = t0 + STEP_S * index
        values = good_values(station, index)
        payload = encode_json(float(t), index, values)
        good = {"i": i, "topic": data_topic(station.partner, station.id), "payload": payload, "t": float(t),
                "seq": index, "values": values, "station": station}
        stream.append((good["topic"], payload))
        for q in values:
            expected.setdefault((station.id, q), set()).add(t * 10**9)
        name, reason, make = kinds[i % len(kinds)]
        stream.append(make(good))
        sent[reason] += 1
    return stream, expected, sent


@pytest.fixture
def worker(services, influx, tmp_path):
    settings = Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port,
              "client_id": f"hostile-{uuid.uuid4().hex[:8]}", "session_expiry_s": 60},
        influx={"url": services.influx_url, "database": influx.database},
        ingest={"detectors": ["level_threshold", "rate_of_rise"], "spool_dir": tmp_path / "spool"})
    svc = Service(settings, CATALOG)
    svc.start()
    try:
        assert svc.wait_connected(10)
        yield svc
    finally:
        svc.stop()


def stored_times(influx, station: str, quantity: str) -> list[int]:
    rows = influx.query_rows(f'SELECT "value" FROM "reading" WHERE "station" = \'{station}\' '
                             f'AND "quantity" = \'{quantity}\'')
    return [r["time"] for r in rows]


def test_hostile_messages_are_rejected_by_reason_and_good_ones_all_stored(worker, services, influx):
    now = time.time()
    stream, expected, sent = build(now)
    assert sum(sent.values()) == N_HOSTILE and len(stream) == N_GOOD + N_HOSTILE
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"mallory-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(500)
    client.max_queued_messages_set(0)
    client.connect(services.mqtt_host, services.mqtt_port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in stream]
        assert wait_until(lambda: all(info.is_published() for info in infos))
    finally:
        client.disconnect()
        client.loop_stop()
    assert wait_until(lambda: worker.stats.received >= len(stream)) and worker.wait_idle(WAIT)
    stats = worker.stats
    n_readings = sum(len(times) for times in expected.values())
    missing = duplicates = 0
    for (station, quantity), times in sorted(expected.items()):
        got = stored_times(influx, station, quantity)
        duplicates += len(got) - len(set(got))
        missing += len(times - set(got))
        assert set(got) == times, f"{station}/{quantity}"
    in_db = {r["reason"]: int(r["count"]) for r in
             influx.query_rows('SELECT count("count") FROM "reject" GROUP BY "reason"')}
    print(f"\n[hostile] published={len(stream)} good={N_GOOD} hostile={N_HOSTILE} acknowledged={stats.acked} "
          f"accepted={stats.accepted} stored_readings={stats.readings_stored} expected_readings={n_readings} "
          f"missing={missing} duplicates={duplicates} internal_errors={stats.errors} "
          f"lines_refused_by_influx={worker.sink.counters.lines_rejected}")
    print("[hostile] rejected by reason (sent / counted / in InfluxDB): " + ", ".join(
        f"{r}={sent[r]}/{stats.rejected_by_reason.get(r, 0)}/{in_db.get(r, 0)}" for r in sorted(sent)))
    assert stats.accepted == N_GOOD and stats.readings_stored == n_readings
    assert stats.rejected_by_reason == dict(sent)
    assert in_db == dict(sent)
    assert stats.acked == len(stream) and stats.errors == 0
    assert worker.sink.counters.lines_rejected == 0  # nothing accepted that InfluxDB then refuses
    # and the worker is alive and storing afterwards
    assert worker._thread.is_alive() and worker.consumer.connected.is_set()
    last = STATIONS[0]
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"after-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
    pub.connect(services.mqtt_host, services.mqtt_port)
    pub.loop_start()
    try:
        t = float(int(now) - 60)
        pub.publish(data_topic(last.partner, last.id), encode_json(t, 10**6, good_values(last, 0)),
                    qos=1).wait_for_publish(10)
    finally:
        pub.disconnect()
        pub.loop_stop()
    assert wait_until(lambda: worker.stats.accepted == N_GOOD + 1) and worker.wait_idle(WAIT)
    assert int(t) * 10**9 in stored_times(influx, last.id, "water_level")
