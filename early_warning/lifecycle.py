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
Feed a station's sensor streams before its other streams of the same reading (the pipeline does),
so that a warning and the flag of the same reading are judged together.

Streams
-------
``detector`` names a stream of the station: the detector name for station-wide detectors
(``"water_quality_event"``) and ``"<detector>:<quantity>"`` for per-quantity ones (see
:func:`stream_id`), so that two quantities of one detector do not overwrite each other. Events
carry the plain detector name.

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

from dataclasses import dataclass, field
from typing import Callable, Iterable, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Finding
from riverwatch.catalog import Catalog, Station
from riverwatch.model import Level, WarningEvent

T = TypeVar("T")

PROPAGATION = "propagation"
_NS = 1_000_000_000


def stream_id(detector: str, quantity: str | None) -> str:
    """The stream name the book expects: ``detector`` or ``detector:quantity``.

    >>> stream_id("level_threshold", "water_level"), stream_id("water_quality_event", None)
    ('level_threshold:water_level', 'water_quality_event')
    """
    return f"{detector}:{quantity}" if quantity else detector


def hazard_of(detector: object, default: str) -> str:
    """The hazard of a detector instance (``.hazard`` when it has one, e.g. level_threshold's
    quantity-dependent hazard), else the registered ``default``."""
    return getattr(detector, "hazard", None) or default


