"""The publisher's outbox: a journal of the messages not yet acknowledged, durable per message.

``outbox.jsonl`` in the state dir is append-only while the publisher runs. Queuing a message
appends its entry (``{"id": n, "topic": …, "payload": …, "station": …, "values": …}``) and
fsyncs it *before* ``publish()`` returns, so a power cut or SIGKILL right after loses nothing the
device handed over (with ``sync_every = k > 1``: at most the last ``k − 1`` messages, or what was
queued in the last 0.2 s). A PUBACK or a drop appends ``{"done": n}`` without fsync: a lost
``done`` line only makes the next run send that message again, which the pipeline refuses as
``replayed`` after storing it once. The journal is emptied when nothing is pending and rewritten
(atomically, :mod:`riverwatch.durable`) when settled entries outnumber pending ones; on close it
keeps only what is still pending (or is removed). At start every entry without a ``done`` line is
queued again, first; an unreadable line (a torn tail after a crash, a damaged entry) is skipped,
logged and counted, never fatal. Entries without ``id`` (older outboxes) are read as well.

Examples
--------
>>> line = outbox_line(Outgoing("rw/v1/p/s/data", b'{"seq":1}', "p/s"))
>>> line
b'{"topic":"rw/v1/p/s/data","payload":"{\\\\"seq\\\\":1}","station":"p/s","values":1}\\n'
>>> outgoing_from_line(line).from_outbox
True
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Protocol

import orjson

from riverwatch.contract import parse_topic
from riverwatch.durable import fsync_directory, remove_durably, write_atomic
from riverwatch.errors import DecodeError

__all__ = ["Outbox", "Outgoing", "outbox_line", "outgoing_from_line"]

log = logging.getLogger(__name__)

#: Compact the journal once it holds this many settled entries and more settled than pending ones.
COMPACT_AFTER = 1000


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One queued message: where it goes, what it carries, whose it is."""

    topic: str
    payload: bytes
    station: str  # "partner/station"
    values: int = 1  # readings (quantities) it carries
    from_outbox: bool = False  # loaded from the last run's outbox
    journal_id: int = field(default=0, repr=False, compare=False)  # its entry in the journal (0: none yet)


def outbox_line(item: Outgoing) -> bytes:
    """One outbox entry: a JSON line (what :func:`outgoing_from_line` reads back).

    >>> outgoing_from_line(outbox_line(Outgoing("rw/v1/p/s/data", b'{"seq":1}', "p/s", 2)))
    Outgoing(topic='rw/v1/p/s/data', payload=b'{"seq":1}', station='p/s', values=2, from_outbox=True)
    """
    doc = {"topic": item.topic, "payload": item.payload.decode(), "station": item.station, "values": item.values}
    if item.journal_id:
        doc = {"id": item.journal_id, **doc}
    return orjson.dumps(doc) + b"\n"


def outgoing_from_line(line: bytes) -> Outgoing | None:
    """The message of one outbox line, or None when the line is not a whole, well-formed entry.

    >>> outgoing_from_line(b'{"topic": "rw/v1/p/s/data", "payload": "{\\\\"se')  # torn
    """
    try:
        doc = orjson.loads(line)
        topic, payload, station, values = doc["topic"], doc["payload"], doc["station"], doc["values"]
        journal_id = doc.get("id", 0)
        if not (isinstance(topic, str) and isinstance(payload, str) and isinstance(station, str)
                and type(values) is int and values >= 1 and type(journal_id) is int and journal_id >= 0):
            return None
        partner, station_id, kind = parse_topic(topic)
        if kind != "data" or station != f"{partner}/{station_id}":
            return None
        return Outgoing(topic, payload.encode(), station, values, from_outbox=True, journal_id=journal_id)
    except (ValueError, KeyError, TypeError, AttributeError, DecodeError):  # JSON and Unicode errors are ValueErrors
        return None


def _done_id(line: bytes) -> int | None:
    """The id of a ``{"done": n}`` line, else None.

    >>> _done_id(b'{"done":7}'), _done_id(b'{"topic":"x"}')
    (7, None)
    """
    if not line.startswith(b'{"done":'):
        return None
    try:
        done = orjson.loads(line)["done"]
    except (ValueError, KeyError, TypeError):
        return None
    return done if type(done) is int else None


class OutboxCounters(Protocol):
    """Where the outbox counts its problems (the publisher's stats)."""

    outbox_skipped: int
    state_write_errors: int


