"""The MQTT wire contract, version 1: topics, payload codecs and reject reasons.

This module is the one place that knows what travels on the wire; ``docs/mqtt-contract.md`` is its
human-readable twin. Devices publish one message per station and instant::

    rw/v1/<partner>/<station>/data      JSON (below) or SenML (RFC 8428), QoS 1
    rw/v1/<partner>/<station>/status    "online" / "offline" (retained; the last will)

    {"ts": "2026-11-22T12:00:00Z", "seq": 42,
     "readings": {"water_level": {"value": 1.23, "unit": "m"}}}

riverwatch publishes back::

    rw/v1/<partner>/<station>/rejected          {"reason": ..., "detail": ..., ...}
    rw/v1/<partner>/<station>/warning/<hazard>  warning JSON (retained)
    rw/v1/<partner>/<station>/cap/<hazard>      CAP 1.2 XML (retained)

Examples
--------
>>> payload = encode_json(1_700_000_000.0, 7, {"water_level": (1.25, "m")})
>>> raw = decode_payload(payload)
>>> raw.time_s, raw.seq, raw.values
(1700000000.0, 7, [('water_level', 1.25, 'm')])
>>> parse_topic("rw/v1/rivertown/gauge-1/data")
('rivertown', 'gauge-1', 'data')
>>> decode_payload(b'{"ts": 1}').seq
Traceback (most recent call last):
...
riverwatch.errors.DecodeError: bad_schema: "seq" is missing
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from datetime import datetime, timezone

import orjson

from riverwatch.errors import DecodeError
from riverwatch.senml import resolve_senml

if TYPE_CHECKING:
    from riverwatch.model import WarningEvent

VERSION = "v1"
ROOT = f"rw/{VERSION}"
DATA_SUBSCRIPTION = f"{ROOT}/+/+/data"
STATUS_SUBSCRIPTION = f"{ROOT}/+/+/status"
SYSTEM_PARTNER = "_system"
MAX_VALUES = 64
#: The largest ``seq``: InfluxDB stores it as a signed 64-bit integer.
MAX_SEQ = 2**63 - 1
#: SenML names under this prefix say which station they belong to: ``urn:dev:rw:<partner>:<station>:``.
SENML_URN = "urn:dev:rw:"

#: Reject codes, as published in ``rejected`` messages and counted in metrics.
REJECT_REASONS: dict[str, str] = {
    "topic_invalid": "the topic does not follow rw/v1/<partner>/<station>/data",
    "oversize": "the payload is larger than the configured maximum",
    "bad_encoding": "the payload is not UTF-8 text",
    "bad_json": "the payload is not valid JSON",
    "bad_schema": "the JSON is valid but not shaped as the contract says",
    "bad_seq": "the sequence number is negative or above 2^63 - 1",
    "duplicate_quantity": "a SenML pack carries one quantity twice for the same instant",
    "must_understand": "a SenML record carries a field riverwatch must understand but does not "
                       "(a name ending in '_', RFC 8428 section 4.4) or a newer SenML version (bver)",
    "sum_only": "a SenML pack carries sums (s) but no value (v) of any quantity: a sum is not a reading",
    "unknown_station": "the partner/station pair is not in the station catalog",
    "topic_mismatch": "the partner or station in the payload differs from the topic",
    "unknown_quantity": "a quantity is not in the contract or not measured at this station",
    "unknown_unit": "a unit is not accepted for its quantity",
    "not_finite": "a value is NaN, Infinity or not a number",
    "bad_timestamp": "the timestamp is not RFC 3339 text with an offset, nor epoch seconds",
    "future_timestamp": "the timestamp is further in the future than the allowed clock skew",
    "too_old": "the timestamp is before the station existed or older than the late window",
    "replayed": "the sequence number was already accepted and the timestamp is not newer than the last one",
    "overloaded": "the worker's queue was full and the message was sent with QoS 0, so it was dropped",
    "storage_refused": "InfluxDB refused a reading the worker had accepted (it was dropped, never counted as stored)",
}

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
NAME_PATTERN = re.compile(f"^{_NAME}$")
_TOPIC = re.compile(rf"^rw/v1/({_NAME})/({_NAME})/(data|status)$")
# RFC 3339 section 5.6 date-time, exactly: "T"/"t", optional fraction, "Z"/"z" or a numeric offset.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII)


@dataclass(slots=True)
class RawMessage:
    """A payload parsed but not yet checked against the catalog (units not converted).

    ``values`` holds ``(quantity, value, unit)``; ``partner``/``station`` are what the payload
    claims, if anything.
    """

    time_s: float
    seq: int
    values: list[tuple[str, float, str]]
    partner: str | None = None
    station: str | None = None


def data_topic(partner: str, station: str) -> str:
    """Topic a station publishes its readings on.

    >>> data_topic("lacville", "wq-2")
    'rw/v1/lacville/wq-2/data'
    """
    return f"{ROOT}/{partner}/{station}/data"


def status_topic(partner: str, station: str) -> str:
    """Topic of the station's retained ``online``/``offline`` status and last will."""
    return f"{ROOT}/{partner}/{station}/status"


