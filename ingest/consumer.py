"""The MQTT side of ingest: a paho-mqtt 2.x client, MQTT 5, persistent session, manual acks.

- ``clean_start=False`` with a ``SessionExpiryInterval``: messages published while the worker is
  away wait in the broker; unacknowledged ones are delivered again on reconnect.
- QoS 1 subscriptions to :data:`riverwatch.contract.DATA_SUBSCRIPTION` (as
  ``$share/<group>/…`` when ``mqtt.shared_group`` is set, so several workers split the load) and
  to the status topics, made in ``on_connect`` so every reconnect re-subscribes. With
  ``ingest.shard = "i/n"`` the worker instead subscribes to the explicit
  ``rw/v1/<partner>/<station>/data|status`` topics of the catalog stations whose *basin* (the
  outlet their ``downstream`` chain ends at, :meth:`~riverwatch.catalog.Catalog.basin_outlet`)
  hashes to ``i`` (:func:`shard_of`):
  a station's stream always reaches the same worker, and so do its upstream and downstream
  neighbours, so warning propagation and corroboration stay inside one warning book.
- ``manual_ack=True``: paho does not acknowledge on its own; :meth:`Consumer.ack` is called once
  the message's readings are durable. Every message carries the *generation* of the connection it
  arrived on; an ack from an older connection is dropped, because after a reconnect the broker
  re-sends the message under the same packet id and that id may since have been given to another
  message (acking it would acknowledge a message that is not durable yet).
- ``on_message`` only hands ``(topic, payload, mid, qos, arrival_s, generation)`` to a callback
  (the service's queue); ``loop_start()`` runs the network thread, reconnecting with back-off.
- ``hold``: a predicate that is True while that queue is full; the network thread then stops
  reading (TCP backpressure, see :mod:`ingest.fastmqtt`). Only the fast client can: it is used when
  ``mqtt.fast_path`` is on (the default) and the installed paho-mqtt is a release it supports
  (:data:`ingest.fastmqtt.TESTED_PAHO`; pinned in pyproject.toml), otherwise the plain paho client,
  with a warning when the fast path was asked for. Plain paho reads every packet as it comes and
  cannot hold its reads without blocking ``on_message`` (which would also stop its keep-alive and
  its acks), so it never holds: the backlog's bound is then kept by dropping QoS 0 at
  ``ingest.max_queue`` (:mod:`ingest.flow`, unchanged), while QoS 1 is bounded only by the broker
  honouring ``mqtt.receive_maximum`` (a broker that sends more than that, as Mosquitto 2.0.11 can
  after PUBACKs, takes the backlog past ``ingest.max_queue`` by that much).
- :meth:`Consumer.stop` sends what is queued (the last acks) before its DISCONNECT, waiting at
  most :data:`ACK_FLUSH_S`; acks handed over while there is no connection are counted in
  ``acks_unsent`` (the broker redelivers those messages).

Examples
--------
>>> from riverwatch.settings import MqttSettings
>>> Consumer(MqttSettings(shared_group="workers"), lambda item: None).subscriptions()[0]
('$share/workers/rw/v1/+/+/data', 1)
>>> shard_of("rivertown", "gauge-hochtal", 4) == shard_of("rivertown", "gauge-hochtal", 4)
True
"""

from __future__ import annotations

import logging
import socket
import ssl
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from riverwatch.catalog import Catalog
from riverwatch.ack_contract import ACK_SUBSCRIPTION
from riverwatch.contract import DATA_SUBSCRIPTION, STATUS_SUBSCRIPTION, data_topic, status_topic
from riverwatch.errors import ConfigError
from riverwatch.exercise_contract import EXERCISE_SUBSCRIPTION, station_exercise_topic
from riverwatch.settings import MqttSettings

from ingest import fastmqtt

log = logging.getLogger(__name__)

#: What ``on_message`` enqueues: topic, payload, message id, QoS, arrival time (epoch s), generation.
Item = tuple[str, bytes, int, int, float, int]

#: Topic filters per SUBSCRIBE packet (a sharded worker of a large catalog has thousands).
FILTERS_PER_SUBSCRIBE = 100

#: Back-off between connection attempts: paho waits RECONNECT_MIN_S, doubling up to RECONNECT_MAX_S.
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 15

#: CONNACK reason codes that mean the broker refused our credentials.
AUTH_REFUSALS = frozenset({"Bad user name or password", "Not authorized"})