class LifecycleParams(BaseModel):
    """Parameters of the warning lifecycle (all times in seconds).

    min_duration_s
        A level holds at least this long before it is lowered or cleared.
    clear_after_s
        Quiet time (every stream at NONE) needed to clear; multiplied by 1 + flaps (up to
        ``max_flap_backoff``) for a warning that has flapped.
    flap_window_s
        A warning raised again within this time after clearing re-opens under its old id.
    stale_after_s
        A stream that has not reported for this long counts as NONE (dead station, removed sensor).
    refresh_s
        Evidence of the driving stream is re-read at most this often while its level is unchanged
        (an ``updated`` event follows when its forecast crossing moved by ``expected_at_tolerance_s``).
    corroborate_hazards
        Hazards that are public only when corroborated.
    private_hazards
        Hazards that are always maintenance notices.
    propagate_hazards, propagate_min_level, propagated_level
        Which warnings travel downstream, from which level, and at which level they arrive.
    hold_hazards
        Hazards held back (non-public) while their evidence rests only on flagged sensors.
    hold_exempt_faults
        Sensor faults (``fault`` detail of a finding) that do not make a quantity suspect.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    min_duration_s: float = Field(1800.0, ge=0)
    clear_after_s: float = Field(1800.0, ge=0)
    flap_window_s: float = Field(3 * 3600.0, ge=0)
    max_flap_backoff: float = Field(4.0, ge=1)
    stale_after_s: float = Field(6 * 3600.0, gt=0)
    refresh_s: float = Field(900.0, ge=0)
    expected_at_tolerance_s: float = Field(900.0, ge=0)
    corroborate_hazards: tuple[str, ...] = ("anomaly", "water_quality")
    private_hazards: tuple[str, ...] = ("sensor",)
    propagate_hazards: tuple[str, ...] = ("flood",)
    propagate_min_level: Level = Level.WATCH
    propagated_level: Level = Level.WATCH
    hold_hazards: tuple[str, ...] = ("flood", "water_quality", "anomaly")
    hold_exempt_faults: tuple[str, ...] = ("dropout",)


@dataclass(slots=True)
class _Stream:
    level: int
    t_s: float
    finding: Finding | None
    read_s: float


@dataclass(slots=True)
class _Warning:
    partner: str
    station: str
    hazard: str
    id: str = ""
    level: int = 0
    since_ns: int = 0
    level_since_s: float = 0.0
    quiet_since_s: float | None = None
    cleared_at_s: float | None = None
    flaps: int = 0
    public: bool = False
    corroborating: tuple[str, ...] = ()
    propagating: bool = False
    held: tuple[str, ...] = ()
    driver: str = ""
    streams: dict[str, _Stream] = field(default_factory=dict)
    last: WarningEvent | None = None

    @property
    def open(self) -> bool:
        return self.level > 0


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
        self._warnings: dict[tuple[str, str, str], _Warning] = {}
        self._pending: set[tuple[str, str, str]] = set()
        self._neighbours: dict[str, tuple[str, ...]] = {}
        for st in catalog.stations:
            near = [s.id for s in catalog.upstream_of(st.id)]
            if st.downstream:
                near.append(st.downstream)
            self._neighbours[st.id] = tuple(dict.fromkeys(near))

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
            w = self._warnings[key] = _Warning(station.partner, station.id, hazard)
        if hazard not in self.params.private_hazards:
            self._set_stream(w, detector, level, t_s, finding_fn)
            return self._evaluate(w, t_s)
        before = self._suspect(station.partner, station.id)
        self._set_stream(w, detector, level, t_s, finding_fn)
        events = self._evaluate(w, t_s)
        if self._suspect(station.partner, station.id) != before:
            events += self._refresh_station(station.partner, station.id, t_s)
        return events

    def tick(self, t_s: float) -> list[WarningEvent]:
        """Time-based transitions at ``t_s``: stale streams, de-escalation and clears, expiry."""
        events: list[WarningEvent] = []
        stale = t_s - self.params.stale_after_s
        private = self.params.private_hazards
        for key, w in list(self._warnings.items()):
            for name, s in list(w.streams.items()):
                if s.t_s < stale and not name.startswith(PROPAGATION + ":"):
                    before = self._suspect(w.partner, w.station) if w.hazard in private else None
                    self._drop_stream(w, name)
                    if before is not None and self._suspect(w.partner, w.station) != before:
                        events += self._refresh_station(w.partner, w.station, t_s)
            if w.open:
                events += self._evaluate(w, t_s)
            elif (not w.streams and (w.cleared_at_s is None
                                     or t_s - w.cleared_at_s > self.params.flap_window_s)):
                del self._warnings[key]
        return events

    def open_warnings(self) -> list[WarningEvent]:
        """The latest event of every open warning (public and maintenance)."""
        return [w.last for w in self._warnings.values() if w.open and w.last is not None]

    # -- streams ---------------------------------------------------------------------------------
    def _set_stream(self, w: _Warning, name: str, level: int, t_s: float,
                    finding_fn: Callable[[], Finding] | None, finding: Finding | None = None) -> None:
        if not level:
            self._drop_stream(w, name)
            return
        s = w.streams.get(name)
        if s is None or s.level != level or w.hazard in self.params.private_hazards or (
                t_s - s.read_s >= self.params.refresh_s and name == w.driver):
            finding = finding if finding is not None else finding_fn() if finding_fn else None
            w.streams[name] = _Stream(level, t_s, finding, t_s)
        else:
            s.t_s = t_s
        self._pending.add((w.partner, w.station, name))

    def _drop_stream(self, w: _Warning, name: str) -> None:
        w.streams.pop(name, None)
        key = (w.partner, w.station, name)
        if key in self._pending and not any(
                name in o.streams for k, o in self._warnings.items()
                if k[0] == w.partner and k[1] == w.station and o is not w):
            self._pending.discard(key)

    # -- the state machine -----------------------------------------------------------------------
    def _target(self, w: _Warning) -> tuple[int, str]:
        best, driver = 0, ""
        for name, s in w.streams.items():
            if s.level > best or (s.level == best and name == w.driver):
                best, driver = s.level, name
        return best, driver

    def _evaluate(self, w: _Warning, t_s: float) -> list[WarningEvent]:
        p = self.params
        target, driver = self._target(w)
        events: list[WarningEvent] = []
        if not w.open:
            if target:
                events.append(self._open(w, target, driver, t_s))
        elif target > w.level:
            w.level, w.level_since_s, w.quiet_since_s, w.driver = target, t_s, None, driver
            self._refresh_public(w)
            events.append(self._event(w, "escalated", t_s))
        elif target < w.level:
            held = t_s - w.level_since_s >= p.min_duration_s
            if target:
                w.quiet_since_s = None
                if held:
                    w.level, w.level_since_s, w.driver = target, t_s, driver
                    self._refresh_public(w)
                    events.append(self._event(w, "deescalated", t_s))
            else:
                if w.quiet_since_s is None:
                    w.quiet_since_s = t_s
                wait = p.clear_after_s * min(1.0 + w.flaps, p.max_flap_backoff)
                if held and t_s - w.quiet_since_s >= wait:
                    events.append(self._clear(w, t_s))
        else:
            w.quiet_since_s = None
            changed = self._refresh_public(w)
            if driver != w.driver or changed or self._moved(w, driver):
                w.driver = driver
                events.append(self._event(w, "updated", t_s))
        events += self._propagate(w, t_s)
        events += self._refresh_neighbours(w, t_s)
        return events

    def _open(self, w: _Warning, level: int, driver: str, t_s: float) -> WarningEvent:
        p = self.params
        reopen = w.cleared_at_s is not None and t_s - w.cleared_at_s <= p.flap_window_s and w.id
        w.level, w.level_since_s, w.quiet_since_s, w.driver = level, t_s, None, driver
        w.cleared_at_s = None
        if reopen:
            w.flaps += 1
            self._refresh_public(w)
            return self._event(w, "escalated", t_s)
        w.since_ns = int(round(t_s * _NS))
        w.id = f"{w.partner}.{w.station}.{w.hazard}.{w.since_ns}"
        w.flaps = 0
        self._refresh_public(w)
        return self._event(w, "raised", t_s)

    def _clear(self, w: _Warning, t_s: float) -> WarningEvent:
        w.level, w.cleared_at_s, w.quiet_since_s = 0, t_s, None
        event = self._event(w, "cleared", t_s)
        return event

    def _moved(self, w: _Warning, driver: str) -> bool:
        s = w.streams.get(driver)
        if s is None or s.finding is None or w.last is None:
            return False
        new = s.finding.expected_at
        old = w.last.expected_at_ns
        if (new is None) != (old is None):
            return True
        return new is not None and abs(new - old / _NS) >= self.params.expected_at_tolerance_s

    # -- public or maintenance -------------------------------------------------------------------
    def _refresh_public(self, w: _Warning) -> bool:
        """Recompute ``public``, ``corroborating`` and ``held``; True when any changed."""
        p = self.params
        corroborating = tuple(sorted(n for n in self._neighbours.get(w.station, ())
                                     if self._is_open(w.partner, n, w.hazard)))
        held = self._held_by(w)
        if w.hazard in p.private_hazards or held:
            public = False
        elif w.hazard in p.corroborate_hazards:
            public = bool(corroborating) or self._same_site(w)
        else:
            public = True
        changed = public != w.public or corroborating != w.corroborating or held != w.held
        w.public, w.corroborating, w.held = public, corroborating, held
        return changed

    def _same_site(self, w: _Warning) -> bool:
        """Several quantities of the station depart together (streams or multivariate evidence)."""
        return len(_quantities(w.streams.items())) >= 2

    def _suspect(self, partner: str, station_id: str) -> frozenset[str]:
        """Quantities of the station a sensor stream currently flags (dropouts aside)."""
        out: set[str] = set()
        for hazard in self.params.private_hazards:
            w = self._warnings.get((partner, station_id, hazard))
            if w is None:
                continue
            for name, s in w.streams.items():
                f = s.finding
                if f is not None and dict(f.details).get("fault") in self.params.hold_exempt_faults:
                    continue
                q = f.quantity if f is not None and f.quantity else name.partition(":")[2]
                if q:
                    out.add(q)
        return frozenset(out)

    def _held_by(self, w: _Warning) -> tuple[str, ...]:
        """The suspect quantities ``w`` rests on when it must be held back, else ``()``."""
        if w.hazard not in self.params.hold_hazards:
            return ()
        evidence = _quantities((n, s) for n, s in w.streams.items() if not n.startswith(PROPAGATION + ":"))
        if evidence:
            suspect = self._suspect(w.partner, w.station)
            if not suspect or not evidence <= suspect:
                return ()
            held = tuple(sorted(evidence))
        elif w.held:
            held = w.held  # quiet: a held warning stays held until it clears
        else:
            return ()
        return () if self._corroborated_elsewhere(w) else held

    def _corroborated_elsewhere(self, w: _Warning) -> bool:
        """A propagated warning from upstream, or a neighbour's own unheld warning of the hazard."""
        if any(n.startswith(PROPAGATION + ":") for n in w.streams):
            return True
        for n in self._neighbours.get(w.station, ()):
            st = self.catalog.by_id(n)
            o = self._warnings.get((st.partner, st.id, w.hazard)) if st else None
            if o is not None and o.open and not o.held and self._own_level(o) > 0:
                return True
        return False

    def _refresh_station(self, partner: str, station_id: str, t_s: float) -> list[WarningEvent]:
        """After the station's suspect quantities changed: re-judge its held-back hazards."""
        events: list[WarningEvent] = []
        for hazard in self.params.hold_hazards:
            o = self._warnings.get((partner, station_id, hazard))
            if o is not None and o.open and self._refresh_public(o):
                events.append(self._event(o, "updated", t_s))
                events += self._propagate(o, t_s)
                events += self._refresh_neighbours(o, t_s)
        return events

    def _is_open(self, partner: str, station_id: str, hazard: str) -> bool:
        st = self.catalog.by_id(station_id)
        if st is None:
            return False
        o = self._warnings.get((st.partner, st.id, hazard))
        return o is not None and o.open and not o.held

    def _refresh_neighbours(self, w: _Warning, t_s: float) -> list[WarningEvent]:
        """Neighbours whose publicity may depend on ``w``: corroborated hazards, and warnings whose
        hold ``w`` lifts or imposes (others only list ``w`` as corroborating at their next event)."""
        corroborate = w.hazard in self.params.corroborate_hazards
        if not corroborate and w.hazard not in self.params.hold_hazards:
            return []
        events = []
        for n in self._neighbours.get(w.station, ()):
            st = self.catalog.by_id(n)
            o = self._warnings.get((st.partner, st.id, w.hazard)) if st else None
            if (o is not None and o.open and (corroborate or self._held_by(o) != o.held)
                    and self._refresh_public(o)):
                events.append(self._event(o, "updated", t_s))
                events += self._propagate(o, t_s)
        return events

    # -- upstream → downstream -------------------------------------------------------------------
    def _own_level(self, w: _Warning) -> int:
        return max((s.level for n, s in w.streams.items() if not n.startswith(PROPAGATION + ":")),
                   default=0)

    def _propagate(self, w: _Warning, t_s: float) -> list[WarningEvent]:
        p = self.params
        if w.hazard not in p.propagate_hazards:
            return []
        start = (w.open and not w.held and self._own_level(w) >= p.propagate_min_level
                 and not w.propagating)
        stop = (not w.open or bool(w.held)) and w.propagating
        if not (start or stop):
            return []
        w.propagating = bool(start)
        origin = self.catalog.by_id(w.station)
        events: list[WarningEvent] = []
        name = f"{PROPAGATION}:{w.station}"
        for st, travel_s in self._downstream(origin):
            d = self._warnings.get((st.partner, st.id, w.hazard))
            if d is None:
                if not start:
                    continue
                d = self._warnings[(st.partner, st.id, w.hazard)] = _Warning(st.partner, st.id, w.hazard)
            finding = self._propagated_finding(w, origin, travel_s, t_s) if start else None
            self._set_stream(d, name, int(p.propagated_level) if start else 0, t_s, None, finding)
            events += self._evaluate(d, t_s)
        return events

    def _downstream(self, origin: Station | None) -> list[tuple[Station, float]]:
        out: list[tuple[Station, float]] = []
        seen = {origin.id} if origin else set()
        st, travel = origin, 0.0
        while st is not None and st.downstream and st.downstream not in seen:
            travel += (st.travel_time_min or 0.0) * 60.0
            st = self.catalog.by_id(st.downstream)
            if st is None:
                break
            seen.add(st.id)
            out.append((st, travel))
        return out

    def _propagated_finding(self, w: _Warning, origin: Station | None, travel_s: float,
                            t_s: float) -> Finding:
        src = w.streams.get(w.driver)
        f = src.finding if src is not None else None
        return Finding(PROPAGATION, w.hazard, Level(self.params.propagated_level),
                       f.quantity if f else "water_level", f.value if f else 0.0,
                       f.score if f else 0.0, f.threshold if f else None, t_s + travel_s,
                       f"{w.hazard}.upstream",
                       (("upstream", w.station), ("upstream_partner", w.partner),
                        ("upstream_name", origin.name if origin else w.station),
                        ("upstream_level", Level(w.level).name.lower()),
                        ("travel_time_min", f"{travel_s / 60.0:g}")))

    # -- events ----------------------------------------------------------------------------------
    def _event(self, w: _Warning, state: str, t_s: float) -> WarningEvent:
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
        return {"version": 1, "warnings": [_warning_to_json(w) for w in self._warnings.values()]}

    @classmethod
    def restore(cls, catalog: Catalog, snapshot: dict, params: LifecycleParams | None = None
                ) -> "WarningBook":
        """A book continuing from ``snapshot``: open warnings stay open and are not re-raised."""
        book = cls(catalog, params)
        for data in snapshot.get("warnings", ()):
            w = _warning_from_json(data)
            book._warnings[(w.partner, w.station, w.hazard)] = w
            for name in w.streams:
                book._pending.add((w.partner, w.station, name))
        return book