def rejected_topic(partner: str | None, station: str | None) -> str:
    """Topic where rejects of a station's messages are published (``_system`` when unknown).

    >>> rejected_topic(None, None)
    'rw/v1/_system/_unknown/rejected'
    """
    return f"{ROOT}/{partner or SYSTEM_PARTNER}/{station or '_unknown'}/rejected"


def warning_topic(partner: str, station: str, hazard: str) -> str:
    """Retained topic of the open warning (JSON) for one station and hazard."""
    return f"{ROOT}/{partner}/{station}/warning/{hazard}"


def cap_topic(partner: str, station: str, hazard: str) -> str:
    """Retained topic of the same warning as CAP 1.2 XML."""
    return f"{ROOT}/{partner}/{station}/cap/{hazard}"


def parse_topic(topic: str) -> tuple[str, str, str]:
    """Split a device topic into ``(partner, station, channel)``.

    Raises
    ------
    DecodeError
        ``topic_invalid`` for anything else.
    """
    match = _TOPIC.match(topic)
    if match is None:
        raise DecodeError("topic_invalid", f"topic {topic[:200]!r} is not rw/v1/<partner>/<station>/data")
    return match.group(1), match.group(2), match.group(3)


def parse_time(ts: object) -> float:
    """Read a timestamp: RFC 3339 text with an offset, or seconds since the epoch (number).

    Other ISO 8601 forms (basic ``20261201T104213Z``, a space for ``T``, week dates) are refused.

    >>> parse_time("2026-11-22T12:00:00Z"), parse_time("2026-11-22t13:00:00.5+01:00")
    (1795348800.0, 1795348800.5)
    >>> parse_time(1795348800)
    1795348800.0
    >>> parse_time("2026-11-22 12:00:00Z")
    Traceback (most recent call last):
    ...
    riverwatch.errors.DecodeError: bad_timestamp: '2026-11-22 12:00:00Z' is not RFC 3339 (e.g. 2026-11-22T12:00:00Z)
    """
    if isinstance(ts, bool):
        raise DecodeError("bad_timestamp", "a timestamp cannot be true/false")
    if isinstance(ts, (int, float)):
        if not math.isfinite(ts):
            raise DecodeError("bad_timestamp", "the timestamp is not finite")
        return float(ts)
    if isinstance(ts, str) and 0 < len(ts) <= 40:
        if not _RFC3339.fullmatch(ts):
            raise DecodeError("bad_timestamp", f"{ts!r} is not RFC 3339 (e.g. 2026-11-22T12:00:00Z)")
        try:
            return datetime.fromisoformat(ts.upper()).timestamp()
        except ValueError as exc:  # month 13, second 60, offset +24:00, ...
            raise DecodeError("bad_timestamp", f"{ts!r}: {exc}") from None
    raise DecodeError("bad_timestamp", "ts must be RFC 3339 text or epoch seconds")