#: Seconds :meth:`Consumer.stop` waits for queued packets (acks) to be written before it disconnects.
ACK_FLUSH_S = 5.0


def shard_of(partner: str, station: str, count: int) -> int:
    """The shard (0 … count-1) of a station: CRC-32 of ``partner/station``, stable across runs.

    >>> shard_of("rivertown", "gauge-hochtal", 1)
    0
    """
    return zlib.crc32(f"{partner}/{station}".encode()) % count


def parse_shard(shard: str | None) -> tuple[int, int] | None:
    """``"i/n"`` → ``(i, n)``; None stays None.

    >>> parse_shard("1/4")
    (1, 4)
    """
    if shard is None:
        return None
    index, count = (int(part) for part in shard.split("/"))
    if not 0 <= index < count:
        raise ConfigError(f"option ingest.shard: {shard!r} needs 0 <= i < n")
    return index, count


def shard_stations(catalog: Catalog, shard: tuple[int, int]) -> list[tuple[str, str]]:
    """The ``(partner, station)`` keys of the catalog that belong to ``shard = (i, n)``: those whose
    basin outlet (:meth:`~riverwatch.catalog.Catalog.basin_outlet`) hashes to ``i``, so a river
    network stays in one shard."""
    index, count = shard
    out = []
    for st in catalog.stations:
        outlet = catalog.basin_outlet(st)
        if shard_of(outlet.partner, outlet.id, count) == index:
            out.append(st.key)
    return out


def failure_cause(exc: BaseException | None, tls: bool = False) -> str:
    """Name why a connection attempt failed: DNS, TLS, refused, timeout, or the error itself.

    With ``tls``, a connection reset before the broker answered is the TLS handshake failing
    (a plain listener drops a ClientHello), so it is named TLS too.

    >>> failure_cause(ConnectionRefusedError(111, "Connection refused"))
    'refused (nothing listening there?): [Errno 111] Connection refused'
    >>> failure_cause(socket.gaierror(-2, "Name or service not known"))
    'DNS (cannot resolve the host): [Errno -2] Name or service not known'
    >>> failure_cause(ConnectionResetError(104, "Connection reset by peer"), tls=True)
    'TLS: handshake failed (is the port a TLS listener?): [Errno 104] Connection reset by peer'
    """
    if isinstance(exc, socket.gaierror):
        return f"DNS (cannot resolve the host): {exc}"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"TLS: {exc}"
    if tls and isinstance(exc, ConnectionResetError | BrokenPipeError):
        return f"TLS: handshake failed (is the port a TLS listener?): {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return f"refused (nothing listening there?): {exc}"
    if isinstance(exc, TimeoutError):
        return f"timeout: {exc}"
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"


def client_class(fast_path: bool = True) -> type[mqtt.Client]:
    """:class:`~ingest.fastmqtt.FastClient` when ``fast_path`` and the installed paho-mqtt is a release
    it supports; otherwise ``paho.mqtt.client.Client`` (with a warning if the fast path was asked for).

    >>> client_class(False) is mqtt.Client, client_class(True) is fastmqtt.FastClient
    (True, True)
    """
    if not fast_path:
        log.info("mqtt.fast_path is off: using the plain paho client (reading is never held; QoS 0 is dropped "
                 "at ingest.max_queue)")
        return mqtt.Client
    if not fastmqtt.supported():
        log.warning("paho-mqtt %s is not a release ingest.fastmqtt supports (%s): falling back to the plain paho "
                    "client: a slower receive path, and reading is never held while the backlog is full (QoS 0 "
                    "is still dropped at ingest.max_queue). Install a supported paho-mqtt or set "
                    "mqtt.fast_path = false to silence this.", paho.mqtt.__version__,
                    ", ".join(f"{v}x" for v in fastmqtt.TESTED_PAHO))
        return mqtt.Client
    return fastmqtt.FastClient


