"""Validation: one MQTT message in, one :class:`~riverwatch.model.Observation` (or a reject) out.

Checks run once per message, in this order, and the first failure rejects the whole message
with a :class:`~riverwatch.errors.DecodeError` whose ``reason`` is a
:data:`riverwatch.contract.REJECT_REASONS` code:

``oversize`` → ``topic_invalid`` → payload (``bad_encoding``, ``bad_json``, ``bad_schema``,
``bad_seq``, ``must_understand``, ``duplicate_quantity``, ``sum_only``, ``not_finite``,
``bad_timestamp``) → ``unknown_station`` →
``topic_mismatch`` → ``unknown_quantity`` → ``unknown_unit`` → ``not_finite`` (a value that
overflows when converted to its canonical unit) → ``future_timestamp`` → ``too_old`` → ``replayed``.

The replay memory (:class:`StreamClock`) moves only when every check has passed, so a rejected
message never makes a later good one look like a replay.

JSON has no NaN or Infinity; a payload that is JSON except for bare ``NaN``/``Infinity`` tokens
(what many JSON encoders write for a non-finite float) is rejected as ``not_finite``, not
``bad_json``, so the device maker learns what is actually wrong.

The common payload (a v1 JSON object with an RFC 3339 ``...T..:..:..(.mmm)Z`` time or epoch
seconds) is read by a fast path (:func:`fast_decode`) that accepts only what
:func:`riverwatch.contract.decode_payload` accepts, with the same result; everything else —
SenML, other time formats, anything broken — goes through ``decode_payload`` itself, so the
reject reasons and details are exactly the contract's.

Values leave in canonical units; the ``(scale, offset)`` of each (quantity, unit) pair is looked
up once and kept in a dict. Status messages (``online``/``offline``) are tracked per station,
not turned into readings.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.contract import encode_json
>>> from riverwatch.settings import IngestSettings
>>> v = Validator(load_catalog("catalog/demo.toml"), IngestSettings(), 16384)
>>> topic = "rw/v1/rivertown/gauge-hochtal/data"
>>> obs = v.validate(topic, encode_json(1.8e9, 1, {"water_level": (10.0, "ft")}), 1.8e9)
>>> obs.values
(('water_level', 3.048),)
>>> v.validate(topic, encode_json(1.8e9, 1, {"water_level": (10.0, "ft")}), 1.8e9)
Traceback (most recent call last):
...
riverwatch.errors.DecodeError: replayed: seq 1 at 1800000000.000 was already seen (last seq 1 at 1800000000.000)
"""

from __future__ import annotations

import json
import math
import re
from datetime import date

import orjson

from riverwatch.catalog import Catalog, Station
from riverwatch.contract import MAX_SEQ, MAX_VALUES, decode_payload, parse_topic
from riverwatch.errors import DecodeError
from riverwatch.model import Observation
from riverwatch.settings import IngestSettings
from riverwatch.units import QUANTITIES, conversion

_NON_FINITE_TOKEN = re.compile(rb"(?<![\w\"])-?(?:NaN|Infinity)(?![\w\"])")

#: Accepted bodies of a status message (the device's retained online flag and last will).
STATUS_VALUES = frozenset({"online", "offline"})
#: Status entries kept for ids outside the catalog (gateways); more are accepted but not tracked.
MAX_UNCATALOGUED_STATUS = 1024


_RFC3339_UTC = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?Z", re.ASCII)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAYS: dict[str, int] = {}


def fast_time(ts: str) -> float | None:
    """``YYYY-MM-DDTHH:MM:SS[.mmm]Z`` as epoch seconds, exactly as ``datetime.fromisoformat(ts).timestamp()``;
    None for any other text (the caller then uses the general parser).

    >>> fast_time("2026-11-22T12:00:00.250Z"), fast_time("2026-11-22T12:00:00+01:00")
    (1795348800.25, None)
    """
    match = _RFC3339_UTC.fullmatch(ts)
    if match is None:
        return None
    day_text, hh, mm, ss, ms = match.groups()
    hours, minutes, seconds = int(hh), int(mm), int(ss)
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    days = _DAYS.get(day_text)
    if days is None:
        try:
            days = date.fromisoformat(day_text).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            return None
        if len(_DAYS) > 4096:
            _DAYS.clear()
        _DAYS[day_text] = days
    micros = ((days * 86400 + hours * 3600 + minutes * 60 + seconds) * 1_000_000
              + (int(ms) * 1000 if ms is not None else 0))
    return micros / 1_000_000  # what timedelta.total_seconds() computes: exact int / int