def _quantities(streams) -> frozenset[str]:
    """Quantities named by ``(stream name, _Stream)`` pairs: each finding's quantity and its
    ``quantities`` detail (multivariate evidence), or the stream name's ``:quantity`` suffix."""
    quantities: set[str] = set()
    for name, s in streams:
        if s.finding is not None:
            for k, v in s.finding.details:
                if k == "quantities":
                    quantities.update(q for q in v.split(",") if q)
            quantities.add(s.finding.quantity)
        elif ":" in name:
            quantities.add(name.split(":", 1)[1])
    quantities.discard("")
    return frozenset(quantities)


def _finding_to_json(f: Finding | None) -> dict | None:
    if f is None:
        return None
    return {"detector": f.detector, "hazard": f.hazard, "level": int(f.level), "quantity": f.quantity,
            "value": f.value, "score": f.score, "threshold": f.threshold, "expected_at": f.expected_at,
            "message_key": f.message_key, "details": [list(d) for d in f.details]}


def _finding_from_json(d: dict | None) -> Finding | None:
    if d is None:
        return None
    return Finding(d["detector"], d["hazard"], Level(d["level"]), d["quantity"], d["value"], d["score"],
                   d["threshold"], d["expected_at"], d["message_key"],
                   tuple((str(k), str(v)) for k, v in d["details"]))


