"""Per-station sequence numbers of a publisher that survive restarts and power cuts.

Numbers are reserved in blocks in a JSON file of the state dir, so a crash leaves a gap, never a
repeat; if the file is lost (corrupt, or missing while an outbox exists) every station continues
from a time-based floor, :func:`seq_floor`, and past every number still in the outbox, so no
number is used twice. The file is replaced atomically and durably (:mod:`riverwatch.durable`).

Examples
--------
>>> store = SeqStore(None)
>>> store.next("rivertown", "gauge-1"), store.next("rivertown", "gauge-1")
(1, 2)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import orjson

from riverwatch.durable import tmp_path, write_atomic
from riverwatch.errors import ConfigError

__all__ = ["SEQ_BLOCK", "SEQ_PER_SECOND", "SeqStore", "seq_floor"]

log = logging.getLogger(__name__)

SEQ_BLOCK = 100
#: A lost counter restarts at this many numbers per second since the epoch (milliseconds).
SEQ_PER_SECOND = 1000


class SeqStore:
    """Per-station sequence numbers that survive restarts and power cuts.

    Parameters
    ----------
    path
        JSON file holding, per ``partner/station``, the first number not yet reserved (and under
        ``"*"`` the first number of a station not listed, after a recovery); None keeps the
        numbers in memory only (they start at 1 on every run).
    block
        How many numbers are reserved per write: after a crash the next run starts past the block,
        so numbers never repeat; :meth:`save` on a clean close records the exact next number.
        Every write replaces the file atomically and durably (:func:`riverwatch.durable.write_atomic`).
    recover
        What to do when the counter is *lost* (the file is unreadable or corrupt, or missing while
        ``expect_file`` says it should exist): False raises :class:`ConfigError`; True logs an
        error and continues every station from :func:`seq_floor` (see :meth:`ensure_above` for
        the numbers still queued in an outbox), so no number is ever used twice.
    expect_file
        The caller knows earlier state exists (e.g. an outbox), so a missing file means a lost one.

    Attributes
    ----------
    recovered
        Why the counter was rebuilt from the floor, or None.
    write_errors
        Writes of the file that failed (logged; numbers are handed out anyway and the write is
        retried with the next number).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "seq.json"
    >>> _ = path.write_bytes(b'{"p/s": 1')  # torn by a power cut (an old, non-atomic writer)
    >>> store = SeqStore(path, recover=True, now_s=1_800_000_000.0)
    >>> store.recovered.startswith("corrupt"), store.next("p", "s"), store.next("p", "other")
    (True, 1800000000000, 1800000000000)
    """

    def __init__(self, path: str | os.PathLike | None, block: int = SEQ_BLOCK, *, recover: bool = False,
                 expect_file: bool = False, now_s: float | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.block = block
        self.recovered: str | None = None
        self.write_errors = 0
        self._start = 1
        self._next: dict[str, int] = {}
        self._reserved: dict[str, int] = {}
        self._lock = threading.Lock()
        if self.path is None:
            return
        lost = self._load(expect_file or tmp_path(self.path).exists())
        if lost is None:
            return
        if not recover:
            raise ConfigError(f"sequence file {self.path} is {lost}; move it away")
        self._start = seq_floor(now_s)
        self._next, self._reserved, self.recovered = {}, {}, lost
        log.error("sequence file %s is %s: every station continues from %d (%d per second since the "
                  "epoch) so that no number is used twice", self.path, lost, self._start, SEQ_PER_SECOND)
        self._write({})  # the floor itself is durable before any number is handed out

    def _load(self, expected: bool) -> str | None:
        """Read the file; None when it is fine (or absent and not expected), else why it is lost."""
        assert self.path is not None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return "missing although earlier state exists" if expected else None
        except OSError as exc:
            return f"unreadable ({exc})"
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            return f"corrupt ({exc})"
        if not isinstance(doc, dict) or not all(type(v) is int and v >= 0 for v in doc.values()):
            return "corrupt (not an object of non-negative integers)"
        self._start = max(1, doc.pop("*", 1))
        self._next = doc
        self._reserved = dict(doc)
        return None

    def next(self, partner: str, station: str) -> int:
        """The next sequence number of ``partner/station`` (starting at 1, or at the floor after a recovery)."""
        key = f"{partner}/{station}"
        with self._lock:
            seq = self._next.get(key, self._start)
            self._next[key] = seq + 1
            if self.path is not None and seq + 1 > self._reserved.get(key, self._start):
                self._write({**self._reserved, key: seq + self.block})
            return seq

    def ensure_above(self, partner: str, station: str, seq: int) -> None:
        """Make the next number of ``partner/station`` larger than ``seq`` (one already used)."""
        key = f"{partner}/{station}"
        with self._lock:
            if self._next.get(key, self._start) <= seq:
                self._next[key] = seq + 1

    def save(self) -> None:
        """Record the exact next numbers (no gap on the next start)."""
        with self._lock:
            if self.path is not None:
                self._write(dict(self._next))

    def _write(self, numbers: dict[str, int]) -> None:
        """Persist ``numbers`` as the new reservations; a failure is logged and counted, not raised."""
        assert self.path is not None
        doc = {"*": self._start, **numbers} if self._start > 1 else numbers
        try:
            write_atomic(self.path, orjson.dumps(doc))
        except OSError as exc:
            self.write_errors += 1
            if self.write_errors == 1 or self.write_errors % 1000 == 0:
                log.error("cannot write the sequence file %s (%s; %d failures): retrying with the next "
                          "number", self.path, exc, self.write_errors)
            return
        self._reserved = numbers


def seq_floor(now_s: float | None = None) -> int:
    """Where a lost counter restarts: :data:`SEQ_PER_SECOND` numbers per second since the epoch.

    Larger than every number the device used before, as long as its clock is right and it sent
    fewer than :data:`SEQ_PER_SECOND` messages per second and station on average (also across
    earlier recoveries: the floor grows that fast itself).

    >>> seq_floor(1_800_000_000.5)
    1800000000500
    """
    return int((time.time() if now_s is None else now_s) * SEQ_PER_SECOND)
