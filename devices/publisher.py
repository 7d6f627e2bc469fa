"""The reference publisher: what a device (or a gateway for several stations) runs.

It follows ``docs/mqtt-contract.md``:

- paho-mqtt 2.x (``CallbackAPIVersion.VERSION2``), MQTT 5 by default (3.1.1 on request), QoS 1;
- one sequence number per station, persisted in a state dir so it keeps growing across restarts
  (numbers are reserved in blocks, so a crash leaves a gap, never a repeat); if the file is lost
  (corrupt, or missing while an outbox exists) every station continues from a time-based floor,
  :func:`seq_floor`, and past every number still in the outbox, so no number is used twice;
- store-and-forward: readings are queued (bounded, in memory; left-overs saved to the state dir
  on close and loaded again at start) and handed to the client only while connected, oldest
  first; when the bound is hit the oldest reading is dropped, logged as an error and counted;
- every state file is replaced atomically and durably (temporary file, fsync, rename, directory
  fsync: :mod:`riverwatch.durable`), so a power cut leaves the old or the new file, never a torn
  one; a loaded outbox stays on disk until its messages are acknowledged, and an unreadable entry
  in it is skipped, logged and counted (``outbox_skipped``), never fatal;
- a last will ``offline`` (retained) on the status topic, and ``online`` (retained) on connect;
- a reading counts as *acknowledged* only when the broker's PUBACK for its packet id arrived.

:class:`DevicePublisher` is one device (its will on its own status topic). A
:class:`MultiStationPublisher` multiplexes many simulated stations over one connection, with
per-station topics and sequence numbers; its last will sits on the gateway's own status topic,
and on a clean close it marks every station ``offline``.

Examples
--------
>>> store = SeqStore(None)
>>> store.next("rivertown", "gauge-1"), store.next("rivertown", "gauge-1")
(1, 2)
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from riverwatch.contract import data_topic, decode_payload, encode_json, encode_senml, parse_topic, status_topic
from riverwatch.durable import remove_durably, tmp_path, write_atomic
from riverwatch.errors import ConfigError, DecodeError

log = logging.getLogger(__name__)

FORMATS = ("json", "senml")
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


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One queued message: where it goes, what it carries, whose it is."""

    topic: str
    payload: bytes
    station: str  # "partner/station"
    values: int = 1  # readings (quantities) it carries
    from_outbox: bool = False  # loaded from the last run's outbox (which stays on disk until it is sent)


@dataclass
class StationCounts:
    """Per-station counters."""

    published: int = 0
    acknowledged: int = 0
    readings_acknowledged: int = 0
    dropped: int = 0


@dataclass
class PublisherStats:
    """What the publisher did so far; ``acknowledged`` counts PUBACKs from the broker."""

    published: int = 0
    acknowledged: int = 0
    readings_published: int = 0
    readings_acknowledged: int = 0
    dropped: int = 0
    queued: int = 0
    inflight: int = 0
    connects: int = 0
    per_station: dict[str, StationCounts] = field(default_factory=dict)
    outbox_loaded: int = 0
    outbox_skipped: int = 0  # unreadable outbox entries (logged, not sent)
    state_write_errors: int = 0  # failed writes of the outbox or the sequence file (logged)

    @property
    def unacknowledged(self) -> int:
        """Published, neither acknowledged nor dropped (still queued or in flight)."""
        return self.published - self.acknowledged - self.dropped