def _event_to_json(e: WarningEvent | None) -> dict | None:
    if e is None:
        return None
    return {"id": e.id, "partner": e.partner, "station": e.station, "hazard": e.hazard,
            "level": int(e.level), "state": e.state, "public": e.public, "since_ns": e.since_ns,
            "time_ns": e.time_ns, "detector": e.detector, "quantity": e.quantity, "value": e.value,
            "threshold": e.threshold, "score": e.score, "expected_at_ns": e.expected_at_ns,
            "corroborating": list(e.corroborating), "message_key": e.message_key,
            "details": [list(d) for d in e.details]}


def _event_from_json(d: dict | None) -> WarningEvent | None:
    if d is None:
        return None
    return WarningEvent(d["id"], d["partner"], d["station"], d["hazard"], Level(d["level"]), d["state"],
                        d["public"], d["since_ns"], d["time_ns"], d["detector"], d["quantity"],
                        d["value"], d["threshold"], d["score"], d["expected_at_ns"],
                        tuple(d["corroborating"]), d["message_key"],
                        tuple((str(k), str(v)) for k, v in d["details"]))


def _warning_to_json(w: _Warning) -> dict:
    return {"partner": w.partner, "station": w.station, "hazard": w.hazard, "id": w.id, "level": w.level,
            "since_ns": w.since_ns, "level_since_s": w.level_since_s, "quiet_since_s": w.quiet_since_s,
            "cleared_at_s": w.cleared_at_s, "flaps": w.flaps, "public": w.public,
            "corroborating": list(w.corroborating), "propagating": w.propagating, "held": list(w.held),
            "driver": w.driver,
            "streams": {name: {"level": s.level, "t_s": s.t_s, "read_s": s.read_s,
                               "finding": _finding_to_json(s.finding)} for name, s in w.streams.items()},
            "last": _event_to_json(w.last)}


