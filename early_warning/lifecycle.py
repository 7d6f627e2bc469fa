"""The warning lifecycle: detector levels in, warning events (raised … cleared) out.

One :class:`WarningBook` holds every open warning, one per station and hazard. Detectors feed it
levels per *stream*; the warning's level is the highest level of its streams, its evidence comes
from the stream driving it. Escalation is immediate; a level must hold ``min_duration_s`` before it
is lowered or cleared, and a clear needs ``clear_after_s`` of quiet. A warning that cleared and
comes back within ``flap_window_s`` re-opens under the same id (its flap count rises and its
next clear waits longer). Sensor problems are maintenance notices (``public=False``); an anomaly
or water-quality finding at one station is public only when corroborated — by another quantity
departing at the same site or by a neighbouring station (upstream/downstream) with an open warning
of the same hazard. A flood warning at watch or above raises a ``propagation`` watch at every
station downstream, expected after the cumulative travel time.

Sensor knowledge and public warnings agree: a flood, water-quality or anomaly warning whose own
evidence rests only on quantities that a ``sensor`` stream of the same station currently flags
(*suspect* quantities; a dropout says nothing about the values and does not count) is *held*:
kept non-public, with the detail ``held_for_sensor``, not propagated downstream and not counted as
a neighbour's corroboration — until the flag clears while the hazard persists (an ``updated`` event
makes it public), or until something independent corroborates it: another, healthy quantity of the
station, a neighbour's own (unheld) warning of the hazard, or a propagated warning from upstream.
A warning that was public when the flag came is withdrawn the same way (``updated``, not public).
An open warning without news for ``KEEPALIVE_S`` (half the CAP validity) is re-sent as ``updated``,
so that its CAP and retained MQTT messages never expire while it is open.
Feed a station's sensor streams before its other streams of the same reading (the pipeline does),
so that a warning and the flag of the same reading are judged together.

Streams
-------
``detector`` names a stream of the station: the detector name for station-wide detectors
(``"water_quality_event"``) and ``"<detector>:<quantity>"`` for per-quantity ones (see
:func:`stream_id`), so that two quantities of one detector do not overwrite each other. Events
carry the plain detector name.

Modules
-------
The book is this module; its parts: :mod:`early_warning.params` (the ``[lifecycle]`` parameters,
per hazard), :mod:`early_warning.records` (what it keeps per warning, and its checkpoint form),
:mod:`early_warning.publicity` (corroboration and sensor hold-back) and
:mod:`early_warning.propagation` (the watch a flood raises downstream).
:mod:`early_warning.stepper` feeds it one station's detector streams.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from detectors.base import Finding
>>> cat = load_catalog("catalog/demo.toml")
>>> st = cat.station("rivertown", "gauge-hochtal")
>>> book = WarningBook(cat)
>>> f = lambda: Finding("level_threshold", "flood", Level.WATCH, "water_level", 2.6, 1.3, 2.5)
>>> events = book.update(st, "flood", "level_threshold:water_level", Level.WATCH, 1.8e9, f)
>>> [(e.station, e.state, e.level.name, e.detector) for e in events]   # doctest: +NORMALIZE_WHITESPACE
[('gauge-hochtal', 'raised', 'WATCH', 'level_threshold'),
 ('gauge-grenzbruecke', 'raised', 'WATCH', 'propagation'),
 ('gauge-lacville', 'raised', 'WATCH', 'propagation')]
>>> book.pending(st.key, "level_threshold:water_level")
True
>>> book.open_warnings()[0].id
'rivertown.gauge-hochtal.flood.1800000000000000000'
"""

from __future__ import annotations

from typing import Callable

from detectors.base import Finding
from early_warning.cap import VALID_FOR_S
from early_warning.params import (PROPAGATION, LifecycleParams, hazard_of, sensor_streams_first,
                                  stream_id)
from early_warning.propagation import propagated_finding
from early_warning.publicity import Publicity
from early_warning.records import OpenWarning, StreamLevel, own_level, warning_from_json, warning_to_json
from riverwatch.catalog import Catalog, Station
from riverwatch.model import Level, WarningEvent

_NS = 1_000_000_000
#: An open warning without news gets an ``updated`` event this often (seconds), so that its CAP
#: message and retained MQTT message (valid ``VALID_FOR_S``) never expire while it is open.
KEEPALIVE_S = VALID_FOR_S // 2