class MultiStationPublisher:
    """One MQTT connection publishing for one or many stations, with store-and-forward.

    Parameters
    ----------
    host, port
        The broker.
    stations
        ``(partner, station)`` pairs this connection speaks for (their status topics get
        ``online``/``offline``).
    client_id
        MQTT client id; also names the gateway in the will topic.
    state_dir
        Where the sequence numbers (``seq.json``) and unsent messages (``outbox.jsonl``) live;
        None keeps both in memory.
    username, password
        Broker credentials (None for anonymous).
    protocol
        5 (MQTT 5, default) or 4 (MQTT 3.1.1).
    max_queued
        Bound of the store-and-forward queue (messages).
    window
        Messages in flight (sent, not yet acknowledged) at most.
    will_topic
        Topic of the last will; default: the gateway's status topic ``rw/v1/<partner>/<client_id>/status``
        (the first station's partner).
    tls_ca
        CA file to enable TLS, or None.
    """

    def __init__(self, host: str, port: int, stations: Iterable[tuple[str, str]], *, client_id: str,
                 state_dir: str | os.PathLike | None = None, username: str | None = None,
                 password: str | None = None, protocol: int = 5, max_queued: int = 100_000,
                 window: int = 100, will_topic: str | None = None, tls_ca: str | os.PathLike | None = None,
                 keepalive_s: int = 30) -> None:
        self.stations = list(stations)
        if not self.stations:
            raise ConfigError("publisher: at least one station is needed")
        if protocol not in (4, 5):
            raise ConfigError(f"publisher: protocol {protocol} is not 4 (MQTT 3.1.1) or 5")
        if max_queued < 1 or window < 1:
            raise ConfigError("publisher: max_queued and window must be positive")
        self.host, self.port, self.client_id = host, int(port), client_id
        self.max_queued, self.window, self.keepalive_s = max_queued, window, keepalive_s
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.stats = PublisherStats(per_station={f"{p}/{s}": StationCounts() for p, s in self.stations})
        outbox = self._read_outbox()
        self.seq = SeqStore(self.state_dir / "seq.json" if self.state_dir else None, recover=True,
                            expect_file=outbox is not None)
        self.will_topic = will_topic or status_topic(self.stations[0][0], client_id)
        self._queue: deque[Outgoing] = deque()
        self._inflight: dict[int, Outgoing] = {}
        self._acks: queue.SimpleQueue[tuple[int, bool]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._connected = threading.Event()
        self._epoch = 0
        self._stopping = False
        self._sender: threading.Thread | None = None
        self._outbox_left = 0
        self.client = self._make_client(protocol, username, password, tls_ca)
        self._queue_outbox(outbox or [])

    # ------------------------------------------------------------------ set-up

    def _make_client(self, protocol: int, username: str | None, password: str | None,
                     tls_ca: str | os.PathLike | None) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=mqtt.MQTTv5 if protocol == 5 else mqtt.MQTTv311)
        if username is not None:
            client.username_pw_set(username, password)
        if tls_ca is not None:
            client.tls_set(ca_certs=str(tls_ca))
        client.will_set(self.will_topic, b"offline", qos=1, retain=True)
        client.max_inflight_messages_set(self.window)
        client.reconnect_delay_set(1, 5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def start(self) -> "MultiStationPublisher":
        """Connect in the background (retrying until the broker answers) and start sending."""
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive_s)
        self.client.loop_start()
        self._sender = threading.Thread(target=self._send_loop, name=f"{self.client_id}-sender", daemon=True)
        self._sender.start()
        return self

    def __enter__(self) -> "MultiStationPublisher":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ callbacks (network thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("%s: broker %s:%s refused the connection: %s", self.client_id, self.host, self.port,
                      reason_code)
            return
        for partner, station in self.stations:
            client.publish(status_topic(partner, station), b"online", qos=1, retain=True)
        if self.will_topic not in {status_topic(p, s) for p, s in self.stations}:
            client.publish(self.will_topic, b"online", qos=1, retain=True)
        self._epoch += 1
        self._connected.set()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected.is_set() and not self._stopping:
            log.warning("%s: lost the broker (%s); queueing until it is back", self.client_id, reason_code)
        self._connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # MQTT 5: a PUBACK with a failure reason code (not authorized, quota, ...) is a refusal
        self._acks.put((mid, bool(getattr(reason_code, "is_failure", False))))
        self._wake.set()

    # ------------------------------------------------------------------ publishing

    def publish(self, partner: str, station: str, time_s: float, values: Mapping[str, tuple[float, str]],
                fmt: str = "json") -> int:
        """Queue one reading set of ``partner/station``; returns its sequence number.

        ``values`` maps quantity -> ``(value, unit)``; ``fmt`` is ``json`` or ``senml``.
        """
        seq = self.seq.next(partner, station)
        if fmt == "json":
            payload = encode_json(time_s, seq, dict(values))
        elif fmt == "senml":
            payload = encode_senml(partner, station, time_s, seq, dict(values))
        else:
            raise ConfigError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
        self.enqueue(Outgoing(data_topic(partner, station), payload, f"{partner}/{station}", len(values)))
        return seq

    def enqueue(self, item: Outgoing) -> None:
        """Queue an encoded message; when the queue is full the oldest is dropped, loudly."""
        with self._lock:
            counts = self._counts(item.station)
            settled = False
            if len(self._queue) >= self.max_queued:
                lost = self._queue.popleft()
                self.stats.dropped += 1
                self._counts(lost.station).dropped += 1
                settled = self._settle(lost)
                if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
                    log.error("%s: store-and-forward queue full (%d messages): dropped the oldest, "
                              "%d dropped so far", self.client_id, self.max_queued, self.stats.dropped)
            self._queue.append(item)
            self.stats.published += 1
            self.stats.readings_published += item.values
            counts.published += 1
        if settled:
            self._outbox_sent()
        self._wake.set()

    def _counts(self, station: str) -> StationCounts:
        return self.stats.per_station.setdefault(station, StationCounts())

    # ------------------------------------------------------------------ the sender thread

    def _send_loop(self) -> None:
        epoch = 0
        while True:
            self._wake.wait(0.2)
            self._wake.clear()
            self._take_acks()
            if self._stopping:
                return
            if self._epoch != epoch and not self._inflight:
                epoch = self._epoch  # paho re-sent the last connection's messages: all acknowledged
            if self._connected.is_set() and self._epoch == epoch:
                self._send_some()

    def _take_acks(self) -> None:
        while True:
            try:
                mid, refused = self._acks.get_nowait()
            except queue.Empty:
                return
            item = self._inflight.pop(mid, None)
            if item is None:
                continue  # a status message
            if refused:
                self._refused(item)
                continue
            with self._lock:
                self.stats.acknowledged += 1
                self.stats.readings_acknowledged += item.values
                counts = self._counts(item.station)
                counts.acknowledged += 1
                counts.readings_acknowledged += item.values
                settled = self._settle(item)
            if settled:
                self._outbox_sent()

    def _refused(self, item: Outgoing) -> None:
        """The broker answered with a failing PUBACK: the message is lost, count it as dropped."""
        with self._lock:
            self.stats.dropped += 1
            self._counts(item.station).dropped += 1
            settled = self._settle(item)
        log.error("%s: the broker refused a message on %s (failure PUBACK); dropped", self.client_id, item.topic)
        if settled:
            self._outbox_sent()

    def _send_some(self) -> None:
        while len(self._inflight) < self.window:
            with self._lock:
                if not self._queue:
                    return
                item = self._queue.popleft()
            info = self.client.publish(item.topic, item.payload, qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                with self._lock:
                    self._queue.appendleft(item)  # paho did not take it: try again later
                return
            # NO_CONN: paho keeps QoS 1 messages and sends them when it reconnects
            self._inflight[info.mid] = item

    # ------------------------------------------------------------------ draining and closing

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected; True when it is."""
        return self._connected.wait(timeout)

    def pending(self) -> int:
        """Messages queued or in flight (not yet acknowledged)."""
        with self._lock:
            return len(self._queue) + len(self._inflight)

    def flush(self, timeout: float) -> bool:
        """Wait until every queued message is acknowledged; True when none is left."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.01)
        return not self.pending()

    def snapshot(self) -> PublisherStats:
        """A copy of the counters, with the current queue and in-flight sizes."""
        with self._lock:
            s = self.stats
            return PublisherStats(
                published=s.published, acknowledged=s.acknowledged, readings_published=s.readings_published,
                readings_acknowledged=s.readings_acknowledged, dropped=s.dropped, queued=len(self._queue),
                inflight=len(self._inflight), connects=self._epoch,
                per_station={k: StationCounts(v.published, v.acknowledged, v.readings_acknowledged, v.dropped)
                             for k, v in s.per_station.items()},
                outbox_loaded=s.outbox_loaded, outbox_skipped=s.outbox_skipped,
                state_write_errors=s.state_write_errors + self.seq.write_errors)

    def close(self, timeout: float = 10.0) -> PublisherStats:
        """Drain for up to ``timeout`` s, mark the stations ``offline``, disconnect, save state.

        Messages still unacknowledged are saved, atomically and durably, to ``outbox.jsonl`` in
        the state dir (and sent first by the next publisher on the same state dir); without a state
        dir they are counted as unacknowledged in the returned stats.
        """
        self.flush(timeout)
        if self.connected:
            self._mark_offline(min(timeout, 5.0))
        self._stopping = True
        self._wake.set()
        if self._sender is not None:
            self._sender.join(5.0)
        self._take_acks()
        self.client.disconnect()
        self.client.loop_stop()
        self._save_outbox()
        self.seq.save()
        return self.snapshot()

    def _mark_offline(self, timeout: float) -> None:
        topics = [status_topic(p, s) for p, s in self.stations]
        if self.will_topic not in topics:
            topics.append(self.will_topic)
        deadline = time.monotonic() + timeout
        try:
            for info in [self.client.publish(topic, b"offline", qos=1, retain=True) for topic in topics]:
                info.wait_for_publish(max(deadline - time.monotonic(), 0.01))
        except (RuntimeError, ValueError) as exc:  # the connection went away meanwhile
            log.warning("%s: could not mark the stations offline (%s); the last will does", self.client_id, exc)

    # ------------------------------------------------------------------ the outbox (state dir)

    def _outbox_path(self) -> Path | None:
        return self.state_dir / "outbox.jsonl" if self.state_dir else None

    def _save_outbox(self) -> None:
        """Write what is unacknowledged to the outbox, atomically and durably (or remove it)."""
        path = self._outbox_path()
        with self._lock:
            left = [*(self._inflight[m] for m in sorted(self._inflight)), *self._queue]
        if path is None:
            return
        try:
            if not left:
                remove_durably(path)
                return
            write_atomic(path, b"".join(self._outbox_lines(left)))
        except OSError as exc:
            self.stats.state_write_errors += 1
            log.error("%s: cannot save %d unacknowledged messages to %s: %s", self.client_id, len(left), path, exc)
            return
        log.warning("%s: %d unacknowledged messages saved to %s for the next run", self.client_id,
                    len(left), path)

    def _outbox_lines(self, items: list[Outgoing]) -> list[bytes]:
        lines = []
        for item in items:
            try:
                lines.append(outbox_line(item))
            except UnicodeDecodeError:  # only enqueue() can queue such a payload: the contract is UTF-8 JSON
                self.stats.state_write_errors += 1
                log.error("%s: a message on %s is not UTF-8 and cannot be saved; lost", self.client_id, item.topic)
        return lines

    def _read_outbox(self) -> list[Outgoing] | None:
        """The last run's outbox (None when there is none); unreadable entries are skipped and counted."""
        path = self._outbox_path()
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.stats.outbox_skipped += 1
            log.error("%s: cannot read the outbox %s (%s); its messages are lost", self.client_id, path, exc)
            return []
        items = []
        for number, line in enumerate(data.splitlines(), 1):
            item = outgoing_from_line(line)
            if item is None:
                self.stats.outbox_skipped += 1
                log.error("%s: skipped the unreadable entry %d of %s", self.client_id, number, path)
            else:
                items.append(item)
        return items

    def _queue_outbox(self, items: list[Outgoing]) -> None:
        """Queue the last run's messages first; the sequence numbers continue past theirs."""
        for item in items:
            partner, station, _ = parse_topic(item.topic)
            try:
                self.seq.ensure_above(partner, station, decode_payload(item.payload).seq)
            except DecodeError:
                pass  # not a reading the contract knows: it uses no number of ours
            with self._lock:
                self._outbox_left += 1
            self.enqueue(item)
        self.stats.outbox_loaded = len(items)
        if items or self.stats.outbox_skipped:
            log.info("%s: %d messages from the last run queued first (%d unreadable entries skipped)",
                     self.client_id, len(items), self.stats.outbox_skipped)

    def _settle(self, item: Outgoing) -> bool:
        """Count an outbox message as sent or dropped (holding ``_lock``); True when it was the last."""
        if not item.from_outbox:
            return False
        self._outbox_left -= 1
        return self._outbox_left == 0

    def _outbox_sent(self) -> None:
        """Every message of the last run's outbox is settled: the file is not needed any more."""
        path = self._outbox_path()
        try:
            if path is not None:
                remove_durably(path)
        except OSError as exc:
            self.stats.state_write_errors += 1
            log.error("%s: cannot remove the sent outbox %s: %s", self.client_id, path, exc)


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


class DevicePublisher(MultiStationPublisher):
    """The publisher of one device: its last will is its own status topic.

    >>> pub = DevicePublisher("127.0.0.1", 1883, "rivertown", "gauge-1")
    >>> pub.will_topic, pub.client_id
    ('rw/v1/rivertown/gauge-1/status', 'dev.rivertown.gauge-1')
    """

    def __init__(self, host: str, port: int, partner: str, station: str, **options: object) -> None:
        options.setdefault("client_id", f"dev.{partner}.{station}")
        options.setdefault("will_topic", status_topic(partner, station))
        super().__init__(host, port, [(partner, station)], **options)  # type: ignore[arg-type]
        self.partner, self.station = partner, station

    def send(self, time_s: float, values: Mapping[str, tuple[float, str]], fmt: str = "json") -> int:
        """Queue one reading set of this device; returns its sequence number."""
        return self.publish(self.partner, self.station, time_s, values, fmt)
