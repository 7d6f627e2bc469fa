"""The worker's checkpoint: replay clocks, QC, detectors and the warning book, in independent parts.

The file ``<state_dir>/checkpoint/ingest.pkl`` is a pickle of ``{"version": 2, "parts": {key: bytes}}``
whose keys are plain tuples and whose values are pickled separately: one part per detector (key
``("detectors", (station key, detector, quantity))``), one per QC stream (``("qc", stream key)``),
one for the replay clocks (``("clocks",)``) and one for each other entry of
:meth:`ingest.pipeline.Pipeline.snapshot` (``("book",)``, ``("latest_time_s",)`` …). A part that no
longer loads (a detector class changed incompatibly, a flipped bit) is *reset*: left out of what is
restored, logged with its key and counted (``riverwatch_checkpoint_parts_reset_total``); the rest
is kept. A part that cannot be pickled when saving is left out of the file (logged, counted as an
error). A checkpoint of the first format (version 1, one pickle of everything) is still read whole.

Examples
--------
>>> clocks = {("rivertown", "gauge-hochtal"): (7, 1.7e9, 1)}
>>> blob, failed = dump_parts(split_state(clocks, {"detectors": {("a", "d", "q"): 1.5}, "book": None}))
>>> parts, reset = load_parts(blob)
>>> join_parts(parts), reset
(({('rivertown', 'gauge-hochtal'): (7, 1700000000.0, 1)},
  {'detectors': {('a', 'd', 'q'): 1.5}, 'qc': {}, 'book': None}), [])
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

from riverwatch.durable import write_atomic

from ingest.validate import StreamClock

log = logging.getLogger(__name__)

VERSION = 2
#: The version of a checkpoint that is one pickle of everything (read whole).
WHOLE_VERSION = 1
FILE_NAME = "ingest.pkl"
#: Pipeline snapshot entries (dicts) stored as one part per entry.
PER_ENTRY = ("detectors", "qc")
CLOCKS = ("clocks",)

Key = tuple


def split_state(clocks: dict, snapshot: dict) -> dict[Key, object]:
    """The parts of a checkpoint: the replay clocks, and the pipeline ``snapshot`` by entry.

    >>> sorted(split_state({}, {"detectors": {"k1": 1, "k2": 2}, "book": {}}))
    [('book',), ('clocks',), ('detectors', 'k1'), ('detectors', 'k2')]
    """
    parts: dict[Key, object] = {CLOCKS: clocks}
    for name, value in snapshot.items():
        if name in PER_ENTRY and isinstance(value, dict):
            parts.update(((name, key), entry) for key, entry in value.items())
        else:
            parts[(name,)] = value
    return parts


def join_parts(parts: dict[Key, object]) -> tuple[dict, dict]:
    """``(clocks, pipeline snapshot)`` from the parts that loaded; an entry of :data:`PER_ENTRY`
    is a dict even when all its parts were reset."""
    clocks: dict = {}
    snapshot: dict = {name: {} for name in PER_ENTRY}
    for key, value in parts.items():
        if key == CLOCKS:
            clocks = value
        elif len(key) == 2 and key[0] in PER_ENTRY:
            snapshot[key[0]][key[1]] = value
        else:
            snapshot[key[0]] = value
    return clocks, snapshot


def dump_parts(parts: dict[Key, object]) -> tuple[bytes, list[Key]]:
    """The checkpoint file's bytes, and the keys of the parts that could not be pickled (left out)."""
    pickled, failed = {}, []
    for key, value in parts.items():
        try:
            pickled[key] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            log.exception("checkpoint part %r cannot be pickled; left out (it starts fresh after a restart)", key)
            failed.append(key)
    return pickle.dumps({"version": VERSION, "parts": pickled}, protocol=pickle.HIGHEST_PROTOCOL), failed


def load_parts(blob: bytes) -> tuple[dict[Key, object], list[Key]]:
    """The parts of a checkpoint file that load, and the keys of those that do not (reset).

    Raises
    ------
    ValueError
        The file is not a checkpoint of a version this release reads (nothing can be kept).
    """
    state = pickle.loads(blob)
    version = state.get("version") if isinstance(state, dict) else None
    if version == WHOLE_VERSION:
        return split_state(state["clocks"], state["pipeline"]), []
    if version != VERSION:
        raise ValueError(f"checkpoint version {version!r}")
    parts, reset = {}, []
    for key, data in state["parts"].items():
        try:
            parts[key] = pickle.loads(data)
        except Exception as exc:
            log.warning("checkpoint part %r does not load (%s: %s); it starts fresh", key, type(exc).__name__, exc)
            reset.append(key)
    return parts, reset


def read_checkpoint(path: Path) -> tuple[dict, dict]:
    """``(clocks, pipeline snapshot)`` stored at ``path`` (parts that do not load are left out)."""
    parts, _ = load_parts(Path(path).read_bytes())
    return join_parts(parts)


class Checkpoints:
    """Saves and restores the state of one worker's validator and pipeline at ``path``.

    Parameters
    ----------
    path
        The checkpoint file.
    validator
        Its ``clocks`` (replay memory) are saved and restored, for the catalog's stations only.
    pipeline
        Saved through ``snapshot()``, restored through ``restore(dict)``.
    catalog
        The station catalog.
    stats
        Its ``errors`` counts failed saves and restores.
    """

    def __init__(self, path: Path, validator, pipeline, catalog, stats) -> None:
        self.path = Path(path)
        self.validator = validator
        self.pipeline = pipeline
        self.catalog = catalog
        self.stats = stats
        self.parts_reset = 0

    def save(self) -> None:
        """Write every part that pickles (atomically); a failure is logged and counted."""
        clocks = {k: (c.seq, c.time_s, c.seen, tuple(c.late)) for k, c in self.validator.clocks.items()}
        try:
            blob, failed = dump_parts(split_state(clocks, self.pipeline.snapshot()))
            self.stats.errors += len(failed)
            write_atomic(self.path, blob)
        except Exception:
            self.stats.errors += 1
            log.exception("checkpoint to %s failed", self.path)

    def restore(self) -> None:
        """Take back what the file holds; a part that does not load is reset (logged, counted)."""
        if not self.path.is_file():
            return
        try:
            parts, reset = load_parts(self.path.read_bytes())
        except Exception:
            self.stats.errors += 1
            log.exception("checkpoint %s unreadable; starting fresh", self.path)
            return
        self.parts_reset += len(reset)
        clocks, snapshot = join_parts(parts)
        try:
            self.pipeline.restore(snapshot)
        except Exception:
            self.stats.errors += 1
            self.parts_reset += len(parts) - (CLOCKS in parts)
            log.exception("checkpoint %s: the pipeline state does not restore; detectors, QC and warnings "
                          "start fresh", self.path)
        self.validator.clocks = {k: StreamClock(*clock) for k, clock in clocks.items()
                                 if self.catalog.station(*k) is not None}
        log.info("restored checkpoint %s (%d stations, %d parts reset)", self.path, len(self.validator.clocks),
                 len(reset))