class Consumer:
    """One paho client: connects, subscribes, enqueues messages and sends manual acks.

    Parameters
    ----------
    settings
        The ``mqtt`` settings section.
    deliver
        Called on paho's network thread with each :data:`Item`; must not block.
    stations
        With sharding: the ``(partner, station)`` keys to subscribe to explicitly (no wildcard,
        no shared subscription). None: the wildcard subscriptions.
    hold
        Called on the network thread before each PUBLISH is handed over; while it returns True
        nothing more is read from the broker (fast client only; plain paho never holds).
    acks_and_drills
        Also subscribe to operators' acknowledgements (``rw/v1/+/ack/+``; every shard receives
        them all and keeps those of its own stations' warnings) and to drills' readings (a
        shard: those of its own stations).

    Raises
    ------
    ConfigError
        ``stations`` given together with ``mqtt.shared_group`` (a shared subscription would split
        a shard's stations across workers again), or an empty shard.
    """

    def __init__(self, settings: MqttSettings, deliver: Callable[[Item], None],
                 stations: Iterable[tuple[str, str]] | None = None, hold: Callable[[], bool] | None = None,
                 acks_and_drills: bool = False) -> None:
        self.settings = settings
        self.acks_and_drills = acks_and_drills
        self.deliver = deliver
        self.stations = None if stations is None else list(stations)
        if self.stations is not None:
            if settings.shared_group:
                raise ConfigError("option ingest.shard: cannot be combined with mqtt.shared_group "
                                  "(a shard is one worker; give each worker its own client_id)")
            if not self.stations:
                raise ConfigError("option ingest.shard: no catalog station falls into this shard")
        self.connected = threading.Event()
        self.connects = 0
        self.disconnects = 0
        self.subscribe_failures = 0
        self.acks_dropped = 0
        self.acks_unsent = 0
        self.connect_failures = 0  # attempts failed in a row (reset by a successful connect)
        self.last_failure: str | None = None  # why the last attempt failed (None once connected)
        self.generation = 0
        self.last_message = time.monotonic()
        self._pending_subacks: set[int] = set()
        client = client_class(settings.fast_path)(CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                              protocol=mqtt.MQTTv5, manual_ack=True)
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(settings.username, password)
        if settings.tls:
            client.tls_set(ca_certs=str(settings.ca_file) if settings.ca_file else None)
        client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        client.max_inflight_messages_set(max(20, settings.receive_maximum))
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        if isinstance(client, fastmqtt.FastClient):
            client.on_raw = self._on_raw
            client.hold = hold
        self.client = client

    @property
    def fast(self) -> bool:
        """True with the fast client (:mod:`ingest.fastmqtt`), False with plain paho."""
        return isinstance(self.client, fastmqtt.FastClient)

    @property
    def holds(self) -> int:
        """Reads held back because the receiving queue was full (0 with the plain paho client)."""
        return getattr(self.client, "holds", 0)

    @property
    def reconnects(self) -> int:
        """Successful connects after the first one."""
        return max(0, self.connects - 1)

    def subscriptions(self) -> list[tuple[str, int]]:
        """The ``(topic filter, qos)`` pairs subscribed on every connect."""
        group = self.settings.shared_group
        shared = (lambda topic: f"$share/{group}/{topic}") if group else (lambda topic: topic)
        aside = self.acks_and_drills
        acks = [(shared(ACK_SUBSCRIPTION), 1)] if aside else []
        if self.stations is not None:
            drills = [(station_exercise_topic("+", p, s), 1) for p, s in self.stations] if aside else []
            return ([(data_topic(p, s), 1) for p, s in self.stations]
                    + [(status_topic(p, s), 1) for p, s in self.stations] + acks + drills)
        drills = [(shared(EXERCISE_SUBSCRIPTION), 1)] if aside else []
        return [(shared(DATA_SUBSCRIPTION), 1), (shared(STATUS_SUBSCRIPTION), 1)] + acks + drills

    def start(self) -> None:
        """Connect in the background (paho retries until the broker answers) and start the loop."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        props.ReceiveMaximum = self.settings.receive_maximum
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s,
                                  clean_start=False, properties=props)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected and subscribed (every SUBACK received), at most ``timeout`` seconds."""
        return self.connected.wait(timeout)

    def stop(self, flush_s: float = ACK_FLUSH_S) -> None:
        """Write what is queued (the last acks), then disconnect cleanly (the session stays on the
        broker) and stop the network thread.

        paho writes its queue in order, so the DISCONNECT goes after every ack queued before this
        call; the wait (at most ``flush_s`` seconds, while connected) makes sure they are on the
        wire before the network thread is told to end, and logs what could not be written.
        """
        client = self.client
        deadline = time.monotonic() + flush_s
        while client.want_write() and self.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.005)
        if client.want_write() and self.connected.is_set():
            log.warning("MQTT stop: packets (acks) still unwritten after %.1f s; disconnecting behind them", flush_s)
        try:
            client.disconnect()
        finally:
            client.loop_stop()
        self.connected.clear()

    def ack(self, mid: int, qos: int, generation: int | None = None) -> None:
        """Acknowledge one message (PUBACK for QoS 1); QoS 0 needs none.

        A message from an earlier connection (``generation``) is not acknowledged: the broker has
        re-sent it on the current connection, where it is processed and acknowledged again.
        """
        if not qos:
            return
        if generation is not None and generation != self.generation:
            self.acks_dropped += 1
            return
        if self.client.ack(mid, qos) != mqtt.MQTT_ERR_SUCCESS:
            self.acks_unsent += 1

    def ack_many(self, tokens: Iterable[tuple]) -> None:
        """Acknowledge the messages of ``(mid, qos, generation)`` triples, in order, in one write.

        Same rules as :meth:`ack`: QoS 0 needs no ack, an earlier connection's message is dropped;
        acks that find no connection are counted in ``acks_unsent``.
        """
        current = self.generation
        mids = []
        for mid, qos, generation in tokens:
            if not qos:
                continue
            if generation is not None and generation != current:
                self.acks_dropped += 1
                continue
            mids.append(mid)
        if not mids:
            return
        client = self.client
        if isinstance(client, fastmqtt.FastClient):
            if client.ack_many(mids) != mqtt.MQTT_ERR_SUCCESS:
                self.acks_unsent += len(mids)
        else:
            for mid in mids:
                if client.ack(mid, 1) != mqtt.MQTT_ERR_SUCCESS:
                    self.acks_unsent += 1

    def resubscribe(self) -> None:
        """Send the subscriptions again (idempotent on the broker); used by the service's watchdog."""
        if self.connected.is_set():
            self._subscribe(self.client)

    def idle_s(self) -> float:
        """Seconds since the last message arrived (or since the consumer was made)."""
        return time.monotonic() - self.last_message

    # ------------------------------------------------------------------ paho callbacks (thin)

    def _subscribe(self, client) -> None:
        pairs = self.subscriptions()
        for start in range(0, len(pairs), FILTERS_PER_SUBSCRIBE):
            chunk = pairs[start:start + FILTERS_PER_SUBSCRIBE]
            result, mid = client.subscribe([(topic, SubscribeOptions(qos=qos)) for topic, qos in chunk])
            if result == mqtt.MQTT_ERR_SUCCESS:
                self._pending_subacks.add(mid)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            kind = "auth" if str(reason_code) in AUTH_REFUSALS else "broker"
            self._failed(f"{kind}: the broker refused the connection: {reason_code}")
            return
        self.connect_failures, self.last_failure = 0, None
        self.generation += 1
        self.connects += 1
        self._pending_subacks.clear()
        self._subscribe(client)
        log.info("MQTT connected to %s:%s (session present: %s, connection %d)", self.settings.host,
                 self.settings.port, flags.session_present, self.connects)

    def _on_connect_fail(self, client, userdata) -> None:
        # paho calls this inside its ``except OSError`` around the connect: the exception is current
        self._failed(failure_cause(sys.exc_info()[1], self.settings.tls))

    def _failed(self, cause: str) -> None:
        """Log one failed attempt with its cause: ERROR when the cause is new, WARNING while it repeats."""
        self.connect_failures += 1
        level = logging.WARNING if cause == self.last_failure else logging.ERROR
        self.last_failure = cause
        log.log(level, "MQTT connect to %s:%s failed (attempt %d): %s; retrying with back-off (doubling, at most "
                "%d s apart)", self.settings.host, self.settings.port, self.connect_failures, cause, RECONNECT_MAX_S)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [str(code) for code in reason_codes if code.is_failure]
        if failed:
            self.subscribe_failures += len(failed)
            log.error("MQTT subscription refused: %s", ", ".join(failed))
        self._pending_subacks.discard(mid)
        if not self._pending_subacks:
            self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.disconnects += 1
        log.warning("MQTT disconnected: %s", reason_code)

    def _on_raw(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self.last_message = time.monotonic()
        self.deliver((topic, payload, mid, qos, time.time(), self.generation))

    def _on_message(self, client, userdata, message) -> None:
        self.last_message = time.monotonic()
        self.deliver((message.topic, message.payload, message.mid, message.qos, time.time(), self.generation))