def fast_decode(doc: object) -> tuple | None:
    """``(time_s, seq, values, partner, station)`` of a well-formed v1 JSON object, else None.

    Accepts a subset of what :func:`riverwatch.contract.decode_payload` accepts and returns the same
    values; None means "use ``decode_payload``" (which then decodes or rejects it).

    >>> fast_decode({"ts": "2026-11-22T12:00:00Z", "seq": 3, "readings": {"ph": {"value": 7, "unit": "pH"}}})
    (1795348800.0, 3, [('ph', 7.0, 'pH')], None, None)
    >>> fast_decode([{"n": "ph"}]) is None, fast_decode({"ts": "yesterday", "seq": 1, "readings": {}}) is None
    (True, True)
    """
    if type(doc) is not dict:
        return None
    ts = doc.get("ts")
    kind = type(ts)
    if kind is str:
        time_s = fast_time(ts)
        if time_s is None:
            return None
    elif kind is float or (kind is int and abs(ts) < 2**53):  # orjson yields only finite floats
        time_s = float(ts)
    else:
        return None
    seq = doc.get("seq")
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        return None
    readings = doc.get("readings")
    if type(readings) is not dict or not readings or len(readings) > MAX_VALUES:
        return None
    values = []
    for quantity, item in readings.items():
        if type(item) is not dict:
            return None
        unit = item.get("unit")
        value = item.get("value")
        if type(unit) is not str:
            return None
        if type(value) is float:
            values.append((quantity, value, unit))
        elif type(value) is int and abs(value) < 2**53:
            values.append((quantity, float(value), unit))
        else:
            return None
    partner, station = doc.get("partner"), doc.get("station")
    if (partner is not None and type(partner) is not str) or (station is not None and type(station) is not str):
        return None
    return time_s, seq, values, partner, station


def _decode_fields(payload: bytes) -> tuple:
    """``(time_s, seq, values, partner, station)``: :func:`fast_decode`, else :func:`_decode`."""
    try:
        fields = fast_decode(orjson.loads(payload))
    except orjson.JSONDecodeError:
        fields = None
    if fields is None:
        raw = _decode(payload)
        fields = (raw.time_s, raw.seq, raw.values, raw.partner, raw.station)
    return fields


def _decode(payload: bytes):
    """:func:`decode_payload`, telling bare NaN/Infinity tokens apart from other broken JSON.

    >>> _decode(b'{"ts": 1, "seq": 1, "readings": {"ph": {"value": NaN, "unit": "pH"}}}')
    Traceback (most recent call last):
    ...
    riverwatch.errors.DecodeError: not_finite: the payload holds a bare NaN or Infinity (JSON has neither)
    """
    try:
        return decode_payload(payload)
    except DecodeError as exc:
        if exc.reason == "bad_json" and _NON_FINITE_TOKEN.search(payload) and _is_json_with_non_finite(payload):
            raise DecodeError("not_finite", "the payload holds a bare NaN or Infinity (JSON has neither)") from None
        raise


def _is_json_with_non_finite(payload: bytes) -> bool:
    try:
        json.loads(payload)  # the standard library accepts NaN, Infinity and -Infinity
    except Exception:  # ValueError, RecursionError, UnicodeDecodeError: broken JSON after all
        return False
    return True


#: How many sequence numbers below the highest one seen are remembered one by one.
REPLAY_WINDOW = 1024
#: How many sequence numbers accepted *beyond* the window (late) are remembered (a day of minutes, twice).
LATE_MEMORY = 4096


