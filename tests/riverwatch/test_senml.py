"""SenML (RFC 8428): the RFC's own examples resolve as the RFC says; base fields, sums, versions and
must-understand fields are honoured by the contract's decoder."""

from __future__ import annotations

import pytest

from riverwatch.contract import REJECT_REASONS, decode_payload, decode_senml
from riverwatch.errors import DecodeError
from riverwatch.senml import SENML_VERSION, resolve_senml

NOW = 1_800_000_000.0
URN = "urn:dev:rw:rivertown:gauge-hochtal:"

# RFC 8428 section 5.1.1, single datapoint
RFC_SINGLE = [{"n": "urn:dev:ow:10e2073a01080063", "u": "Cel", "v": 23.1}]
# section 5.1.2, multiple datapoints
RFC_MULTIPLE_DATAPOINTS = [{"bn": "urn:dev:ow:10e2073a01080063:", "n": "voltage", "u": "V", "v": 120.1},
                           {"n": "current", "u": "A", "v": 1.2}]
# section 5.1.3, multiple measurements (note bver 5 and the base unit A)
RFC_MULTIPLE_MEASUREMENTS = [
    {"bn": "urn:dev:ow:10e2073a0108006:", "bt": 1.276020076001e+09, "bu": "A", "bver": 5,
     "n": "voltage", "u": "V", "v": 120.1},
    {"n": "current", "t": -5, "v": 1.2}, {"n": "current", "t": -4, "v": 1.3}, {"n": "current", "t": -3, "v": 1.4},
    {"n": "current", "t": -2, "v": 1.5}, {"n": "current", "t": -1, "v": 1.6}, {"n": "current", "v": 1.7}]


def test_rfc_single_datapoint_resolves_to_itself_at_relative_time_zero():
    assert resolve_senml(RFC_SINGLE) == [{"n": "urn:dev:ow:10e2073a01080063", "t": 0.0, "u": "Cel", "v": 23.1}]


def test_rfc_multiple_datapoints_take_the_base_name():
    names = [(r["n"], r["u"], r["v"]) for r in resolve_senml(RFC_MULTIPLE_DATAPOINTS)]
    assert names == [("urn:dev:ow:10e2073a01080063:voltage", "V", 120.1),
                     ("urn:dev:ow:10e2073a01080063:current", "A", 1.2)]


def test_rfc_multiple_measurements_take_base_time_unit_and_version():
    resolved = resolve_senml(RFC_MULTIPLE_MEASUREMENTS)
    assert resolved[0] == {"n": "urn:dev:ow:10e2073a0108006:voltage", "t": 1.276020076001e+09, "u": "V", "v": 120.1}
    currents = resolved[1:]
    assert {r["n"] for r in currents} == {"urn:dev:ow:10e2073a0108006:current"}
    assert {r["u"] for r in currents} == {"A"}  # bu applies where u is missing
    assert [r["t"] - 1.276020076001e+09 for r in currents] == pytest.approx([-5, -4, -3, -2, -1, 0])
    assert [r["v"] for r in currents] == [1.2, 1.3, 1.4, 1.5, 1.6, 1.7]
    assert all("bver" not in r and "bn" not in r for r in resolved)


def test_rfc_examples_against_the_contract_name_what_is_missing():
    # the RFC's examples are valid SenML but not riverwatch packs: no seq, times relative or several
    with pytest.raises(DecodeError, match="seq") as err:
        decode_senml(RFC_SINGLE)
    assert err.value.reason == "bad_schema"
    with pytest.raises(DecodeError, match="one instant") as err:
        decode_senml(RFC_MULTIPLE_MEASUREMENTS + [{"n": "seq", "v": 1}])
    assert err.value.reason == "bad_schema"
    with pytest.raises(DecodeError, match="absolute") as err:
        decode_senml(RFC_MULTIPLE_DATAPOINTS + [{"n": "seq", "v": 1}])
    assert err.value.reason == "bad_timestamp"


def test_base_value_is_added_to_each_value():
    pack = [{"bn": URN, "bt": NOW, "n": "seq", "v": 3},
            {"bv": 100, "n": "water_level", "u": "cm", "v": 32}, {"n": "discharge", "u": "m3/s", "v": 5}]
    raw = decode_senml(pack)
    assert dict((q, v) for q, v, _ in raw.values) == {"water_level": 132.0, "discharge": 105.0}
    assert raw.seq == 3  # bv set after the seq record does not touch it


def test_base_time_and_offsets_resolve_to_one_instant():
    pack = [{"bn": URN, "bt": NOW - 10, "n": "seq", "v": 3}, {"n": "water_level", "u": "m", "v": 1.0, "t": 10},
            {"bt": NOW, "n": "discharge", "u": "m3/s", "v": 2.0}]
    assert decode_senml(pack).time_s == NOW


