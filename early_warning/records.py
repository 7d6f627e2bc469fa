"""What the warning book keeps: one :class:`OpenWarning` per station and hazard with the level of
each of its streams (:class:`StreamLevel`), and their JSON form for checkpoints.

Examples
--------
>>> w = OpenWarning("rivertown", "gauge-hochtal", "flood", level=2,
...                 streams={"level_threshold:water_level": StreamLevel(2, 10.0, None, 10.0)})
>>> warning_from_json(warning_to_json(w)) == w
True
>>> sorted(quantities_of(w.streams.items()))
['water_level']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detectors.base import Finding
from early_warning.params import PROPAGATION
from riverwatch.model import Level, WarningEvent


@dataclass(slots=True)
class StreamLevel:
    """One stream's level in a warning: since when it reported (``t_s``), its evidence, and when
    that evidence was read (``read_s``)."""

    level: int
    t_s: float
    finding: Finding | None
    read_s: float


@dataclass(slots=True)
class OpenWarning:
    """The book's record of one station's hazard: open while ``level`` > 0, kept a while after it
    cleared (a flap re-opens it under the same ``id``); ``rose_s`` is when its level last went up
    (raised, re-opened or escalated)."""

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
    streams: dict[str, StreamLevel] = field(default_factory=dict)
    last: WarningEvent | None = None
    rose_s: float = 0.0

    @property
    def open(self) -> bool:
        """Whether the warning is open (its level is above NONE)."""
        return self.level > 0


def own_level(w: OpenWarning) -> int:
    """The highest level of ``w``'s own streams (those not propagated from upstream)."""
    return max((s.level for n, s in w.streams.items() if not n.startswith(PROPAGATION + ":")), default=0)


def departing(details) -> list[str]:
    """The quantities a multivariate finding or event names as departing together (its
    ``quantities`` detail), in order.

    >>> departing((("quantities", "redox,chlorine_2"), ("z", "redox=23.4"))), departing(())
    (['redox', 'chlorine_2'], [])
    """
    for k, v in details:
        if k == "quantities":
            return [q for q in v.split(",") if q]
    return []


def quantities_of(streams) -> frozenset[str]:
    """Quantities named by ``(stream name, StreamLevel)`` pairs: each finding's quantity and its
    ``quantities`` detail (multivariate evidence), or the stream name's ``:quantity`` suffix."""
    quantities: set[str] = set()
    for name, s in streams:
        if s.finding is not None:
            quantities.update(departing(s.finding.details))
            quantities.add(s.finding.quantity)
        elif ":" in name:
            quantities.add(name.split(":", 1)[1])
    quantities.discard("")
    return frozenset(quantities)


# -- JSON (checkpoints) ----------------------------------------------------------------------------

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


def warning_to_json(w: OpenWarning) -> dict:
    """``w`` as JSON-able data (see :func:`warning_from_json`)."""
    return {"partner": w.partner, "station": w.station, "hazard": w.hazard, "id": w.id, "level": w.level,
            "since_ns": w.since_ns, "level_since_s": w.level_since_s, "quiet_since_s": w.quiet_since_s,
            "cleared_at_s": w.cleared_at_s, "flaps": w.flaps, "public": w.public,
            "corroborating": list(w.corroborating), "propagating": w.propagating, "held": list(w.held),
            "driver": w.driver,
            "streams": {name: {"level": s.level, "t_s": s.t_s, "read_s": s.read_s,
                               "finding": _finding_to_json(s.finding)} for name, s in w.streams.items()},
            "last": _event_to_json(w.last), "rose_s": w.rose_s}


def warning_from_json(d: dict) -> OpenWarning:
    """The :class:`OpenWarning` of :func:`warning_to_json`'s data."""
    return OpenWarning(d["partner"], d["station"], d["hazard"], d["id"], d["level"], d["since_ns"],
                       d["level_since_s"], d["quiet_since_s"], d["cleared_at_s"], d["flaps"], d["public"],
                       tuple(d["corroborating"]), d["propagating"], tuple(d.get("held", ())), d["driver"],
                       {name: StreamLevel(s["level"], s["t_s"], _finding_from_json(s["finding"]), s["read_s"])
                        for name, s in d["streams"].items()},
                       _event_from_json(d["last"]), d.get("rose_s", d["level_since_s"]))
