"""Validator: every reject reason from a crafted message, and no other exception ever escapes."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings, strategies as st

from riverwatch.catalog import load_catalog
from riverwatch.contract import REJECT_REASONS, encode_json, encode_senml
from riverwatch.errors import DecodeError
from riverwatch.settings import REPO_ROOT, IngestSettings

from ingest.validate import Validator

NOW = 1_800_000_000.0
TOPIC = "rw/v1/rivertown/gauge-hochtal/data"
CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")


def make_validator() -> Validator:
    return Validator(CATALOG, IngestSettings(max_future_s=300, max_late_s=86400), 4096)


def good(seq: int = 1, ts: float = NOW, **extra) -> bytes:
    return encode_json(ts, seq, {"water_level": (10.0, "ft"), "discharge": (35.3147, "cfs")}, **extra)


def raw(doc) -> bytes:
    return orjson.dumps(doc)


CASES = {
    "topic_invalid": ("rw/v1/rivertown/data", good()),
    "oversize": (TOPIC, b" " * 5000),
    "bad_encoding": (TOPIC, b'{"ts": "\xff\xfe", "seq": 1}'),
    "bad_json": (TOPIC, b'{"ts": 1,'),
    "bad_schema": (TOPIC, raw({"ts": NOW, "seq": 1, "readings": []})),
    "unknown_station": ("rw/v1/rivertown/nowhere/data", good()),
    "topic_mismatch": (TOPIC, good(partner="lacville")),
    "unknown_quantity": (TOPIC, encode_json(NOW, 1, {"kryptonite": (1.0, "kg")})),
    "unknown_unit": (TOPIC, encode_json(NOW, 1, {"water_level": (1.0, "furlong")})),
    "not_finite": (TOPIC, raw({"ts": NOW, "seq": 1, "readings": {"water_level": {"value": "NaN", "unit": "m"}}})),
    "bad_timestamp": (TOPIC, raw({"ts": "yesterday", "seq": 1, "readings": {"water_level": {"value": 1, "unit": "m"}}})),
    "future_timestamp": (TOPIC, good(ts=NOW + 3600)),
    "too_old": (TOPIC, good(ts=NOW - 2 * 86400)),
    "bad_seq": (TOPIC, encode_json(NOW, 2**63, {"water_level": (1.0, "m")})),
    "duplicate_quantity": (TOPIC, raw([{"bn": "urn:dev:rw:rivertown:gauge-hochtal:", "bt": NOW, "n": "seq", "v": 1},
                                       {"n": "water_level", "u": "m", "v": 1.0},
                                       {"n": "water_level", "u": "m", "v": 9.0}])),
    "must_understand": (TOPIC, raw([{"bn": "urn:dev:rw:rivertown:gauge-hochtal:", "bt": NOW, "n": "seq", "v": 1},
                                    {"n": "water_level", "u": "m", "v": 1.0, "scale_": 10}])),
    "sum_only": (TOPIC, raw([{"bn": "urn:dev:rw:rivertown:gauge-hochtal:", "bt": NOW, "n": "seq", "v": 1},
                             {"n": "water_level", "u": "m", "s": 140.0}])),
}


@pytest.mark.parametrize("reason", sorted(CASES))
def test_each_reject_reason_from_a_crafted_message(reason):
    topic, payload = CASES[reason]
    with pytest.raises(DecodeError) as err:
        make_validator().validate(topic, payload, NOW)
    assert err.value.reason == reason
    assert reason in REJECT_REASONS


def test_every_contract_reason_is_covered():
    assert set(REJECT_REASONS) == set(CASES) | {"replayed", "overloaded", "storage_refused"}  # stateful; the worker


def test_quantity_not_measured_at_the_station_is_unknown():
    with pytest.raises(DecodeError, match="measured at gauge-hochtal") as err:
        make_validator().validate(TOPIC, encode_json(NOW, 1, {"turbidity": (3.0, "NTU")}), NOW)
    assert err.value.reason == "unknown_quantity"


def test_before_commissioning_is_too_old():
    v = Validator(CATALOG, IngestSettings(max_late_s=1e12), 4096)
    with pytest.raises(DecodeError, match="commissioned"):
        v.validate(TOPIC, good(ts=900_000_000.0), NOW)


def test_accepted_message_is_converted_to_canonical_units():
    obs = make_validator().validate(TOPIC, good(seq=3), NOW)
    assert (obs.partner, obs.station, obs.seq, obs.time_ns) == ("rivertown", "gauge-hochtal", 3, int(NOW) * 10**9)
    assert dict(obs.values) == {"water_level": pytest.approx(3.048), "discharge": pytest.approx(1.0, rel=1e-5)}


def test_senml_payload_is_accepted():
    payload = encode_senml("rivertown", "gauge-hochtal", NOW, 5, {"water_level": (150.0, "cm")})
    assert make_validator().validate(TOPIC, payload, NOW).values == (("water_level", 1.5),)


def test_replayed_and_seq_reset():
    v = make_validator()
    v.validate(TOPIC, good(seq=10, ts=NOW - 60), NOW)
    with pytest.raises(DecodeError) as err:
        v.validate(TOPIC, good(seq=10, ts=NOW - 60), NOW)
    assert err.value.reason == "replayed"
    # seq 9 was never seen: it arrives late (out of order) and is accepted once
    assert v.validate(TOPIC, good(seq=9, ts=NOW - 120), NOW).seq == 9
    with pytest.raises(DecodeError):
        v.validate(TOPIC, good(seq=9, ts=NOW - 120), NOW)
    # a device that restarts counts from 0 again, with a newer timestamp: accepted
    assert v.validate(TOPIC, good(seq=0, ts=NOW - 30), NOW).seq == 0
    # late (older timestamp) but a new sequence number: accepted
    assert v.validate(TOPIC, good(seq=1, ts=NOW - 40), NOW).seq == 1


def test_status_messages_are_tracked_not_readings():
    v = make_validator()
    assert v.validate("rw/v1/rivertown/gauge-hochtal/status", b"offline", NOW) is None
    assert v.status[("rivertown", "gauge-hochtal")] == ("offline", NOW)
    # a gateway of a known partner has its own status topic; a cleared retained status is ignored
    assert v.validate("rw/v1/lacville/gateway-7/status", b"online", NOW) is None
    assert v.status[("lacville", "gateway-7")] == ("online", NOW)
    assert v.validate("rw/v1/lacville/gateway-7/status", b"", NOW) is None
    with pytest.raises(DecodeError) as err:
        v.validate("rw/v1/nowhere/gauge-1/status", b"online", NOW)
    assert err.value.reason == "unknown_station"
    with pytest.raises(DecodeError) as err:
        v.validate("rw/v1/rivertown/gauge-hochtal/status", b"sleepy", NOW)
    assert err.value.reason == "bad_schema"


def test_a_message_is_accepted_or_rejected_as_a_whole():
    v = make_validator()
    bad = encode_json(NOW, 1, {"water_level": (1.0, "m"), "discharge": (1.0, "gallons")})
    with pytest.raises(DecodeError):
        v.validate(TOPIC, bad, NOW)
    assert v.clocks == {}  # nothing of the rejected message was remembered


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)
messages = st.fixed_dictionaries({}, optional={
    "ts": st.one_of(st.floats(), st.integers(), st.text(max_size=30), st.just("2027-01-15T08:00:00Z")),
    "seq": st.one_of(st.integers(), st.text(max_size=3), st.none()),
    "partner": json_values, "station": json_values,
    "readings": st.dictionaries(st.sampled_from(["water_level", "discharge", "ph", "x"]),
                                st.fixed_dictionaries({}, optional={"value": json_values,
                                                                    "unit": st.sampled_from(["m", "ft", "cfs", "", "?"])}),
                                max_size=3) | json_values})


@settings(max_examples=300, deadline=None)
@given(topic=st.sampled_from([TOPIC, "rw/v1/lacville/wq-lacville/data", "rw/v1/x/y/status", "a/b"]),
       payload=st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_decode_error(topic, payload):
    try:
        make_validator().validate(topic, payload, NOW)
    except DecodeError as exc:
        assert exc.reason in REJECT_REASONS


@settings(max_examples=400, deadline=None)
@given(doc=messages | json_values)
def test_arbitrary_json_only_raises_decode_error(doc):
    try:
        make_validator().validate(TOPIC, json.dumps(doc).encode(), NOW)
    except DecodeError as exc:
        assert exc.reason in REJECT_REASONS


# --------------------------------------------------------------------------- the validator with the catalog

from riverwatch.units import QUANTITIES  # noqa: E402

names = st.sampled_from(sorted({s.partner for s in CATALOG.stations} | {s.id for s in CATALOG.stations})) | st.text(
    max_size=70)
topics = st.one_of(
    st.builds(lambda p, s, ch: f"rw/v1/{p}/{s}/{ch}", names, names, st.sampled_from(["data", "status", "x", ""])),
    st.sampled_from([f"rw/v1/{s.partner}/{s.id}/data" for s in CATALOG.stations]),
    st.text(max_size=80))
quantities = st.sampled_from(sorted(QUANTITIES)) | st.text(max_size=20)
units = st.sampled_from(sorted({u for q in QUANTITIES.values() for u in q.units})) | st.text(max_size=8)
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.text(max_size=10) | st.none() | st.booleans()
timestamps = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans(), st.none(),
                       st.text(max_size=45), st.just(NOW), st.just(NOW + 1e6), st.just(0), st.just(-1e300),
                       st.datetimes().map(lambda d: d.isoformat() + "Z"))
catalog_messages = st.fixed_dictionaries(
    {"ts": timestamps, "seq": st.integers(min_value=-5, max_value=2**70) | numbers,
     "readings": st.dictionaries(quantities, st.fixed_dictionaries({"value": numbers, "unit": units}),
                                 max_size=6) | json_values},
    optional={"partner": names | json_values, "station": names | json_values})


def _encode(doc) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()  # NaN/Infinity as bare tokens, as sloppy devices send


@settings(max_examples=500, deadline=None)
@given(topic=topics, docs=st.lists(catalog_messages, min_size=1, max_size=4), now=st.floats(1e9, 2.5e9))
def test_any_topic_and_payload_against_the_catalog_only_raises_decode_error(topic, docs, now):
    v = make_validator()
    for doc in docs:
        try:
            obs = v.validate(topic, _encode(doc), now)
        except DecodeError as exc:
            assert exc.reason in REJECT_REASONS
        else:
            if obs is not None:  # an accepted message is in the catalog, finite and canonical
                station = CATALOG.station(obs.partner, obs.station)
                assert station is not None and all(q in station.quantities for q, _ in obs.values)
                assert all(isinstance(x, float) and x == x and abs(x) != float("inf") for _, x in obs.values)


@settings(max_examples=200, deadline=None)
@given(topic=topics, payload=st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_any_topic_and_bytes_against_the_catalog_only_raise_decode_error(topic, payload):
    try:
        make_validator().validate(topic, payload, NOW)
    except DecodeError as exc:
        assert exc.reason in REJECT_REASONS


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
def test_bare_non_finite_tokens_are_not_finite_not_bad_json(token):
    payload = b'{"ts": 1800000000, "seq": 1, "readings": {"water_level": {"value": ' + token + b', "unit": "m"}}}'
    with pytest.raises(DecodeError) as err:
        make_validator().validate(TOPIC, payload, NOW)
    assert err.value.reason == "not_finite"
    with pytest.raises(DecodeError) as err:
        make_validator().validate(TOPIC, b'{"value": NaN, oops', NOW)
    assert err.value.reason == "bad_json"


# ---------------------------------------------------------------- fast path == contract


from datetime import datetime, timedelta, timezone  # noqa: E402

import orjson  # noqa: E402
from hypothesis import given, settings as hsettings, strategies as hst  # noqa: E402

from riverwatch.contract import decode_payload, format_time  # noqa: E402

from ingest.validate import fast_decode, fast_time  # noqa: E402


@hsettings(max_examples=300, deadline=None)
@given(hst.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)), hst.booleans())
def test_fast_time_equals_fromisoformat(when, millis):
    text = when.strftime("%Y-%m-%dT%H:%M:%S") + (f".{when.microsecond // 1000:03d}" if millis else "") + "Z"
    assert fast_time(text) == datetime.fromisoformat(text).timestamp()


def test_fast_time_declines_what_it_does_not_know():
    for text in ("2026-11-22T12:00:00+01:00", "2026-11-22 12:00:00Z", "2026-02-30T00:00:00Z",
                 "2026-11-22T24:00:00Z", "2026-11-22T12:00:00.1Z", "2026-11-22T12:00:00.123456Z", "２０26-11-22T12:00:00Z"):
        assert fast_time(text) is None


_values = hst.one_of(hst.floats(allow_nan=False, allow_infinity=False), hst.integers(-2**60, 2**60),
                     hst.none(), hst.text(max_size=3), hst.booleans())


@hsettings(max_examples=300, deadline=None)
@given(ts=hst.one_of(hst.floats(0, 4e9).map(format_time), hst.floats(allow_nan=False, allow_infinity=False),
                     hst.integers(-2**60, 2**60), hst.text(max_size=30), hst.booleans(), hst.none()),
       seq=hst.one_of(hst.integers(-5, 2**40), hst.booleans(), hst.none(), hst.floats(0, 10)),
       readings=hst.dictionaries(hst.sampled_from(["water_level", "ph", "turbidity"]),
                                 hst.fixed_dictionaries({"value": _values, "unit": hst.sampled_from(["m", "pH", 1])}),
                                 max_size=3),
       partner=hst.one_of(hst.none(), hst.just("rivertown"), hst.integers(-5, 5)))
def test_fast_decode_agrees_with_the_contract(ts, seq, readings, partner):
    doc = {"ts": ts, "seq": seq, "readings": readings}
    if partner is not None:
        doc["partner"] = partner
    payload = orjson.dumps(doc)
    fast = fast_decode(orjson.loads(payload))
    try:
        raw = decode_payload(payload)
    except Exception:
        assert fast is None
        return
    if fast is not None:
        assert fast == (raw.time_s, raw.seq, raw.values, raw.partner, raw.station)


def test_late_and_out_of_order_readings_are_accepted_once():
    """A backlog resent after a reconnect may overtake newer readings: each is stored once."""
    from ingest.validate import REPLAY_WINDOW, StreamClock

    clock = StreamClock(10, 1000.0)
    assert [clock.accept(s, 1000.0 + s) for s in (12, 11, 11, 10, 13)] == [True, True, False, False, True]
    assert clock.accept(13 - REPLAY_WINDOW, 900.0) is True  # older than the window: late, accepted once
    assert clock.accept(13 - REPLAY_WINDOW, 900.0) is False
    assert clock.accept(0, 5000.0) is True  # a restarted counter with a newer timestamp


def test_a_huge_seq_jump_costs_no_memory_and_is_accepted():
    """A device (or a hostile payload) jumping its counter by 2**40 must not allocate a 2**40-bit window."""
    from ingest.validate import REPLAY_WINDOW, StreamClock

    clock = StreamClock(1, 1000.0)
    assert clock.accept(1 + 2**40, 1001.0) is True
    assert clock.seen.bit_length() <= REPLAY_WINDOW
    assert clock.accept(1 + 2**40, 1001.0) is False
    v = make_validator()
    v.validate(TOPIC, good(seq=1), NOW)
    assert v.validate(TOPIC, good(seq=2**62, ts=NOW + 1), NOW + 1).seq == 2**62


def test_status_of_uncatalogued_ids_is_bounded():
    """Hostile status topics with ever new ids of a known partner must not grow memory without bound."""
    v = make_validator()
    for i in range(20_000):
        assert v.validate(f"rw/v1/lacville/gw-{i}/status", b"online", NOW) is None
    assert v.validate("rw/v1/rivertown/gauge-hochtal/status", b"online", NOW) is None
    assert v.status[("rivertown", "gauge-hochtal")] == ("online", NOW)
    assert v.status[("lacville", "gw-0")] == ("online", NOW)  # the first gateways are still tracked
    assert len(v.status) <= len(CATALOG.stations) + 5_000


# --- issue 12: readings that were accepted, acknowledged and then dropped ------------------------

WQ_TOPIC = "rw/v1/lacville/wq-lacville/data"
WX_TOPIC = "rw/v1/rivertown/wx-rivertown/data"


@pytest.mark.parametrize("topic, quantity, value, unit", [
    (WQ_TOPIC, "conductivity", 1e306, "mS/cm"),
    (WX_TOPIC, "precipitation", 1e308, "in"),
])
def test_a_value_that_overflows_in_its_canonical_unit_is_not_finite(topic, quantity, value, unit):
    v = make_validator()
    with pytest.raises(DecodeError) as err:
        v.validate(topic, encode_json(NOW, 7, {quantity: (value, unit)}), NOW)
    assert err.value.reason == "not_finite"
    assert v.clocks == {}  # the rejected message moved no replay state
    assert v.validate(topic, encode_json(NOW, 7, {quantity: (1.0, unit)}), NOW).seq == 7


@pytest.mark.parametrize("seq", [2**63, 2**64 - 1, -1, 18446744073709551621])
def test_a_seq_outside_int64_is_rejected_and_moves_no_replay_state(seq):
    v = make_validator()
    v.validate(TOPIC, good(seq=10, ts=NOW - 60), NOW)
    json_text = b'{"ts": %.0f, "seq": %d, "readings": {"water_level": {"value": 1.0, "unit": "m"}}}' % (NOW - 30, seq)
    senml_text = b'[{"bn": "urn:dev:rw:rivertown:gauge-hochtal:", "bt": %.0f, "n": "seq", "v": %d},' \
                 b' {"n": "water_level", "u": "m", "v": 1.0}]' % (NOW - 30, seq)
    for payload in (json_text, senml_text):
        with pytest.raises(DecodeError) as err:
            v.validate(TOPIC, payload, NOW)
        assert err.value.reason == "bad_seq"
    clock = v.clocks[("rivertown", "gauge-hochtal")]
    assert (clock.seq, clock.time_s) == (10, NOW - 60)
    assert v.validate(TOPIC, good(seq=11, ts=NOW - 20), NOW).seq == 11
    assert v.validate(TOPIC, good(seq=2**63 - 1, ts=NOW - 10), NOW).seq == 2**63 - 1  # the largest allowed


def with_ts(ts: str) -> bytes:
    return raw({"ts": ts, "seq": 1, "readings": {"water_level": {"value": 1.0, "unit": "m"}}})


@pytest.mark.parametrize("ts", ["20261201T104213Z", "2026-12-01 10:42:23+00:00", "2026-W49-2T10:42:33Z",
                                "2026-12-01T10:42:13", "2026-12-01T10:42Z", "2026-12-01T10:42:13+0100",
                                "2026-335T10:42:13Z", "2026-12-01T10:42:13.Z", "2026-12-01T10:42:60Z",
                                "２０２６-12-01T10:42:13Z"])
def test_timestamps_that_are_not_rfc3339_are_bad_timestamps(ts):
    with pytest.raises(DecodeError) as err:
        make_validator().validate(TOPIC, with_ts(ts), 1_796_200_000.0)
    assert err.value.reason == "bad_timestamp"


@pytest.mark.parametrize("ts, expected", [
    ("2026-12-01T10:42:13Z", 1_796_121_733.0), ("2026-12-01t10:42:13z", 1_796_121_733.0),
    ("2026-12-01T11:42:13.25+01:00", 1_796_121_733.25), ("2026-12-01T10:42:13.123456789-00:00", 1_796_121_733.123456),
])
def test_rfc3339_timestamps_are_accepted(ts, expected):
    obs = make_validator().validate(TOPIC, with_ts(ts), 1_796_200_000.0)
    assert obs.time_ns == round(expected * 1e6) * 1000


def test_a_senml_pack_naming_another_station_is_a_topic_mismatch():
    v = make_validator()
    other = encode_senml("lacville", "gauge-lacville", NOW, 5, {"water_level": (1.0, "m")})
    with pytest.raises(DecodeError) as err:
        v.validate(TOPIC, other, NOW)
    assert err.value.reason == "topic_mismatch"
    mixed = raw([{"bn": "urn:dev:rw:rivertown:gauge-hochtal:", "bt": NOW, "n": "seq", "v": 5},
                 {"n": "water_level", "u": "m", "v": 1.0},
                 {"bn": "urn:dev:rw:lacville:gauge-lacville:", "n": "discharge", "u": "m3/s", "v": 2.0}])
    with pytest.raises(DecodeError) as err:
        v.validate(TOPIC, mixed, NOW)
    assert err.value.reason == "topic_mismatch"
    assert v.clocks == {}
    own = encode_senml("rivertown", "gauge-hochtal", NOW, 5, {"water_level": (1.0, "m")})
    assert v.validate(TOPIC, own, NOW).values == (("water_level", 1.0),)


def test_a_senml_pack_with_one_quantity_twice_is_rejected_not_halved():
    v = make_validator()
    payload = CASES["duplicate_quantity"][1]
    with pytest.raises(DecodeError, match="water_level appears twice") as err:
        v.validate(TOPIC, payload, NOW)
    assert err.value.reason == "duplicate_quantity" and v.clocks == {}


def test_a_float_seq_without_fraction_is_accepted_and_remembered_as_an_integer():
    v = make_validator()
    doc = {"ts": NOW, "seq": 1.0, "readings": {"water_level": {"value": 1.0, "unit": "m"}}}
    obs = v.validate(TOPIC, raw(doc), NOW)
    assert obs.seq == 1 and type(obs.seq) is int
    with pytest.raises(DecodeError) as err:  # the same reading again, with an integer seq: a replay
        v.validate(TOPIC, raw({**doc, "seq": 1}), NOW)
    assert err.value.reason == "replayed"
    with pytest.raises(DecodeError, match="1.5") as err:
        v.validate(TOPIC, raw({**doc, "seq": 1.5}), NOW)
    assert err.value.reason == "bad_schema"


def test_a_senml_base_value_is_stored_added_not_ignored():
    pack = [{"bn": "urn:dev:rw:rivertown:gauge-hochtal:", "bt": NOW, "n": "seq", "v": 1},
            {"bv": 100, "n": "water_level", "u": "cm", "v": 32}]
    assert make_validator().validate(TOPIC, raw(pack), NOW).values == (("water_level", 1.32),)