def test_base_unit_applies_until_changed_and_a_unit_overrides_it():
    pack = [{"bn": URN, "bt": NOW, "bu": "cm", "n": "seq", "v": 3}, {"n": "water_level", "v": 132},
            {"n": "discharge", "u": "m3/s", "v": 2.0}, {"bu": "degC", "n": "water_temperature", "v": 11.0}]
    assert decode_senml(pack).values == [("water_level", 132.0, "cm"), ("discharge", 2.0, "m3/s"),
                                         ("water_temperature", 11.0, "degC")]


@pytest.mark.parametrize("version", [5, 10, 10.0])
def test_known_senml_versions_are_read(version):
    pack = [{"bn": URN, "bt": NOW, "bver": version, "n": "seq", "v": 3}, {"n": "water_level", "u": "m", "v": 1.0}]
    assert decode_senml(pack).values == [("water_level", 1.0, "m")]


def test_a_newer_senml_version_is_refused_as_must_understand():
    pack = [{"bn": URN, "bt": NOW, "bver": SENML_VERSION + 1, "n": "seq", "v": 3},
            {"n": "water_level", "u": "m", "v": 1.0}]
    with pytest.raises(DecodeError, match="version 11") as err:
        decode_senml(pack)
    assert err.value.reason == "must_understand" and err.value.reason in REJECT_REASONS


def test_an_unknown_must_understand_field_is_refused_and_an_unknown_plain_one_ignored():
    base = [{"bn": URN, "bt": NOW, "n": "seq", "v": 3}]
    with pytest.raises(DecodeError, match="'crc_'") as err:
        decode_payload(b'[{"bn": "%s", "bt": %r, "n": "seq", "v": 3},'
                       b' {"n": "water_level", "u": "m", "v": 1.0, "crc_": 7}]' % (URN.encode(), NOW))
    assert err.value.reason == "must_understand"
    assert decode_senml(base + [{"n": "water_level", "u": "m", "v": 1.0, "crc": 7}]).values == [
        ("water_level", 1.0, "m")]


def test_a_sum_is_not_a_reading():
    """A record with only ``s`` is skipped (a running total is not a reading); its base sum is honoured
    when it has a value too; a pack of sums only is refused as ``sum_only``, not ``not_finite``."""
    pack = [{"bn": URN, "bt": NOW, "n": "seq", "v": 3}, {"n": "water_level", "u": "m", "v": 1.0},
            {"bs": 1000, "n": "precipitation", "u": "mm", "s": 12.5}]
    assert decode_senml(pack).values == [("water_level", 1.0, "m")]
    with_both = [{"bn": URN, "bt": NOW, "n": "seq", "v": 3}, {"n": "precipitation", "u": "mm", "v": 0.4, "s": 12.5}]
    assert decode_senml(with_both).values == [("precipitation", 0.4, "mm")]
    assert resolve_senml([{"bs": 1000, "n": "p", "s": 12.5}])[0]["s"] == 1012.5
    with pytest.raises(DecodeError, match="precipitation") as err:
        decode_senml([{"bn": URN, "bt": NOW, "n": "seq", "v": 3}, {"n": "precipitation", "u": "mm", "s": 12.5}])
    assert err.value.reason == "sum_only" and err.value.reason in REJECT_REASONS


@pytest.mark.parametrize("seq, expected", [(1.0, 1), (42.0, 42), (0.0, 0)])
def test_an_integral_float_seq_is_accepted(seq, expected):
    pack = [{"bn": URN, "bt": NOW, "n": "seq", "v": seq}, {"n": "water_level", "u": "m", "v": 1.0}]
    assert decode_senml(pack).seq == expected and type(decode_senml(pack).seq) is int
    doc = b'{"ts": %r, "seq": %r, "readings": {"ph": {"value": 7, "unit": "pH"}}}' % (NOW, seq)
    assert decode_payload(doc).seq == expected


@pytest.mark.parametrize("seq", [1.5, 0.1, "1", True])
def test_a_fractional_or_non_numeric_seq_is_refused(seq):
    doc = {"ts": NOW, "seq": seq, "readings": {"ph": {"value": 7, "unit": "pH"}}}
    import orjson
    with pytest.raises(DecodeError) as err:
        decode_payload(orjson.dumps(doc))
    assert err.value.reason == "bad_schema"


def test_string_values_are_named_not_called_missing():
    pack = [{"bn": URN, "bt": NOW, "n": "seq", "v": 3}, {"n": "water_level", "u": "m", "vs": "high"}]
    with pytest.raises(DecodeError, match="vs values are not accepted") as err:
        decode_senml(pack)
    assert err.value.reason == "not_finite"