def decode_payload(payload: bytes) -> RawMessage:
    """Parse a JSON or SenML payload (a SenML pack is a JSON array).

    Raises
    ------
    DecodeError
        ``bad_encoding``, ``bad_json``, ``bad_schema``, ``not_finite`` or ``bad_timestamp``.
    """
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        reason = "bad_encoding" if "utf-8" in str(exc).lower() else "bad_json"
        raise DecodeError(reason, str(exc)[:200]) from None
    if isinstance(doc, dict):
        return _decode_object(doc)
    if isinstance(doc, list):
        return decode_senml(doc)
    raise DecodeError("bad_schema", "the payload must be a JSON object or a SenML array")


def _decode_object(doc: dict) -> RawMessage:
    if "ts" not in doc:
        raise DecodeError("bad_schema", '"ts" is missing')
    time_s = parse_time(doc["ts"])
    seq = doc.get("seq")
    if seq is None:
        raise DecodeError("bad_schema", '"seq" is missing')
    seq = check_seq(seq)
    readings = doc.get("readings")
    if not isinstance(readings, dict) or not readings:
        raise DecodeError("bad_schema", '"readings" must be a non-empty object')
    if len(readings) > MAX_VALUES:
        raise DecodeError("bad_schema", f"more than {MAX_VALUES} readings in one message")
    values = []
    for quantity, item in readings.items():
        if not isinstance(item, dict):
            raise DecodeError("bad_schema", f'readings.{quantity[:64]} must be {{"value", "unit"}}')
        unit = item.get("unit")
        if not isinstance(unit, str):
            raise DecodeError("bad_schema", f"readings.{quantity[:64]}.unit must be text")
        values.append((quantity, _finite(item.get("value"), quantity), unit))
    partner, station = doc.get("partner"), doc.get("station")
    if (partner is not None and not isinstance(partner, str)) or (
            station is not None and not isinstance(station, str)):
        raise DecodeError("bad_schema", '"partner" and "station" must be text')
    return RawMessage(time_s, seq, values, partner, station)


def check_seq(seq: object) -> int:
    """The sequence number as an int: an integer, or a float with no fraction (``1.0``, as libraries
    that write only doubles send it); ``bad_seq`` outside 0 … 2^63 - 1.

    >>> check_seq(7), check_seq(1.0)
    (7, 1)
    >>> check_seq(1.5)
    Traceback (most recent call last):
    ...
    riverwatch.errors.DecodeError: bad_schema: "seq" must be an integer (1.0 is accepted, 1.5 is not)
    """
    if type(seq) is float and seq.is_integer():
        if not 0 <= seq <= MAX_SEQ:  # also a JSON integer beyond 64 bits, which parses as a float
            raise DecodeError("bad_seq", f"seq {seq:.0f} is outside 0 to 2^63 - 1")
        return int(seq)
    if type(seq) is not int:
        shown = repr(seq)[:40] if isinstance(seq, (int, float, str)) else type(seq).__name__
        raise DecodeError("bad_schema", f'"seq" must be an integer (1.0 is accepted, {shown} is not)')
    if not 0 <= seq <= MAX_SEQ:
        raise DecodeError("bad_seq", f"seq {seq:.0f} is outside 0 to 2^63 - 1")
    return seq


def _finite(value: object, quantity: str) -> float:
    if type(value) is float or (type(value) is int and abs(value) < 2**53):
        if math.isfinite(value):
            return float(value)
    elif value is None or isinstance(value, str):
        # orjson cannot produce NaN; "NaN" as text and null are how devices send it
        raise DecodeError("not_finite", f"{quantity[:64]} is {value!r}, not a finite number")
    raise DecodeError("not_finite", f"{quantity[:64]} must be a finite number")