class StreamClock:
    """Replay memory of one station: highest ``seq``, latest ``time_s`` and a window of seen seqs.

    Bit ``i`` of ``seen`` says that ``seq - i`` was accepted (an anti-replay window, as in IPsec),
    so a reading that arrives late or out of order — a device resending its backlog, a broker
    redelivering after a restart — is accepted once, while a second copy is a replay.

    >>> clock = StreamClock(5, 100.0)
    >>> clock.accept(7, 120.0), clock.accept(6, 110.0), clock.accept(6, 110.0)
    (True, True, False)
    >>> clock.accept(1, 200.0)  # a device that restarted its counter, with a newer clock
    True

    A never-seen message older than the window (a day-long backlog flushed between live readings)
    is *late*: accepted once, its seq remembered in ``late`` (at most :data:`LATE_MEMORY`, the
    lowest forgotten first; storage is idempotent, so a forgotten one stored again costs nothing).

    >>> clock = StreamClock(5000, 1e6)
    >>> clock.beyond_window(10, 9e5), clock.accept(10, 9e5), clock.accept(10, 9e5)
    (True, True, False)
    """

    __slots__ = ("seq", "time_s", "seen", "late")

    def __init__(self, seq: int, time_s: float, seen: int = 1, late: tuple[int, ...] = ()) -> None:
        self.seq = seq
        self.time_s = time_s
        self.seen = seen
        self.late = set(late)

    def beyond_window(self, seq: int, time_s: float) -> bool:
        """True when ``(seq, time_s)`` is older than the window and than the latest time: late data."""
        return self.seq - seq >= REPLAY_WINDOW and time_s <= self.time_s

    def accept(self, seq: int, time_s: float) -> bool:
        """Remember ``(seq, time_s)`` and return True, or return False for a replay."""
        if seq > self.seq:
            shift = seq - self.seq  # a jump past the window keeps nothing (and allocates nothing)
            self.seen = ((self.seen << shift) | 1) & ((1 << REPLAY_WINDOW) - 1) if shift < REPLAY_WINDOW else 1
            self.seq = seq
        else:
            age = self.seq - seq
            if age < REPLAY_WINDOW and not (self.seen >> age) & 1:
                self.seen |= 1 << age
            elif time_s > self.time_s:  # the counter restarted: start a new window
                self.seq, self.seen = seq, 1
            elif age >= REPLAY_WINDOW and seq not in self.late:
                self._remember_late(seq)
            else:
                return False
        if time_s > self.time_s:
            self.time_s = time_s
        return True


    def _remember_late(self, seq: int) -> None:
        late = self.late
        late.add(seq)
        if len(late) > LATE_MEMORY:
            late.remove(min(late))


