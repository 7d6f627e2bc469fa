"""The pure part of ingest: an Observation in, line protocol and warning events out. No I/O.

For each observation the pipeline flags every value (:mod:`ingest.qc`), writes one ``reading``
line per value, builds ``x = {"t": time_s, quantity: value, ...}`` from the values that did not
FAIL, steps the station's detector streams (:class:`early_warning.stepper.StationStepper`:
``score_one`` then ``learn_one``, then ``level``; values that FAILed reach only the sensor streams,
which raise a maintenance notice for them), writes one ``score`` line per quantity, and feeds
the warning lifecycle (``early_warning.lifecycle.WarningBook``, with the ``[lifecycle]`` settings)
each stream's level (stream ``detector:quantity``), sensor streams first (a warning of the same
reading is judged knowing its sensor flags). The book may answer with events about other stations
too (a flood wave travelling downstream).

State lives in dicts of slotted objects keyed by station; nothing is re-parsed.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.model import Observation
>>> from riverwatch.settings import Settings
>>> pipe = Pipeline(load_catalog("catalog/demo.toml"), Settings(ingest={"detectors": []}))
>>> lines = []
>>> pipe.process(Observation("rivertown", "gauge-hochtal", 1_800_000_000_000_000_000, 1,
...                          (("water_level", 1.25),)), lines)
[]
>>> lines[0]
'reading,partner=rivertown,station=gauge-hochtal,quantity=water_level,kind=river_gauge value=1.25,qc=1i,seq=1i 1800000000000000000'
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

from detectors.base import DetectorSpec, get
from early_warning.lifecycle import WarningBook
from early_warning.params import lifecycle_params
from early_warning.stepper import DetectorStream, StationStepper
from riverwatch.catalog import Catalog, Station
from riverwatch.model import QC, Level, Observation, WarningEvent
from riverwatch.settings import Settings

from riverwatch import storage
from riverwatch.storage import warning_line
from ingest.qc import QualityControl

log = logging.getLogger(__name__)


#: Tag value of the ``score`` line of a detector that watches the whole station (quantity None).
STATION_WIDE = "station"

_FAIL = QC.FAIL
_isfinite = math.isfinite
#: ``qc=<flag>i,seq=`` per QC flag: formatting an IntEnum with ``:d`` goes through ``Enum.__format__``.
_QC_FIELD = {int(flag): f",qc={int(flag)}i,seq=" for flag in QC}
#: ``_level=<level>i`` per level, for the ``score`` lines.
_LEVEL_FIELD = {int(level): f"_level={int(level)}i" for level in Level}


class StationStreams:
    """Everything the pipeline keeps per station: prebuilt line prefixes and the station's stepper."""

    __slots__ = ("station", "key", "reading_prefix", "score_prefix", "stepper", "qc")

    def __init__(self, station: Station, stepper: StationStepper) -> None:
        self.station = station
        self.key = station.key
        self.qc: dict = {}  # quantity -> StreamQC, filled by the pipeline on first use
        base = f"partner={storage.tag(station.partner)},station={storage.tag(station.id)}"
        kind = storage.tag(station.kind)
        self.reading_prefix = {q: f"{storage.READING},{base},quantity={storage.tag(q)},kind={kind} value="
                               for q in station.quantities}
        self.score_prefix = {q: f"{storage.SCORE},{base},quantity={storage.tag(q or STATION_WIDE)} "
                             for q in [*station.quantities, None]}
        self.stepper = stepper


@dataclass(slots=True)
class PipelineCounters:
    """What the pipeline counts (read by the service summary)."""

    observations: int = 0
    readings: int = 0
    readings_failed: int = 0
    readings_suspect: int = 0
    detector_errors: int = 0
    lifecycle_errors: int = 0