def decode_senml(pack: list) -> RawMessage:
    """Decode a SenML (RFC 8428) pack holding one instant of one station.

    The pack is resolved first (:func:`resolve_senml`: ``bn``, ``bt``, ``bu``, ``bv``, ``bs``,
    ``bver`` honoured). Names are ``<base name><quantity>``; the quantity is the part after the
    last ``:`` or ``/``. A record named ``seq`` carries the sequence number. A name under
    ``urn:dev:rw:`` says which station sent it (``RawMessage.partner``/``station``, checked against
    the topic like JSON's); a quantity may appear once per pack (``duplicate_quantity``).

    A record with a sum (``s``) and no value is not a reading: it is skipped, and a pack holding
    nothing else is refused (``sum_only``); a record with both keeps its value.

    >>> raw = decode_senml([{"bn": "urn:dev:rw:rivertown:gauge-1:", "bt": 1.7e9,
    ...                      "n": "water_level", "u": "m", "v": 2.5}, {"n": "seq", "v": 9}])
    >>> raw.values, raw.partner, raw.station
    ([('water_level', 2.5, 'm')], 'rivertown', 'gauge-1')
    >>> decode_senml([{"bt": 1.7e9, "n": "seq", "v": 1.0},
    ...               {"bv": 100, "n": "water_level", "u": "cm", "v": 32}]).values
    [('water_level', 132.0, 'cm')]
    """
    if not pack or len(pack) > MAX_VALUES + 1:
        raise DecodeError("bad_schema", f"a SenML pack needs 1 to {MAX_VALUES} records")
    times, values, seq, sources, sums = set(), {}, None, set(), []
    for record in resolve_senml(pack):
        name = record["n"]
        quantity = re.split(r"[:/]", name)[-1]
        if not quantity:
            raise DecodeError("bad_schema", "a SenML record has no name")
        sources.add(_senml_source(name[:-len(quantity)]))
        if quantity == "seq":
            seq = record.get("v")
            continue
        if "s" in record and not any(key in record for key in ("v", "vs", "vb", "vd")):
            sums.append(quantity)
            continue
        times.add(record["t"])
        if len(times) > 1:
            raise DecodeError("bad_schema", "a SenML pack must hold one instant (one time for all records)")
        if quantity in values:
            raise DecodeError("duplicate_quantity", f"{quantity[:64]} appears twice in one SenML pack")
        values[quantity] = (quantity, _senml_value(record, quantity), _senml_unit(record, quantity))
    if seq is None:
        raise DecodeError("bad_schema", 'a SenML pack needs a record {"n": "seq", "v": <integer>}')
    seq = check_seq(seq)
    if not values and sums:
        raise DecodeError("sum_only", f"{', '.join(sums)[:100]}: a sum (s) is a running total, not a reading; "
                                      "send the value (v); for precipitation the amount since the last message")
    if not times:
        raise DecodeError("bad_schema", "a SenML pack needs a value record besides seq")
    time_s = times.pop()
    if not math.isfinite(time_s) or time_s < 2**28:
        raise DecodeError("bad_timestamp", "SenML times must be absolute (seconds since 1970)")
    partner, station = _one_source(sources)
    return RawMessage(time_s, seq, list(values.values()), partner, station)


def _senml_unit(record: dict, quantity: str) -> str:
    unit = record.get("u")
    if not isinstance(unit, str):
        raise DecodeError("bad_schema", f"{quantity[:64]} has no unit (u or bu)")
    return unit


def _senml_value(record: dict, quantity: str) -> float:
    kind = next((key for key in ("vs", "vb", "vd") if key in record), None)
    if "v" not in record and kind is not None:
        raise DecodeError("not_finite", f"{quantity[:64]}: {kind} values are not accepted; send a number in v")
    return _finite(record.get("v"), quantity)


def _senml_source(prefix: str) -> tuple[str, str] | None:
    """``(partner, station)`` named by the part of a SenML name before its quantity, None if none.

    >>> _senml_source("urn:dev:rw:lacville:wq-2:"), _senml_source("gauge/")
    (('lacville', 'wq-2'), None)
    """
    if not prefix.startswith(SENML_URN):
        return None
    parts = prefix[len(SENML_URN):].rstrip(":/").split(":")
    if len(parts) != 2:
        raise DecodeError("bad_schema", f"SenML names under {SENML_URN} must be "
                                        f"{SENML_URN}<partner>:<station>:<quantity>, not {prefix[:100]!r}")
    return parts[0], parts[1]


