"""The reference publisher: what a device (or a gateway for several stations) runs.

It follows ``docs/mqtt-contract.md``:

- paho-mqtt 2.x (``CallbackAPIVersion.VERSION2``), MQTT 5 by default (3.1.1 on request), QoS 1;
- one sequence number per station, persisted in a state dir so it keeps growing across restarts
  (:mod:`devices.seq_store`: numbers are reserved in blocks, so a crash leaves a gap, never a
  repeat; a lost file restarts every station from a time-based floor, :func:`seq_floor`, and past
  every number still in the outbox, so no number is used twice);
- store-and-forward: readings are queued (bounded) and handed to the client only while
  connected, oldest first; with a state dir each one is journaled and fsynced in ``outbox.jsonl``
  before ``publish()`` returns (:mod:`devices.outbox`; ``sync_every`` trades that for fewer
  fsyncs), so a power cut or SIGKILL loses nothing queued; the next run sends what was not
  acknowledged first; when the bound is hit the oldest reading is dropped, logged and counted;
- the sequence file is replaced atomically and durably (:mod:`riverwatch.durable`); an
  unreadable outbox entry is skipped, logged and counted (``outbox_skipped``), never fatal;
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

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from riverwatch.contract import data_topic, decode_payload, encode_json, encode_senml, parse_topic, status_topic
from riverwatch.errors import ConfigError, DecodeError

from devices.outbox import Outbox, Outgoing, outbox_line, outgoing_from_line
from devices.seq_store import SEQ_BLOCK, SEQ_PER_SECOND, SeqStore, seq_floor

__all__ = ["FORMATS", "SEQ_BLOCK", "SEQ_PER_SECOND", "DevicePublisher", "MultiStationPublisher", "Outgoing",
           "PublisherStats", "SeqStore", "StationCounts", "outbox_line", "outgoing_from_line", "seq_floor"]

log = logging.getLogger(__name__)

FORMATS = ("json", "senml")
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

    def station(self, key: str) -> StationCounts:
        """The counters of station ``key`` (``partner/station``), created on first use."""
        return self.per_station.setdefault(key, StationCounts())

    def count_dropped(self, item: Outgoing) -> None:
        """Count ``item`` as dropped (queue full, or refused by the broker)."""
        self.dropped += 1
        self.station(item.station).dropped += 1

    def count_acknowledged(self, item: Outgoing) -> None:
        """Count ``item`` as acknowledged by the broker."""
        self.acknowledged += 1
        self.readings_acknowledged += item.values
        counts = self.station(item.station)
        counts.acknowledged += 1
        counts.readings_acknowledged += item.values

    def copy(self, *, queued: int, inflight: int, connects: int, seq_write_errors: int) -> PublisherStats:
        """A copy of the counters with the current queue sizes and the sequence file's write errors.

        >>> PublisherStats(published=2).copy(queued=1, inflight=1, connects=1, seq_write_errors=0).unacknowledged
        2
        """
        return PublisherStats(
            published=self.published, acknowledged=self.acknowledged, readings_published=self.readings_published,
            readings_acknowledged=self.readings_acknowledged, dropped=self.dropped, queued=queued,
            inflight=inflight, connects=connects,
            per_station={k: StationCounts(v.published, v.acknowledged, v.readings_acknowledged, v.dropped)
                         for k, v in self.per_station.items()},
            outbox_loaded=self.outbox_loaded, outbox_skipped=self.outbox_skipped,
            state_write_errors=self.state_write_errors + seq_write_errors)


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
        Where the sequence numbers (``seq.json``) and the journal of unacknowledged messages
        (``outbox.jsonl``) live; None keeps both in memory.
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
    sync_every
        fsync the outbox after this many queued messages (1, the default: each message is durable
        when ``publish()`` returns: about 4.5 ms a message here, 0.3 ms with 20; docs/operations.md).
    """

    def __init__(self, host: str, port: int, stations: Iterable[tuple[str, str]], *, client_id: str,
                 state_dir: str | os.PathLike | None = None, username: str | None = None,
                 password: str | None = None, protocol: int = 5, max_queued: int = 100_000,
                 window: int = 100, will_topic: str | None = None, tls_ca: str | os.PathLike | None = None,
                 keepalive_s: int = 30, sync_every: int = 1) -> None:
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
        self.outbox = Outbox(self.state_dir / "outbox.jsonl" if self.state_dir else None, client_id, self.stats,
                             sync_every)
        outbox = self.outbox.read()
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
            counts = self.stats.station(item.station)
            item = self.outbox.append(item)
            if len(self._queue) >= self.max_queued:
                lost = self._queue.popleft()
                self.stats.count_dropped(lost)
                self.outbox.settle(lost)
                if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
                    log.error("%s: store-and-forward queue full (%d messages): dropped the oldest, "
                              "%d dropped so far", self.client_id, self.max_queued, self.stats.dropped)
            self._queue.append(item)
            self.stats.published += 1
            self.stats.readings_published += item.values
            counts.published += 1
        self._wake.set()

    # ------------------------------------------------------------------ the sender thread

    def _send_loop(self) -> None:
        epoch = 0
        while True:
            self._wake.wait(0.2)
            self._wake.clear()
            self._take_acks()
            with self._lock:
                self.outbox.sync()  # with sync_every > 1: what was queued in the last 0.2 s
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
                self.stats.count_acknowledged(item)
                self.outbox.settle(item)

    def _refused(self, item: Outgoing) -> None:
        """The broker answered with a failing PUBACK: the message is lost, count it as dropped."""
        with self._lock:
            self.stats.count_dropped(item)
            self.outbox.settle(item)
        log.error("%s: the broker refused a message on %s (failure PUBACK); dropped", self.client_id, item.topic)

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
            return self.stats.copy(queued=len(self._queue), inflight=len(self._inflight), connects=self._epoch,
                                   seq_write_errors=self.seq.write_errors)

    def close(self, timeout: float = 10.0) -> PublisherStats:
        """Drain for up to ``timeout`` s, mark the stations ``offline``, disconnect, save state.

        Messages still unacknowledged stay in ``outbox.jsonl`` in the state dir (rewritten to hold
        only them, atomically and durably) and are sent first by the next publisher on the same
        state dir; without a state dir they are counted as unacknowledged in the returned stats.
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
        with self._lock:
            self.outbox.close()
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

    # ------------------------------------------------------------------ the last run's outbox

    def _queue_outbox(self, items: list[Outgoing]) -> None:
        """Queue the last run's messages first; the sequence numbers continue past theirs."""
        for item in items:
            partner, station, _ = parse_topic(item.topic)
            try:
                self.seq.ensure_above(partner, station, decode_payload(item.payload).seq)
            except DecodeError:
                pass  # not a reading the contract knows: it uses no number of ours
            self.enqueue(item)  # already journaled: not appended again
        self.stats.outbox_loaded = len(items)
        if items or self.stats.outbox_skipped:
            log.info("%s: %d messages from the last run queued first (%d unreadable entries skipped)",
                     self.client_id, len(items), self.stats.outbox_skipped)


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