class WarningBook:
    """Open warnings of all stations; see the module docstring for the rules.

    Parameters
    ----------
    catalog
        Stations, their neighbours and travel times.
    params
        :class:`LifecycleParams` (defaults when None).
    """

    def __init__(self, catalog: Catalog, params: LifecycleParams | None = None) -> None:
        self.catalog = catalog
        self.params = params or LifecycleParams()
        self._warnings: dict[tuple[str, str, str], OpenWarning] = {}
        self._pending: set[tuple[str, str, str]] = set()
        self._publicity = Publicity(catalog, self.params, self._warnings)

    # -- public API ------------------------------------------------------------------------------
    def pending(self, station_key: tuple[str, str], detector: str) -> bool:
        """Whether stream ``detector`` of the station has a non-NONE level in the book (cheap)."""
        return (station_key[0], station_key[1], detector) in self._pending

    def update(self, station: Station, hazard: str, detector: str, level: Level, t_s: float,
               finding_fn: Callable[[], Finding]) -> list[WarningEvent]:
        """Record stream ``detector``'s level for ``station``/``hazard`` at ``t_s``; return events.

        ``finding_fn`` is called only when the stream's level changes or its evidence is due for
        a refresh. Call it for every reading while the level is not NONE or ``pending`` is True.
        """
        key = (station.partner, station.id, hazard)
        w = self._warnings.get(key)
        level = int(level)
        if not level and (w is None or detector not in w.streams):
            return []
        if w is None:
            w = self._warnings[key] = OpenWarning(station.partner, station.id, hazard)
        if hazard not in self.params.private_hazards:
            self._set_stream(w, detector, level, t_s, finding_fn)
            return self._evaluate(w, t_s)
        before = self._publicity.suspect(station.partner, station.id)
        self._set_stream(w, detector, level, t_s, finding_fn)
        events = self._evaluate(w, t_s)
        if self._publicity.suspect(station.partner, station.id) != before:
            events += self._refresh_station(station.partner, station.id, t_s)
        return events

    def tick(self, t_s: float) -> list[WarningEvent]:
        """Time-based transitions at ``t_s``: stale streams, de-escalation and clears, expiry."""
        events: list[WarningEvent] = []
        for partner, station_id in self._drop_stale_streams(t_s):
            events += self._refresh_station(partner, station_id, t_s)
        for key, w in list(self._warnings.items()):
            if w.open:
                events += self._evaluate(w, t_s)
            elif (not w.streams and (w.cleared_at_s is None
                                     or t_s - w.cleared_at_s > self.params.times(w.hazard).flap_window_s)):
                del self._warnings[key]
        return events

    def _drop_stale_streams(self, t_s: float) -> set[tuple[str, str]]:
        """Drop every stream silent for ``stale_after_s``; the stations whose suspect quantities changed.

        All are dropped before any warning is judged again: an outage silences a sensor flag and the
        evidence it holds back together, and a flag gone stale says nothing about the sensor, so the
        held warning must not be published on its way out.
        """
        suspect_before: dict[tuple[str, str], frozenset[str]] = {}
        for w in list(self._warnings.values()):
            stale = t_s - self.params.times(w.hazard).stale_after_s
            names = [n for n, s in w.streams.items() if s.t_s < stale and not n.startswith(PROPAGATION + ":")]
            if names and w.hazard in self.params.private_hazards:
                key = (w.partner, w.station)
                suspect_before.setdefault(key, self._publicity.suspect(*key))
            for name in names:
                self._drop_stream(w, name)
        return {key for key, before in suspect_before.items() if self._publicity.suspect(*key) != before}

    def open_warnings(self) -> list[WarningEvent]:
        """The latest event of every open warning (public and maintenance)."""
        return [w.last for w in self._warnings.values() if w.open and w.last is not None]

    # -- streams ---------------------------------------------------------------------------------
    def _set_stream(self, w: OpenWarning, name: str, level: int, t_s: float,
                    finding_fn: Callable[[], Finding] | None, finding: Finding | None = None) -> None:
        if not level:
            self._drop_stream(w, name)
            return
        s = w.streams.get(name)
        if s is None or s.level != level or w.hazard in self.params.private_hazards or (
                t_s - s.read_s >= self.params.times(w.hazard).refresh_s and name == w.driver):
            finding = finding if finding is not None else finding_fn() if finding_fn else None
            w.streams[name] = StreamLevel(level, t_s, finding, t_s)
        else:
            s.t_s = t_s
        self._pending.add((w.partner, w.station, name))

    def _drop_stream(self, w: OpenWarning, name: str) -> None:
        w.streams.pop(name, None)
        key = (w.partner, w.station, name)
        if key in self._pending and not any(
                name in o.streams for k, o in self._warnings.items()
                if k[0] == w.partner and k[1] == w.station and o is not w):
            self._pending.discard(key)

    # -- the state machine -----------------------------------------------------------------------
    def _target(self, w: OpenWarning) -> tuple[int, str]:
        best, driver = 0, ""
        for name, s in w.streams.items():
            if s.level > best or (s.level == best and name == w.driver):
                best, driver = s.level, name
        return best, driver

    def _evaluate(self, w: OpenWarning, t_s: float) -> list[WarningEvent]:
        p = self.params.times(w.hazard)
        target, driver = self._target(w)
        events: list[WarningEvent] = []
        if not w.open:
            if target:
                events.append(self._open(w, target, driver, t_s))
        elif target > w.level:
            w.level, w.level_since_s, w.quiet_since_s, w.driver, w.rose_s = target, t_s, None, driver, t_s
            self._publicity.refresh(w)
            events.append(self._event(w, "escalated", t_s))
        elif target < w.level:
            held = t_s - w.level_since_s >= p.min_duration_s
            if target:
                w.quiet_since_s = None
                if held:
                    w.level, w.level_since_s, w.driver = target, t_s, driver
                    self._publicity.refresh(w)
                    events.append(self._event(w, "deescalated", t_s))
            else:
                if w.quiet_since_s is None:
                    w.quiet_since_s = t_s
                wait = p.clear_after_s * min(1.0 + w.flaps, p.max_flap_backoff)
                if held and t_s - w.quiet_since_s >= wait:
                    events.append(self._clear(w, t_s))
        else:
            w.quiet_since_s = None
            changed = self._publicity.refresh(w)
            if driver != w.driver or changed or self._moved(w, driver):
                w.driver = driver
                events.append(self._event(w, "updated", t_s))
        if not events and self._silent_too_long(w, t_s):
            events.append(self._event(w, "updated", t_s))
        events += self._propagate(w, t_s)
        events += self._refresh_neighbours(w, t_s)
        return events

    def _open(self, w: OpenWarning, level: int, driver: str, t_s: float) -> WarningEvent:
        p = self.params.times(w.hazard)
        reopen = w.cleared_at_s is not None and t_s - w.cleared_at_s <= p.flap_window_s and w.id
        w.level, w.level_since_s, w.quiet_since_s, w.driver, w.rose_s = level, t_s, None, driver, t_s
        w.cleared_at_s = None
        if reopen:
            w.flaps += 1
            self._publicity.refresh(w)
            return self._event(w, "escalated", t_s)
        w.since_ns = int(round(t_s * _NS))
        w.id = f"{w.partner}.{w.station}.{w.hazard}.{w.since_ns}"
        w.flaps = 0
        self._publicity.refresh(w)
        return self._event(w, "raised", t_s)

    def _clear(self, w: OpenWarning, t_s: float) -> WarningEvent:
        w.level, w.cleared_at_s, w.quiet_since_s = 0, t_s, None
        event = self._event(w, "cleared", t_s)
        return event

    @staticmethod
    def _silent_too_long(w: OpenWarning, t_s: float) -> bool:
        """Whether open ``w``'s last event is ``KEEPALIVE_S`` old (its CAP message would expire)."""
        return w.open and w.last is not None and t_s * _NS - w.last.time_ns >= KEEPALIVE_S * _NS

    def _moved(self, w: OpenWarning, driver: str) -> bool:
        s = w.streams.get(driver)
        if s is None or s.finding is None or w.last is None:
            return False
        new = s.finding.expected_at
        old = w.last.expected_at_ns
        if (new is None) != (old is None):
            return True
        return new is not None and abs(new - old / _NS) >= self.params.times(w.hazard).expected_at_tolerance_s

    # -- public or maintenance -------------------------------------------------------------------
    def _refresh_station(self, partner: str, station_id: str, t_s: float) -> list[WarningEvent]:
        """After the station's suspect quantities changed: re-judge its held-back hazards."""
        events: list[WarningEvent] = []
        for hazard in self.params.hold_hazards:
            o = self._warnings.get((partner, station_id, hazard))
            if o is not None and o.open and self._publicity.refresh(o):
                events.append(self._event(o, "updated", t_s))
                events += self._propagate(o, t_s)
                events += self._refresh_neighbours(o, t_s)
        return events

    def _refresh_neighbours(self, w: OpenWarning, t_s: float) -> list[WarningEvent]:
        """Neighbours whose publicity may depend on ``w``: corroborated hazards, and warnings whose
        hold ``w`` lifts or imposes (others only list ``w`` as corroborating at their next event)."""
        corroborate = w.hazard in self.params.corroborate_hazards
        if not corroborate and w.hazard not in self.params.hold_hazards:
            return []
        events = []
        for o in self._publicity.neighbour_warnings(w):
            if (corroborate or self._publicity.held_by(o) != o.held) and self._publicity.refresh(o):
                events.append(self._event(o, "updated", t_s))
                events += self._propagate(o, t_s)
        return events

    # -- upstream → downstream -------------------------------------------------------------------
    def _propagate(self, w: OpenWarning, t_s: float) -> list[WarningEvent]:
        p = self.params
        if w.hazard not in p.propagate_hazards:
            return []
        start = (w.open and not w.held and own_level(w) >= p.propagate_min_level
                 and not w.propagating)
        stop = (not w.open or bool(w.held)) and w.propagating
        if not (start or stop):
            return []
        w.propagating = bool(start)
        origin = self.catalog.by_id(w.station)
        events: list[WarningEvent] = []
        name = f"{PROPAGATION}:{w.station}"
        for st, travel_s in self.catalog.downstream(origin) if origin else ():
            d = self._warnings.get((st.partner, st.id, w.hazard))
            if d is None:
                if not start:
                    continue
                d = self._warnings[(st.partner, st.id, w.hazard)] = OpenWarning(st.partner, st.id, w.hazard)
            finding = propagated_finding(w, origin, travel_s, t_s, p.propagated_level) if start else None
            self._set_stream(d, name, int(p.propagated_level) if start else 0, t_s, None, finding)
            events += self._evaluate(d, t_s)
        return events

    # -- events ----------------------------------------------------------------------------------
    def _event(self, w: OpenWarning, state: str, t_s: float) -> WarningEvent:
        s = w.streams.get(w.driver)
        f = s.finding if s is not None and s.finding is not None else None
        if f is None and w.last is not None:
            base = w.last
            detector, quantity, value, threshold, score = (base.detector, base.quantity, base.value,
                                                           base.threshold, base.score)
            expected, key, details = base.expected_at_ns, base.message_key, base.details
        elif f is not None:
            detector, quantity, value, threshold, score = (f.detector, f.quantity, f.value,
                                                           f.threshold, f.score)
            expected = int(round(f.expected_at * _NS)) if f.expected_at is not None else None
            key, details = f.message_key, f.details
        else:
            detector = w.driver.split(":", 1)[0]
            quantity, value, threshold, score, expected, key, details = "", 0.0, None, 0.0, None, "", ()
        if w.flaps:
            details = tuple(d for d in details if d[0] != "flaps") + (("flaps", str(w.flaps)),)
        if w.held:
            details = tuple(d for d in details if d[0] != "held_for_sensor") + (
                ("held_for_sensor", ",".join(w.held)),)
        level = Level(w.level) if state != "cleared" else Level.NONE
        event = WarningEvent(w.id, w.partner, w.station, w.hazard, level, state, w.public, w.since_ns,
                             int(round(t_s * _NS)), detector, quantity, value, threshold, score,
                             expected, w.corroborating, key, details)
        w.last = event
        return event

    # -- checkpoints -----------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """Everything the book knows, as JSON-able data (see :meth:`restore`)."""
        return {"version": 1, "warnings": [warning_to_json(w) for w in self._warnings.values()]}

    @classmethod
    def restore(cls, catalog: Catalog, snapshot: dict, params: LifecycleParams | None = None
                ) -> "WarningBook":
        """A book continuing from ``snapshot``: open warnings stay open and are not re-raised."""
        book = cls(catalog, params)
        for data in snapshot.get("warnings", ()):
            w = warning_from_json(data)
            book._warnings[(w.partner, w.station, w.hazard)] = w
            for name in w.streams:
                book._pending.add((w.partner, w.station, name))
        return book


__all__ = ["LifecycleParams", "PROPAGATION", "WarningBook", "hazard_of", "sensor_streams_first", "stream_id"]
