"""QARTOD-style quality flags, one per reading, with per-stream state in plain slots.

Tests, in order (the worst flag wins):

- **gross range**: outside the station quantity's ``plausible`` range → ``FAIL``;
- **rate of change**: faster than ``max_rate_per_hour`` since the previous good value → ``SUSPECT``;
- **flat line**: ``stuck_after`` identical consecutive values over at least :data:`FLAT_LINE_MIN_S`
  → ``SUSPECT``, never ``FAIL`` (not applied to quantities that are legitimately constant for long,
  like precipitation at 0). A river at base flow or on a slow recession holds one value for hours at
  1 cm resolution (a Texas creek read every 5 min held one for 20 h), so a flat line alone cannot
  say a value is wrong: failing it withheld good readings from the detectors (27 % of Onion Creek's
  in the Halloween 2013 record). Whether the *sensor* is stuck is the ``sensor_fault`` detector's
  judgement, against the stream's resolution and its own pace.

Readings older than the stream's last one (late, out of order) get the range test only.
Missing data is not flagged here: it shows as ``last_seen_age_s`` in ``station_state``.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> qc = QualityControl(load_catalog("catalog/demo.toml"))
>>> key = ("rivertown", "gauge-hochtal")
>>> qc.check(key, "water_level", 0.0, 1.0).name
'PASS'
>>> qc.check(key, "water_level", 60.0, 2.0).name   # +1 m in a minute, max 1.5 m/h
'SUSPECT'
>>> qc.check(key, "water_level", 120.0, 9999.0).name  # a logger's "no data" code
'FAIL'
"""

from __future__ import annotations

from riverwatch.catalog import Catalog
from riverwatch.model import QC, Observation, Reading

#: Quantities whose flat line is normal (no rain for days), so the stuck test is skipped.
FLAT_LINE_EXEMPT = frozenset({"precipitation"})
#: A flat line is suspect only once it has lasted this long too (the catalog's ``stuck_after`` of 12
#: readings was 3 h at quarter-hourly readings; at a reading a minute it was 12 minutes).
FLAT_LINE_MIN_S = 3 * 3600.0

_PASS, _SUSPECT, _FAIL = QC.PASS, QC.SUSPECT, QC.FAIL


class StreamQC:
    """Limits and state of one (station, quantity) stream."""

    __slots__ = ("lo", "hi", "max_rate_per_s", "stuck_after", "last_value", "last_time", "repeats",
                 "last_flag", "same_since")

    def __init__(self, lo: float, hi: float, max_rate_per_hour: float | None, stuck_after: int) -> None:
        self.lo = lo
        self.hi = hi
        self.max_rate_per_s = None if max_rate_per_hour is None else max_rate_per_hour / 3600.0
        self.stuck_after = stuck_after
        self.last_value: float | None = None
        self.last_time = float("-inf")
        self.repeats = 0
        self.same_since = float("-inf")  # time of the first reading of the current value
        self.last_flag = QC.NOT_EVALUATED

    def __setstate__(self, state) -> None:
        """Restore a checkpoint; one written before ``same_since`` starts the current hold now."""
        slots = state[1] if isinstance(state, tuple) else state
        for key, value in (slots or {}).items():
            setattr(self, key, value)
        if not hasattr(self, "same_since"):
            self.same_since = self.last_time

    def check(self, time_s: float, value: float) -> QC:
        """Flag ``value`` at ``time_s`` and update the stream state."""
        if not (self.lo <= value <= self.hi):
            self.last_flag = _FAIL
            return _FAIL
        last = self.last_value
        if time_s <= self.last_time:
            return _PASS  # late reading: range test only, state untouched
        flag = _PASS
        if last is not None:
            rate = self.max_rate_per_s
            if rate is not None and abs(value - last) > rate * (time_s - self.last_time):
                flag = _SUSPECT
            if value == last and self.stuck_after:
                self.repeats += 1
                if self.repeats >= self.stuck_after and time_s - self.same_since >= FLAT_LINE_MIN_S:
                    flag = _SUSPECT
            else:
                self.repeats, self.same_since = 1, time_s
        else:
            self.repeats, self.same_since = 1, time_s
        self.last_value = value
        self.last_time = time_s
        self.last_flag = flag
        return flag


class QualityControl:
    """QC state of every stream, created on first sight from the catalog's limits.

    ``streams`` maps ``(partner, station, quantity)`` to :class:`StreamQC`; it pickles, so it goes
    into the service checkpoint.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.streams: dict[tuple[str, str, str], StreamQC] = {}

    def stream(self, key: tuple[str, str], quantity: str) -> StreamQC:
        """The stream of ``quantity`` at station ``key``, created on first use."""
        skey = (key[0], key[1], quantity)
        stream = self.streams.get(skey)
        if stream is None:
            spec = self.catalog.station(*key).quantities[quantity]
            lo, hi = spec.plausible
            stuck = 0 if quantity in FLAT_LINE_EXEMPT else spec.stuck_after
            stream = self.streams[skey] = StreamQC(lo, hi, spec.max_rate_per_hour, stuck)
        return stream

    def check(self, key: tuple[str, str], quantity: str, time_s: float, value: float) -> QC:
        """Flag one value of station ``key``; the hot path of :meth:`readings`."""
        stream = self.streams.get((key[0], key[1], quantity)) or self.stream(key, quantity)
        return stream.check(time_s, value)

    def readings(self, obs: Observation) -> list[Reading]:
        """One :class:`Reading` per value of ``obs``, with its QC flag."""
        key, time_s = (obs.partner, obs.station), obs.time_ns / 1e9
        return [Reading(obs.partner, obs.station, q, obs.time_ns, v, obs.seq, self.check(key, q, time_s, v))
                for q, v in obs.values]

    def suspect_stations(self) -> set[tuple[str, str]]:
        """Stations whose last value of some quantity was flagged SUSPECT or FAIL."""
        return {(p, s) for (p, s, _), st in self.streams.items() if st.last_flag >= _SUSPECT}
