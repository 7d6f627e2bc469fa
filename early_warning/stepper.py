"""One station's detector streams, stepped reading by reading: the one loop that the ingest
pipeline, the replay of recorded series and the replay of history all call.

For each reading set ``x = {"t": …, <quantity>: value, …}`` :meth:`StationStepper.score` runs every
stream whose quantity ``x`` holds (station-wide streams always): ``score_one(x)``, then
``learn_one(x)``, then ``level(score)``, and keeps score, level and ``x`` on the stream.
:meth:`StationStepper.decide` then feeds the warning book the level of every stream scored on
``x``, in stream order (sensor streams first, :func:`~early_warning.params.sensor_streams_first`),
skipping quiet streams the book holds nothing for; the evidence is read, when the book asks for it,
after every stream has learnt ``x``.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from detectors.base import get
>>> from early_warning.lifecycle import WarningBook
>>> cat = load_catalog("catalog/demo.toml")
>>> book = WarningBook(cat)
>>> stepper = StationStepper.build(cat.station("rivertown", "gauge-hochtal"), [get("level_threshold")])
>>> [ds.stream for ds in stepper.streams]
['level_threshold:water_level']
>>> events = []
>>> for i in range(3):
...     x = {"t": 1.8e9 + 600 * i, "water_level": 2.7}
...     stepper.score(x)
...     events += stepper.decide(book, x)
>>> [(ds.stream, ds.level.name, ds.x is x) for ds in stepper.streams]
[('level_threshold:water_level', 'WATCH', True)]
>>> [(e.station, e.state, e.level.name) for e in events][0]
('gauge-hochtal', 'raised', 'WATCH')
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from detectors.base import DetectorSpec, Finding
from early_warning.params import hazard_of, sensor_streams_first, stream_id
from riverwatch.catalog import Station
from riverwatch.model import Level, WarningEvent

_NONE = Level.NONE


class DetectorStream:
    """One detector instance on one stream, with its last score, level and input.

    ``stream`` is the book's stream name (``detector`` or ``detector:quantity``); ``x`` is the
    reading set it was last scored on (``stream.x is x``: scored on ``x``).
    """

    __slots__ = ("name", "quantity", "stream", "hazard", "detector", "score", "level", "x")

    def __init__(self, name: str, quantity: str | None, detector: object, hazard: str) -> None:
        self.name = name
        self.quantity = quantity
        self.stream = stream_id(name, quantity)
        self.hazard = hazard_of(detector, hazard)
        self.detector = detector
        self.score = 0.0
        self.level = _NONE
        self.x: dict | None = None

    def evidence(self) -> Finding:
        """The detector's evidence for its last score."""
        return self.detector.evidence(self.x, self.score)


#: Called with the station, the failing stream and the stage (``"detector"`` or ``"lifecycle"``)
#: inside the ``except``.
OnError = Callable[[Station, DetectorStream, str], None]


class StationStepper:
    """The detector streams of one station, in the order the book is fed.

    Parameters
    ----------
    station
        The station.
    streams
        Its detector streams (see :meth:`build`).
    on_error
        Called when a detector or the book raises (inside the ``except``, so it may log the
        traceback); the stream is skipped for that reading. None: the error propagates.
    """

    __slots__ = ("station", "key", "streams", "on_error", "private")

    def __init__(self, station: Station, streams: list[DetectorStream], on_error: OnError | None = None,
                 private: Iterable[str] = ("sensor",)) -> None:
        self.station = station
        self.key = station.key
        self.streams = streams
        self.on_error = on_error
        self.private = frozenset(private)   # the maintenance (sensor) hazards: they see QC-failed values

    @classmethod
    def build(cls, station: Station, specs: Iterable[DetectorSpec], params: Mapping[str, object] | None = None,
              *, private: Iterable[str] = ("sensor",), has: Callable[[str], bool] | None = None,
              restored: Callable[[str, str | None], object | None] | None = None,
              on_error: OnError | None = None) -> "StationStepper":
        """The streams of every spec that applies to ``station``, sensor (``private``) streams first.

        ``params`` holds each detector's parameters by name (defaults when absent); ``has(quantity)``
        leaves out quantities without data; ``restored(name, quantity)`` may return a detector to
        continue (from a checkpoint) instead of a new one.
        """
        params = params or {}
        streams = []
        for spec in specs:
            for quantity in spec.streams(station, params.get(spec.name)):
                if quantity is not None and has is not None and not has(quantity):
                    continue
                detector = restored(spec.name, quantity) if restored is not None else None
                if detector is None:
                    detector = spec.build(station, quantity, params.get(spec.name))
                streams.append(DetectorStream(spec.name, quantity, detector, spec.hazard))
        return cls(station, sensor_streams_first(streams, lambda ds: ds.hazard, private), on_error, private)

    def score(self, x: dict, failed: Mapping[str, float] | None = None) -> None:
        """Score, learn and level ``x`` on every stream whose quantity it holds.

        ``failed`` holds the values of the same reading that QC failed (gross range: a logger's
        −9999, a negative turbidity). No hazard detector sees them; a sensor stream (a ``private``
        hazard) of such a quantity is scored on ``x`` with its value added, so a probe sending error
        codes raises its maintenance notice (``sensor_fault``'s *impossible*).
        """
        with_failed = None
        for ds in self.streams:
            q = ds.quantity
            seen = x
            if q is not None and q not in x:
                if not failed or q not in failed or ds.hazard not in self.private:
                    continue
                seen = with_failed = with_failed or {**x, **failed}
            det = ds.detector
            try:
                score = det.score_one(seen)
                det.learn_one(seen)
                level = det.level(score)
            except Exception:  # a detector bug must not stop the others: report it, keep going
                if self.on_error is None:
                    raise
                self.on_error(self.station, ds, "detector")
                continue
            ds.score, ds.level, ds.x = score, level, x

    def decide(self, book, x: dict) -> list[WarningEvent]:
        """Feed ``book`` the levels of the streams scored on ``x`` (see the module docstring)."""
        events: list[WarningEvent] = []
        key, station, t = self.key, self.station, x["t"]
        for ds in self.streams:
            if ds.x is not x:
                continue  # not scored on this reading
            level = ds.level
            if level == _NONE and not book.pending(key, ds.stream):
                continue
            try:
                events.extend(book.update(station, ds.hazard, ds.stream, level, t, ds.evidence))
            except Exception:
                if self.on_error is None:
                    raise
                self.on_error(self.station, ds, "lifecycle")
        return events