class Pipeline:
    """QC, detectors and the warning lifecycle for one worker; pure (no I/O).

    Parameters
    ----------
    catalog
        The station catalog.
    settings
        ``ingest.detectors`` (names), ``ingest.detector_params`` and ``ingest.publish_scores``.
    specs
        Detector specs to use instead of looking ``ingest.detectors`` up in the registry.
    book
        The warning book; by default a new ``WarningBook`` with the ``lifecycle`` settings.

    Raises
    ------
    ConfigError
        An unknown detector, invalid detector parameters or an unknown ``[lifecycle.<hazard>]``
        (checked once, here).
    """

    def __init__(self, catalog: Catalog, settings: Settings, specs: Iterable[DetectorSpec] | None = None,
                 book: object | None = None) -> None:
        self.catalog = catalog
        self.specs = list(specs) if specs is not None else [get(name) for name in settings.ingest.detectors]
        params = settings.ingest.detector_params
        self.params = {spec.name: spec.parse_params(params.get(spec.name)) for spec in self.specs}
        self.hazards = {spec.name: spec.hazard for spec in self.specs}
        self.publish_scores = settings.ingest.publish_scores
        self.qc = QualityControl(catalog)
        if book is None:
            book = WarningBook(catalog, lifecycle_params(settings))
        self.book = book
        self.stations: dict[tuple[str, str], StationStreams] = {}
        self.counters = PipelineCounters()
        self.latest_time_s = 0.0
        self._restored: dict[tuple, object] = {}

    # ------------------------------------------------------------------ hot path

    def process(self, obs: Observation, out: list[str]) -> list[WarningEvent]:
        """Append the ``reading`` and ``score`` lines of ``obs`` to ``out``; return warning events."""
        key = (obs.partner, obs.station)
        st = self.stations.get(key) or self._station(key)
        time_ns = obs.time_ns
        t = time_ns / 1e9
        seq = obs.seq
        x = {"t": t}
        prefix = st.reading_prefix
        qc_of = st.qc
        counters = self.counters
        tail = f"{seq}i {time_ns}"
        failed = None
        for q, v in obs.values:
            stream = qc_of.get(q) or self._qc_stream(st, q)
            flag = stream.check(t, v)
            out.append(f"{prefix[q]}{v!r}{_QC_FIELD[flag]}{tail}")
            if flag < _FAIL:
                x[q] = v
                if flag > 1:
                    counters.readings_suspect += 1
            else:
                counters.readings_failed += 1
                if failed is None:
                    failed = {}
                failed[q] = v
        counters.observations += 1
        counters.readings += len(obs.values)
        if t > self.latest_time_s:
            self.latest_time_s = t
        stepper = st.stepper
        if not stepper.streams or obs.late:
            return []
        stepper.score(x, failed)
        if self.publish_scores:
            self._score_lines(st, x, time_ns, out)
        return stepper.decide(self.book, x) if self.book is not None else []

    @staticmethod
    def _score_lines(st: StationStreams, x: dict, time_ns: int, out: list[str]) -> None:
        """One ``score`` line per quantity: the finite scores and levels of the streams scored on ``x``."""
        fields: dict[str | None, list[str]] = {}
        for ds in st.stepper.streams:
            if ds.x is not x:
                continue  # not scored on this message
            score = ds.score
            if _isfinite(score):
                name = ds.name
                level = ds.level
                part = f"{name}={float(score)!r},{name}{_LEVEL_FIELD.get(level) or f'_level={level:d}i'}"
                parts = fields.get(ds.quantity)
                if parts is None:
                    fields[ds.quantity] = [part]
                else:
                    parts.append(part)
        prefix = st.score_prefix
        for q, parts in fields.items():
            out.append(f"{prefix[q]}{','.join(parts)} {time_ns}")

    def _stream_failed(self, station: Station, ds: DetectorStream, stage: str) -> None:
        """Count (and log, the first few detector errors) a stream that raised; the worker goes on."""
        if stage == "lifecycle":
            self.counters.lifecycle_errors += 1
            log.exception("warning lifecycle failed on %s/%s %s", *station.key, ds.stream)
            return
        self.counters.detector_errors += 1
        if self.counters.detector_errors <= 10:
            log.exception("detector %s on %s failed", ds.name, ds.quantity)

    # ------------------------------------------------------------------ set-up and time

    def _qc_stream(self, st: StationStreams, quantity: str):
        """The QC stream of ``quantity`` at ``st``, cached on the station (the QC state stays in ``qc``)."""
        stream = st.qc[quantity] = self.qc.stream(st.key, quantity)
        return stream

    def _station(self, key: tuple[str, str]) -> StationStreams:
        station = self.catalog.station(*key)
        # sensor streams first: the book judges the reading's warnings knowing its sensor flags
        private = getattr(getattr(self.book, "params", None), "private_hazards", ("sensor",))
        stepper = StationStepper.build(station, self.specs, self.params, private=private,
                                       restored=lambda name, q: self._restored.pop((key, name, q), None),
                                       on_error=self._stream_failed)
        st = self.stations[key] = StationStreams(station, stepper)
        return st

    def tick(self, t_s: float | None = None) -> list[WarningEvent]:
        """Advance the warning book's clock (default: the latest reading time seen)."""
        if self.book is None:
            return []
        try:
            return list(self.book.tick(self.latest_time_s if t_s is None else t_s))
        except Exception:
            self.counters.lifecycle_errors += 1
            log.exception("warning lifecycle tick failed")
            return []

    def open_warnings(self) -> list:
        """The book's open warnings (empty without a lifecycle)."""
        return list(self.book.open_warnings()) if self.book is not None else []

    # ------------------------------------------------------------------ checkpoints

    def snapshot(self) -> dict:
        """Detector objects, QC state and the warning book, ready to pickle."""
        detectors = {(st.key, ds.name, ds.quantity): ds.detector
                     for st in self.stations.values() for ds in st.stepper.streams}
        detectors.update(self._restored)
        return {"detectors": detectors, "qc": dict(self.qc.streams), "latest_time_s": self.latest_time_s,
                "book": self.book.snapshot() if self.book is not None else None}

    def restore(self, snapshot: dict) -> None:
        """Take back a :meth:`snapshot` (detectors are reattached when their station shows up)."""
        known = {(st.key, spec.name) for st in self.catalog.stations for spec in self.specs}
        self._restored = {k: v for k, v in snapshot.get("detectors", {}).items() if (k[0], k[1]) in known}
        self.stations.clear()
        self.qc.streams.update(snapshot.get("qc", {}))
        self.latest_time_s = snapshot.get("latest_time_s", 0.0)
        if snapshot.get("book") is not None and self.book is not None:
            params = getattr(self.book, "params", None)
            self.book = type(self.book).restore(self.catalog, snapshot["book"], params)

    # ------------------------------------------------------------------ other lines

    def warning_line(self, event: WarningEvent) -> str:
        """The ``warning`` line of one event."""
        return warning_line(event, self.catalog)