def _one_source(sources: set) -> tuple[str | None, str | None]:
    named = sources - {None}
    if len(named) > 1:
        listed = ", ".join(sorted(f"{p}/{s}" for p, s in named))[:200]
        raise DecodeError("topic_mismatch", f"one SenML pack names several stations: {listed}")
    return named.pop() if named else (None, None)


def encode_json(time_s: float, seq: int, values: dict[str, tuple[float, str]],
                partner: str | None = None, station: str | None = None) -> bytes:
    """Encode one reading set as the v1 JSON payload (what devices send).

    >>> encode_json(0.0, 1, {"ph": (7.1, "pH")})
    b'{"ts":"1970-01-01T00:00:00.000Z","seq":1,"readings":{"ph":{"value":7.1,"unit":"pH"}}}'
    """
    doc: dict = {"ts": format_time(time_s), "seq": seq,
                 "readings": {q: {"value": v, "unit": u} for q, (v, u) in values.items()}}
    if partner is not None:
        doc["partner"] = partner
    if station is not None:
        doc["station"] = station
    return orjson.dumps(doc)


def encode_senml(partner: str, station: str, time_s: float, seq: int,
                 values: dict[str, tuple[float, str]]) -> bytes:
    """Encode one reading set as a SenML pack (the alternative payload).

    >>> decode_payload(encode_senml("p", "s", 1.7e9, 3, {"ph": (7.0, "pH")})).seq
    3
    """
    pack: list[dict] = [{"bn": f"urn:dev:rw:{partner}:{station}:", "bt": time_s, "n": "seq", "v": seq}]
    pack += [{"n": q, "u": u, "v": v} for q, (v, u) in values.items()]
    return orjson.dumps(pack)


def format_time(time_s: float) -> str:
    """RFC 3339 UTC text with milliseconds.

    >>> format_time(1795348800.25)
    '2026-11-22T12:00:00.250Z'
    """
    return datetime.fromtimestamp(time_s, timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"


def encode_reject(reason: str, detail: str, topic: str, payload: bytes, time_s: float) -> bytes:
    """The body published on a ``rejected`` topic: reason code, detail and a payload excerpt.

    >>> orjson.loads(encode_reject("bad_json", "x", "t", b"\\xff", 0.0))["reason"]
    'bad_json'
    """
    return orjson.dumps({
        "reason": reason, "detail": detail, "topic": topic[:256],
        "payload_excerpt": payload[:256].decode("utf-8", "replace"), "size": len(payload),
        "at": format_time(time_s), "contract": VERSION,
    })


def encode_warning(event: "WarningEvent", texts: dict[str, str] | None = None) -> bytes:
    """The warning JSON published (retained) on :func:`warning_topic`.

    ``texts`` maps language codes to the rendered message, one entry per partner language.

    >>> from riverwatch.model import Level, WarningEvent
    >>> ev = WarningEvent(id="p.s.flood.1", partner="p", station="s", hazard="flood",
    ...                   level=Level.WATCH, state="raised", public=True, since_ns=0, time_ns=0,
    ...                   detector="level_threshold", quantity="water_level", value=2.6,
    ...                   threshold=2.5, score=1.0)
    >>> orjson.loads(encode_warning(ev, {"en": "Flood watch"}))["level"]
    'watch'
    """
    doc = {
        "id": event.id, "partner": event.partner, "station": event.station, "hazard": event.hazard,
        "level": event.level.name.lower(), "state": event.state, "public": event.public,
        "since": format_time(event.since_ns / 1e9), "at": format_time(event.time_ns / 1e9),
        "evidence": {
            "detector": event.detector, "quantity": event.quantity, "value": event.value,
            "threshold": event.threshold, "score": event.score,
            "expected_at": None if event.expected_at_ns is None else format_time(event.expected_at_ns / 1e9),
            "corroborating": list(event.corroborating), **dict(event.details),
        },
        "messages": texts or {}, "contract": VERSION,
    }
    return orjson.dumps(doc)
