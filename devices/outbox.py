"""The publisher's outbox: messages not yet acknowledged, kept in the state dir between runs.

On close, what the broker has not acknowledged is written to ``outbox.jsonl`` (one JSON line per
message), atomically and durably (:mod:`riverwatch.durable`), so a power cut leaves the old or the
new file, never a torn one. The next publisher on the same state dir sends those messages first;
the file stays on disk until every one of them is settled (acknowledged or dropped), and an
unreadable entry in it is skipped, logged and counted, never fatal.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson

from riverwatch.contract import parse_topic
from riverwatch.durable import remove_durably, write_atomic
from riverwatch.errors import DecodeError

__all__ = ["Outbox", "Outgoing", "outbox_line", "outgoing_from_line"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One queued message: where it goes, what it carries, whose it is."""

    topic: str
    payload: bytes
    station: str  # "partner/station"
    values: int = 1  # readings (quantities) it carries
    from_outbox: bool = False  # loaded from the last run's outbox (which stays on disk until it is sent)


def outbox_line(item: Outgoing) -> bytes:
    """One outbox entry: a JSON line (what :func:`outgoing_from_line` reads back).

    >>> outgoing_from_line(outbox_line(Outgoing("rw/v1/p/s/data", b'{"seq":1}', "p/s", 2)))
    Outgoing(topic='rw/v1/p/s/data', payload=b'{"seq":1}', station='p/s', values=2, from_outbox=True)
    """
    return orjson.dumps({"topic": item.topic, "payload": item.payload.decode(), "station": item.station,
                         "values": item.values}) + b"\n"


def outgoing_from_line(line: bytes) -> Outgoing | None:
    """The message of one outbox line, or None when the line is not a whole, well-formed entry.

    >>> outgoing_from_line(b'{"topic": "rw/v1/p/s/data", "payload": "{\\\\"se')  # torn
    """
    try:
        doc = orjson.loads(line)
        topic, payload, station, values = doc["topic"], doc["payload"], doc["station"], doc["values"]
        if not (isinstance(topic, str) and isinstance(payload, str) and isinstance(station, str)
                and type(values) is int and values >= 1):
            return None
        partner, station_id, kind = parse_topic(topic)
        if kind != "data" or station != f"{partner}/{station_id}":
            return None
        return Outgoing(topic, payload.encode(), station, values, from_outbox=True)
    except (ValueError, KeyError, TypeError, DecodeError):  # JSONDecodeError and UnicodeError are ValueErrors
        return None


class OutboxCounters(Protocol):
    """Where the outbox counts its problems (the publisher's stats)."""

    outbox_skipped: int
    state_write_errors: int


class Outbox:
    """The ``outbox.jsonl`` of a state dir: read at start, settled message by message, saved on close.

    Parameters
    ----------
    path
        The outbox file, or None (no state dir: nothing is read or saved).
    owner
        Names the publisher in log messages (its client id).
    counters
        Counts unreadable entries (``outbox_skipped``) and failed writes (``state_write_errors``).

    Attributes
    ----------
    left
        Messages loaded from the file and not yet settled; the caller guards it with its lock.
    """

    def __init__(self, path: Path | None, owner: str, counters: OutboxCounters) -> None:
        self.path, self.owner, self.counters = path, owner, counters
        self.left = 0

    def read(self) -> list[Outgoing] | None:
        """The last run's messages (None when there is no file); unreadable entries are skipped and counted."""
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
        items = []
        for number, line in enumerate(data.splitlines(), 1):
            item = outgoing_from_line(line)
            if item is None:
                self.counters.outbox_skipped += 1
                log.error("%s: skipped the unreadable entry %d of %s", self.owner, number, self.path)
            else:
                items.append(item)
        return items

    def save(self, left: list[Outgoing]) -> None:
        """Write the unacknowledged ``left`` to the file, atomically and durably (or remove it when empty)."""
        if self.path is None:
            return
        try:
            if not left:
                remove_durably(self.path)
                return
            write_atomic(self.path, b"".join(self._lines(left)))
        except OSError as exc:
            self.counters.state_write_errors += 1
            log.error("%s: cannot save %d unacknowledged messages to %s: %s", self.owner, len(left), self.path, exc)
            return
        log.warning("%s: %d unacknowledged messages saved to %s for the next run", self.owner, len(left), self.path)

    def _lines(self, items: list[Outgoing]) -> list[bytes]:
        lines = []
        for item in items:
            try:
                lines.append(outbox_line(item))
            except UnicodeDecodeError:  # only enqueue() can queue such a payload: the contract is UTF-8 JSON
                self.counters.state_write_errors += 1
                log.error("%s: a message on %s is not UTF-8 and cannot be saved; lost", self.owner, item.topic)
        return lines

    def settle(self, item: Outgoing) -> bool:
        """Count an outbox message as sent or dropped (under the caller's lock); True when it was the last."""
        if not item.from_outbox:
            return False
        self.left -= 1
        return self.left == 0

    def sent(self) -> None:
        """Every message of the last run's outbox is settled: the file is not needed any more."""
        try:
            if self.path is not None:
                remove_durably(self.path)
        except OSError as exc:
            self.counters.state_write_errors += 1
            log.error("%s: cannot remove the sent outbox %s: %s", self.owner, self.path, exc)