def _warning_from_json(d: dict) -> _Warning:
    return _Warning(d["partner"], d["station"], d["hazard"], d["id"], d["level"], d["since_ns"],
                    d["level_since_s"], d["quiet_since_s"], d["cleared_at_s"], d["flaps"], d["public"],
                    tuple(d["corroborating"]), d["propagating"], tuple(d.get("held", ())), d["driver"],
                    {name: _Stream(s["level"], s["t_s"], _finding_from_json(s["finding"]), s["read_s"])
                     for name, s in d["streams"].items()},
                    _event_from_json(d["last"]))


__all__ = ["LifecycleParams", "PROPAGATION", "WarningBook", "hazard_of", "stream_id"]


def sensor_streams_first(streams: Iterable[T], hazard: Callable[[T], str],
                         private: Iterable[str] = ("sensor",)) -> list[T]:
    """``streams`` in the order the warning book is fed: the ``private`` hazards' (sensor) first.

    The book holds back a warning resting only on quantities a sensor stream flags, and it can
    judge a reading's warning together with that reading's flag only when the flag comes first
    (see :mod:`early_warning.lifecycle`). Each group keeps its own order. The ingest pipeline and
    :func:`evaluation.replay.replay` both use this order.

    >>> names = ["level_threshold:flood", "sensor_fault:sensor", "rate_of_rise:flood"]
    >>> sensor_streams_first(names, lambda s: s.split(":")[1])
    ['sensor_fault:sensor', 'level_threshold:flood', 'rate_of_rise:flood']
    """
    private = frozenset(private)
    return sorted(streams, key=lambda stream: hazard(stream) not in private)