class Outbox:
    """The ``outbox.jsonl`` journal of a state dir; the caller serialises calls (its lock).

    Parameters
    ----------
    path
        The journal, or None (no state dir: nothing is read or written).
    owner
        Names the publisher in log messages (its client id).
    counters
        Counts unreadable entries (``outbox_skipped``) and failed writes (``state_write_errors``).
    sync_every
        fsync after this many appended messages (1: every message is durable when it is queued).

    Attributes
    ----------
    pending
        Journaled messages neither acknowledged nor dropped, by journal id.
    """

    def __init__(self, path: Path | None, owner: str, counters: OutboxCounters, sync_every: int = 1) -> None:
        self.path, self.owner, self.counters, self.sync_every = path, owner, counters, max(1, sync_every)
        self.pending: dict[int, Outgoing] = {}
        self._next_id = 1
        self._settled = 0  # "done" lines in the journal
        self._unsynced = 0
        self._file: BinaryIO | None = None

    # ------------------------------------------------------------------ start

    def read(self) -> list[Outgoing] | None:
        """The last run's pending messages (None when there is no journal), rewritten as the new journal."""
        if self.path is None:
            return None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.counters.outbox_skipped += 1
            log.error("%s: cannot read the outbox %s (%s); its messages are lost", self.owner, self.path, exc)
            return []
        entries, done = self._parse(data)
        for item in entries:
            if item.journal_id not in done:
                self.pending[item.journal_id] = item
        self._rewrite()
        return list(self.pending.values())

    def _parse(self, data: bytes) -> tuple[list[Outgoing], set[int]]:
        entries, done, seen = [], set(), set()
        lines = data.split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line and number == len(lines):
                break  # the file ends with a newline
            done_id = _done_id(line) if number < len(lines) else None
            if done_id is not None:
                done.add(done_id)
                continue
            item = outgoing_from_line(line) if number < len(lines) else None  # no newline: torn
            if item is None or item.journal_id in seen:
                self.counters.outbox_skipped += 1
                log.error("%s: skipped the unreadable entry %d of %s", self.owner, number, self.path)
                continue
            if item.journal_id:
                seen.add(item.journal_id)
            entries.append(item)
        top = max(seen, default=0)
        for index, item in enumerate(entries):
            if not item.journal_id:  # an entry of an older outbox: number it after the others
                top += 1
                entries[index] = replace(item, journal_id=top)
        self._next_id = top + 1
        return entries, done

    # ------------------------------------------------------------------ running

    def append(self, item: Outgoing) -> Outgoing:
        """Journal ``item`` (fsynced per ``sync_every``); returns it with its journal id."""
        if self.path is None or item.journal_id:
            return item
        item = replace(item, journal_id=self._next_id)
        self._next_id += 1
        self.pending[item.journal_id] = item
        try:
            line = outbox_line(item)
        except UnicodeDecodeError:  # only enqueue() can queue such a payload: the contract is UTF-8 JSON
            self.counters.state_write_errors += 1
            log.error("%s: a message on %s is not UTF-8 and cannot be journaled", self.owner, item.topic)
            return item
        self._write(line)
        self._unsynced += 1
        if self._unsynced >= self.sync_every:
            self.sync()
        return item

    def settle(self, item: Outgoing) -> None:
        """``item`` was acknowledged or dropped: mark it done (no fsync), empty or compact the journal."""
        if self.pending.pop(item.journal_id, None) is None:
            return
        if not self.pending:
            self._truncate()
            return
        self._write(b'{"done":%d}\n' % item.journal_id)
        self._settled += 1
        if self._settled >= COMPACT_AFTER and self._settled > len(self.pending):
            self._rewrite()

    def sync(self) -> None:
        """fsync what was appended since the last fsync."""
        if self._file is None or not self._unsynced:
            return
        try:
            os.fsync(self._file.fileno())
        except OSError as exc:
            self._failed("fsync", exc)
        self._unsynced = 0

    def close(self) -> None:
        """Leave only the pending messages in the journal (or remove it when none is left)."""
        if self.path is None:
            return
        self._rewrite()
        self._close_file()
        if self.pending:
            log.warning("%s: %d unacknowledged messages kept in %s for the next run", self.owner,
                        len(self.pending), self.path)

    # ------------------------------------------------------------------ the file

    def _open(self) -> BinaryIO:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            self._file = open(self.path, "ab", buffering=0)
            if created:
                fsync_directory(self.path.parent)  # the new file's name survives a power cut too
        return self._file

    def _write(self, line: bytes) -> None:
        try:
            self._open().write(line)
        except OSError as exc:
            self._failed("write", exc)

    def _truncate(self) -> None:
        """Nothing is pending: empty the journal (it stays, so no directory fsync per message)."""
        try:
            self._open().truncate(0)
        except OSError as exc:
            self._failed("truncate", exc)
        self._settled = self._unsynced = 0

    def _rewrite(self) -> None:
        """Replace the journal by the pending entries only (atomically and durably), or remove it."""
        self._close_file()
        try:
            if self.pending:
                write_atomic(self.path, b"".join(self._lines()))
            else:
                remove_durably(self.path)
        except OSError as exc:
            self._failed("rewrite", exc)
        self._settled = self._unsynced = 0

    def _lines(self) -> list[bytes]:
        lines = []
        for item in self.pending.values():
            try:
                lines.append(outbox_line(item))
            except UnicodeDecodeError:
                continue  # counted when it was queued
        return lines

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self._failed("close", exc)
            self._file = None

    def _failed(self, what: str, exc: OSError) -> None:
        self.counters.state_write_errors += 1
        log.error("%s: cannot %s the outbox %s: %s", self.owner, what, self.path, exc)
