"""The wire contract: topics, JSON and SenML codecs, reject reasons."""

import math

import orjson
import pytest
from hypothesis import given, settings, strategies as st

from riverwatch import contract
from riverwatch.errors import DecodeError


def test_json_payload_round_trips():
    payload = contract.encode_json(1_795_348_800.5, 42, {"water_level": (1.25, "m"), "discharge": (300, "cfs")},
                                   partner="rivertown", station="gauge-1")
    raw = contract.decode_payload(payload)
    assert raw.time_s == 1_795_348_800.5
    assert raw.seq == 42
    assert raw.values == [("water_level", 1.25, "m"), ("discharge", 300.0, "cfs")]
    assert (raw.partner, raw.station) == ("rivertown", "gauge-1")


def test_senml_pack_round_trips():
    payload = contract.encode_senml("lacville", "wq-1", 1_795_348_800.0, 5, {"ph": (7.2, "pH"), "turbidity": (3.0, "FNU")})
    raw = contract.decode_payload(payload)
    assert raw.seq == 5 and raw.time_s == 1_795_348_800.0
    assert sorted(raw.values) == [("ph", 7.2, "pH"), ("turbidity", 3.0, "FNU")]


@pytest.mark.parametrize("topic, expected", [
    ("rw/v1/rivertown/gauge-1/data", ("rivertown", "gauge-1", "data")),
    ("rw/v1/lacville/wx.2/status", ("lacville", "wx.2", "status")),
])
def test_topic_parses(topic, expected):
    assert contract.parse_topic(topic) == expected


@pytest.mark.parametrize("topic", ["rw/v2/a/b/data", "rw/v1/a/data", "rw/v1/a/b/c/data", "rw/v1/+/b/data",
                                   "rw/v1/a/b/rejected", "", "rw/v1/" + "x" * 65 + "/b/data"])
def test_bad_topics_are_rejected(topic):
    with pytest.raises(DecodeError) as err:
        contract.parse_topic(topic)
    assert err.value.reason == "topic_invalid"


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe garbage", "bad_encoding"),
    (b"{not json", "bad_json"),
    (b"42", "bad_schema"),
    (b'{"seq": 1, "readings": {"ph": {"value": 7, "unit": "pH"}}}', "bad_schema"),
    (b'{"ts": "yesterday", "seq": 1, "readings": {"ph": {"value": 7, "unit": "pH"}}}', "bad_timestamp"),
    (b'{"ts": "2026-11-22T12:00:00", "seq": 1, "readings": {"ph": {"value": 7, "unit": "pH"}}}', "bad_timestamp"),
    (b'{"ts": 1.7e9, "seq": -1, "readings": {"ph": {"value": 7, "unit": "pH"}}}', "bad_seq"),
    (b'{"ts": 1.7e9, "seq": 1.5, "readings": {"ph": {"value": 7, "unit": "pH"}}}', "bad_schema"),
    (b'{"ts": 1.7e9, "seq": 1, "readings": {}}', "bad_schema"),
    (b'{"ts": 1.7e9, "seq": 1, "readings": {"ph": 7}}', "bad_schema"),
    (b'{"ts": 1.7e9, "seq": 1, "readings": {"ph": {"value": "NaN", "unit": "pH"}}}', "not_finite"),
    (b'{"ts": 1.7e9, "seq": 1, "readings": {"ph": {"value": null, "unit": "pH"}}}', "not_finite"),
    (b'{"ts": 1.7e9, "seq": 1, "readings": {"ph": {"value": true, "unit": "pH"}}}', "not_finite"),
    (b'{"ts": 1.7e9, "seq": 1, "readings": {"ph": {"value": 7}}}', "bad_schema"),
    (b"[" * 5000 + b"]" * 5000, "bad_json"),
    (b'[{"bn": "x:", "bt": 1.7e9, "n": "ph", "u": "pH", "v": 7}]', "bad_schema"),
    (b'[{"bn": "x:", "bt": 10, "n": "ph", "u": "pH", "v": 7}, {"n": "seq", "v": 1}]', "bad_timestamp"),
    (b'[{"bn": "x:", "bt": 1.7e9, "n": "ph", "u": "pH", "v": 7, "t": 1},'
     b' {"n": "ph2", "u": "pH", "v": 7}, {"n": "seq", "v": 1}]', "bad_schema"),
])
def test_malformed_payloads_get_a_reason(payload, reason):
    with pytest.raises(DecodeError) as err:
        contract.decode_payload(payload)
    assert err.value.reason == reason
    assert err.value.reason in contract.REJECT_REASONS


def test_reject_body_names_reason_and_excerpt():
    body = orjson.loads(contract.encode_reject("oversize", "too big", "rw/v1/a/b/data", b"x" * 1000, 0.0))
    assert body["reason"] == "oversize" and body["size"] == 1000
    assert len(body["payload_excerpt"]) == 256


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_decode_error(payload):
    try:
        raw = contract.decode_payload(payload)
    except DecodeError as err:
        assert err.reason in contract.REJECT_REASONS
    else:
        assert all(math.isfinite(v) for _, v, _ in raw.values)


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=10),
                           lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
                           max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["ts", "seq", "readings", "partner", "station", "x"]), json_values, max_size=6))
def test_arbitrary_json_objects_only_ever_raise_decode_error(doc):
    try:
        contract.decode_payload(orjson.dumps(doc))
    except DecodeError as err:
        assert err.reason in contract.REJECT_REASONS


def test_ack_topics_parse_and_refuse_wildcards_and_extra_levels():
    from riverwatch.ack_contract import ack_topic, parse_ack_topic
    assert parse_ack_topic(ack_topic("lacville", "rivertown.g.flood.1")) == ("lacville", "rivertown.g.flood.1")
    for bad in ("rw/v1/lacville/ack/+", "rw/v1/lacville/ack/a/b", "rw/v1/lacville/data/x",
                "rw/v2/lacville/ack/x", "rw/v1/#/ack/x", "rw/v1/lacville/ack/"):
        assert parse_ack_topic(bad) is None, bad