class Validator:
    """Turn ``(topic, payload, now_s)`` into an :class:`Observation` or raise ``DecodeError``.

    Parameters
    ----------
    catalog
        The station catalog (unknown stations and quantities are rejected).
    ingest
        ``max_future_s`` and ``max_late_s`` bound the accepted timestamps.
    max_payload_bytes
        Larger payloads are rejected as ``oversize`` before parsing.

    Attributes
    ----------
    clocks
        ``(partner, station) -> StreamClock``; part of the service checkpoint.
    status
        ``(partner, station) -> (status, arrival time)`` from status topics.
    """

    def __init__(self, catalog: Catalog, ingest: IngestSettings, max_payload_bytes: int) -> None:
        self.catalog = catalog
        self.max_future_s = float(ingest.max_future_s)
        self.max_late_s = float(ingest.max_late_s)
        self.max_payload_bytes = int(max_payload_bytes)
        self.clocks: dict[tuple[str, str], StreamClock] = {}
        self.status: dict[tuple[str, str], tuple[str, float]] = {}
        self._uncatalogued_status = 0
        self._commissioned = {st.key: st.commissioned.timestamp() for st in catalog.stations}
        self._partners = frozenset(p.id for p in catalog.partners)
        self._conversions: dict[tuple[str, str], tuple[float, float]] = {}

    def validate(self, topic: str, payload: bytes, now_s: float) -> Observation | None:
        """Check one message; return its Observation, or None for a (tracked) status message.

        Raises
        ------
        DecodeError
            The reject reason and a detail for the device maker.
        """
        if len(payload) > self.max_payload_bytes:
            raise DecodeError("oversize", f"{len(payload)} bytes > {self.max_payload_bytes}")
        partner, station_id, channel = parse_topic(topic)
        station = self.catalog.station(partner, station_id)
        if channel == "status":
            return self._track_status(station, partner, station_id, payload, now_s)
        time_s, seq, raw_values, raw_partner, raw_station = _decode_fields(payload)
        if station is None:
            raise DecodeError("unknown_station", f"{partner}/{station_id} is not in the station catalog")
        if (raw_partner is not None and raw_partner != partner) or (
                raw_station is not None and raw_station != station_id):
            raise DecodeError("topic_mismatch", f"payload says {raw_partner}/{raw_station}, "
                                                f"topic says {partner}/{station_id}")
        values = self._canonical_values(station, raw_values)
        self._check_time(station.key, time_s, now_s)
        late = self._check_replay(station.key, seq, time_s)
        # microsecond resolution: exact in a float, so a redelivery yields the same timestamp
        return Observation(partner, station_id, round(time_s * 1e6) * 1000, seq, values, late)

    def _track_status(self, station: Station | None, partner: str, station_id: str,
                      payload: bytes, now_s: float) -> None:
        """Track a station's (or a partner's gateway's) online/offline status.

        A gateway publishes its will on ``rw/v1/<partner>/<gateway-id>/status`` (see the
        contract), so any id of a known partner is tracked; an empty payload is a retained
        status being cleared and is ignored.
        """
        if station is None and partner not in self._partners:
            raise DecodeError("unknown_station", f"{partner}/{station_id}: partner {partner!r} is not in the catalog")
        text = payload.decode("utf-8", "replace").strip().lower()
        if not text:
            return None
        if text not in STATUS_VALUES:
            raise DecodeError("bad_schema", f"status must be 'online' or 'offline', not {text[:40]!r}")
        key = (partner, station_id)
        if station is None and key not in self.status and self._uncatalogued_status >= MAX_UNCATALOGUED_STATUS:
            return None  # hostile topics with ever new ids must not grow memory without bound
        if station is None and key not in self.status:
            self._uncatalogued_status += 1
        self.status[key] = (text, now_s)
        return None

    def _canonical_values(self, station: Station,
                          values: list[tuple[str, float, str]]) -> tuple[tuple[str, float], ...]:
        measured = station.quantities
        conversions = self._conversions
        out = []
        for quantity, value, unit in values:
            if quantity not in measured:
                where = "in the contract" if quantity not in QUANTITIES else f"measured at {station.id}"
                raise DecodeError("unknown_quantity", f"{quantity[:64]!r} is not {where}")
            factor = conversions.get((quantity, unit))
            if factor is None:
                factor = conversion(quantity, unit)  # raises unknown_unit
                conversions[(quantity, unit)] = factor
            scale, offset = factor
            if scale != 1.0 or offset != 0.0:
                value = round(value * scale + offset, 12)
                if not math.isfinite(value):
                    raise DecodeError("not_finite", f"{quantity} in {unit} overflows in {QUANTITIES[quantity].unit}")
            out.append((quantity, value))
        return tuple(out)

    def _check_time(self, key: tuple[str, str], time_s: float, now_s: float) -> None:
        if time_s > now_s + self.max_future_s:
            raise DecodeError("future_timestamp", f"{time_s:.3f} is {time_s - now_s:.0f} s ahead of "
                                                  f"the server clock (max {self.max_future_s:.0f} s)")
        if time_s < self._commissioned[key]:
            raise DecodeError("too_old", f"{time_s:.3f} is before the station was commissioned")
        if time_s < now_s - self.max_late_s:
            raise DecodeError("too_old", f"{time_s:.3f} is {now_s - time_s:.0f} s old "
                                         f"(max {self.max_late_s:.0f} s)")

    def _check_replay(self, key: tuple[str, str], seq: int, time_s: float) -> bool:
        """Remember ``seq``; True when the message is late (older than the replay window)."""
        clock = self.clocks.get(key)
        if clock is None:
            self.clocks[key] = StreamClock(seq, time_s)
            return False
        late = clock.beyond_window(seq, time_s)
        if not clock.accept(seq, time_s):
            raise DecodeError("replayed", f"seq {seq} at {time_s:.3f} was already seen "
                                          f"(last seq {clock.seq} at {clock.time_s:.3f})")
        return late
