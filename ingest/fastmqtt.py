"""A paho-mqtt 2.x client with a cheaper receive path and batched PUBACKs (profiled in docs/performance.md).

paho reads every packet with three or more ``recv`` calls (command byte, each remaining-length
byte, body), builds an MQTT 5 ``Properties`` object and an ``MQTTMessage`` for every PUBLISH,
matches the topic against its per-topic callback tree, and queues one PUBACK packet (one write
to its wake-up socket pair, one ``send``) per acknowledgement. At tens of thousands of messages
a second that costs as much CPU as validating and scoring them. :class:`FastClient` changes only
that:

- **reading**: one ``recv`` of up to :data:`RECV_BYTES` per readable socket; every complete packet
  in the buffer is handled, a partial one waits for the next ``recv``. Any packet but a plain
  PUBLISH (and a PUBLISH that carries MQTT 5 properties, or QoS 2) goes to paho's own handler
  unchanged, so connect, subscribe, ping and disconnect behave exactly as in paho.
- **delivery**: a PUBLISH without properties is handed straight to ``on_raw(topic, payload, mid,
  qos)`` (no ``Properties``, no ``MQTTMessage``, no topic matching); without ``on_raw`` it takes
  paho's path.
- **acks**: :meth:`FastClient.ack_many` queues the PUBACKs of many messages as one write, in the
  given order (MQTT acknowledges per packet id; nothing is merged or reordered).
- **holding** (TCP backpressure): while :attr:`FastClient.hold` returns True, the next PUBLISH and
  everything after it stay unhandled in the buffer, and while such a held PUBLISH waits there the
  socket is not read, so the broker's sends back up in TCP instead of in the receiver's memory
  (held with an empty buffer, one read of at most :data:`RECV_BYTES` still takes what comes before
  the next PUBLISH: a CONNACK, SUBACK or PINGRESP is handled, so a reconnect completes while
  held). The receive maximum ought to bound this for QoS 1, but Mosquitto 2.0.11 releases up to a
  whole receive-maximum of queued messages per PUBACK, so it does not bound what arrives. What a
  hold left in the buffer is handled by the next read, or by :meth:`FastClient.loop_misc` (at
  least once a second) when the socket stays quiet.
- **keep-alive while held**: a PINGRESP behind a held PUBLISH is not read either, so paho would
  declare the connection dead after 1.5 to 2 keep-alive intervals and reconnect, again and again
  during a long hold. :meth:`FastClient.loop_misc` therefore takes an outstanding PINGREQ as
  answered (paho's ``_ping_t`` cleared, its last-heard time refreshed; counted in
  ``pings_vouched``) when, :data:`HELD_PING_GRACE_S` after it was sent, the connection shows the
  broker alive: a held PUBLISH waits in the buffer (the reply queues behind it), the kernel reports
  the TCP connection ``ESTABLISHED`` (no FIN or RST came: a stopped or crashed broker's host
  closes it) and every byte sent, the PINGREQ included, acknowledged by the peer (an unreachable
  host leaves it unacknowledged). Otherwise paho's own timeout runs unchanged. This needs Linux's
  ``TCP_INFO`` (elsewhere a hold longer than the keep-alive still ends in reconnects); a broker
  process that hangs while its host keeps the connection open is noticed only once the hold ends.
- **closing**: after its DISCONNECT the client half-closes the socket and reads (and drops) what
  the broker still sends until the broker closes its side, at most :data:`CLOSE_LINGER_S`
  (``graceful_closes`` counts those that saw it close). Closing outright while bytes wait unread
  makes the kernel answer the broker with a reset; a broker still sending to us (Mosquitto logs
  "disconnected: Broken pipe") then drops the connection before it has read our last PUBACKs, and
  those messages come back on the next connection although they are stored.

The buffer belongs to one socket: after a reconnect the client starts with an empty buffer, so
nothing of an earlier connection is ever parsed on a later one. It relies on private methods
of paho 2.x (``_packet_read``, ``_packet_handle``, ``_packet_queue``, ``_check_keepalive``,
``_sock_close`` …), on its connection state (``_state``) and on its keep-alive state (``_ping_t``,
``_msgtime_mutex`` and the last-heard time, which paho 2.2 calls ``_last_bytes_received`` and 2.1
``_last_msg_in``); :func:`supported` checks the release (:data:`TESTED_PAHO`, also the pin in
pyproject.toml) and that they exist, and :func:`ingest.consumer.client_class` falls back to the
plain client otherwise, with a warning (``mqtt.fast_path = false`` chooses plain paho outright).

Examples
--------
>>> puback_bytes([1, 258])
b'@\\x02\\x00\\x01@\\x02\\x01\\x02'
>>> supported()
True
"""

from __future__ import annotations

import logging
import select
import socket
import struct
import time
from collections.abc import Callable, Iterable

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import MalformedPacket  # 2.2 also exports it from paho.mqtt.exception, 2.1 does not

try:
    from paho.mqtt.enums import _ConnectionState
except ImportError:  # another paho release: supported() is False
    _ConnectionState = None

log = logging.getLogger(__name__)

#: Bytes asked of the socket per read (about 250 PUBLISH packets of a few hundred bytes).
RECV_BYTES = 1 << 18

_PUBLISH = 0x30
_PUBACK = 0x40
_PUBACK_PACKET = struct.Struct("!BBH")
_SUCCESS = MQTTErrorCode.MQTT_ERR_SUCCESS
_AGAIN = MQTTErrorCode.MQTT_ERR_AGAIN
_CONN_LOST = MQTTErrorCode.MQTT_ERR_CONN_LOST
_PROTOCOL = MQTTErrorCode.MQTT_ERR_PROTOCOL
_NO_CONN = MQTTErrorCode.MQTT_ERR_NO_CONN

RawCallback = Callable[[str, bytes, int, int], None]

#: Seconds the network thread sleeps per loop while held (the socket stays readable: no busy loop).
HOLD_SLEEP_S = 0.002

#: Seconds a PINGREQ sent while held waits before the connection's state may answer it (at most a
#: quarter of the keep-alive); long enough for the peer's TCP acknowledgement to come back.
HELD_PING_GRACE_S = 0.5

#: Seconds a clean disconnect waits for the broker to close its side of the connection.
CLOSE_LINGER_S = 2.0

# struct tcp_info (linux/tcp.h): tcpi_state is its first byte, tcpi_unacked the u32 at offset 24.
_TCP_INFO = struct.Struct("=B23xI")
_TCP_ESTABLISHED = 1


#: paho-mqtt releases whose internals the fast path was checked against (see tests/ingest/test_fastmqtt.py).
TESTED_PAHO = ("2.1.", "2.2.")


def _names_used(function_name: str) -> tuple[str, ...]:
    """The attribute and global names the paho ``Client`` method ``function_name`` refers to."""
    function = getattr(mqtt.Client, function_name, None)
    code = getattr(function, "__code__", None)
    return code.co_names if code is not None else ()


def _last_heard_attribute() -> str | None:
    """The attribute paho's keep-alive check reads as the time the broker was last heard from:
    ``_last_bytes_received`` (2.2), ``_last_msg_in`` (2.1); None when it reads neither."""
    used = _names_used("_check_keepalive")
    return next((name for name in ("_last_bytes_received", "_last_msg_in") if name in used), None)


#: See :func:`_last_heard_attribute` (the fast path keeps it current; None: the fast client is off).
_LAST_HEARD = _last_heard_attribute()


def supported() -> bool:
    """True when the installed paho-mqtt is a release whose private methods :class:`FastClient`
    overrides were checked (2.1, 2.2), and its keep-alive check reads the state the hold handling
    refreshes; any other release uses the plain client."""
    needed = ("_packet_read", "_packet_handle", "_packet_queue", "_sock_recv", "_send_puback", "_easy_log",
              "_loop_rc_handle", "_check_keepalive", "_sock_close")
    keepalive_state = {"_ping_t", "_msgtime_mutex", "_keepalive"}
    return (paho.mqtt.__version__.startswith(TESTED_PAHO)
            and all(hasattr(mqtt.Client, name) for name in needed)
            and _LAST_HEARD is not None and _ConnectionState is not None
            and keepalive_state <= set(_names_used("_check_keepalive"))
            and keepalive_state | {_LAST_HEARD, "_state"} <= set(_names_used("__init__"))
            and "_ping_t" in _names_used("loop_misc"))


def puback_bytes(mids: Iterable[int]) -> bytes:
    """The PUBACK packets (success, no reason code) of ``mids``, concatenated in order."""
    pack = _PUBACK_PACKET.pack
    return b"".join([pack(_PUBACK, 2, mid) for mid in mids])


class FastClient(mqtt.Client):
    """``paho.mqtt.client.Client`` with buffered reads, direct delivery and batched PUBACKs.

    Set :attr:`on_raw` to receive PUBLISH packets as ``(topic, payload, mid, qos)``, and
    :attr:`hold` to a predicate that is True while the receiver cannot take more (``holds``
    counts the reads it held back, ``pings_vouched`` the keep-alive replies taken as given while
    held, ``graceful_closes`` the disconnects the broker closed first); everything else
    (constructor, callbacks, loop, reconnects) is paho's.
    """

    on_raw: RawCallback | None = None
    hold: Callable[[], bool] | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rx_sock = None
        self._rx = b""
        self.holds = 0
        self.pings_vouched = 0
        self.graceful_closes = 0

    # ------------------------------------------------------------------ acks

    def ack_many(self, mids: list[int]) -> MQTTErrorCode:
        """Queue the PUBACKs of ``mids`` (QoS 1 messages) as one write, in order."""
        if not mids:
            return _SUCCESS
        if self._sock is None:
            return _NO_CONN
        return self._packet_queue(_PUBACK, puback_bytes(mids), 0, 0)

    # ------------------------------------------------------------------ closing

    def _sock_close(self) -> None:
        """paho's close; after our DISCONNECT (state disconnecting) a graceful one: half-close,
        then drain until the broker closes (see the module docstring)."""
        sock = self._sock
        if sock is not None and self._state == _ConnectionState.MQTT_CS_DISCONNECTING and _linger(sock):
            self.graceful_closes += 1
        super()._sock_close()

    # ------------------------------------------------------------------ reading

    def _packet_read(self) -> MQTTErrorCode:
        sock = self._sock
        if sock is None:
            return _NO_CONN
        if sock is not self._rx_sock:  # a new connection: nothing of the old one survives
            self._rx_sock, self._rx = sock, b""
        hold = self.hold
        if hold is not None and self._publish_waits() and hold():
            self.holds += 1
            time.sleep(HOLD_SLEEP_S)
            return _AGAIN
        try:
            data = self._sock_recv(RECV_BYTES)
        except BlockingIOError:
            return _AGAIN
        except OSError as err:  # TimeoutError included
            self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return _CONN_LOST
        if not data:
            return _CONN_LOST
        with self._msgtime_mutex:
            setattr(self, _LAST_HEARD, mqtt.time_func())
        buf = self._rx + data if self._rx else data
        rc, used = self._handle_buffer(buf, sock)
        self._rx = buf[used:] if self._sock is sock else b""
        return rc

    def loop_misc(self) -> MQTTErrorCode:
        """paho's keep-alive check, after handling what a hold left in the buffer (if no longer held),
        or, while held, after answering an outstanding ping from the connection's state."""
        sock = self._sock
        if self._rx and sock is not None and sock is self._rx_sock and not (self.hold is not None and self.hold()):
            buf = self._rx
            rc, used = self._handle_buffer(buf, sock)
            self._rx = buf[used:] if self._sock is sock else b""
            if rc:
                return self._loop_rc_handle(rc)
        if (self._ping_t and sock is not None and sock is self._rx_sock and self._publish_waits()
                and self.hold is not None and self.hold()):
            self._vouch_for_held_ping(sock)
        return super().loop_misc()

    def _publish_waits(self) -> bool:
        """True when the buffer begins with a PUBLISH (complete or not): what a hold stops at."""
        rx = self._rx
        return bool(rx) and rx[0] & 0xF0 == _PUBLISH

    def _vouch_for_held_ping(self, sock: socket.socket) -> None:
        """While a held PUBLISH waits in the buffer, take the outstanding PINGREQ as answered once
        the connection shows the broker alive (see the module docstring); otherwise leave paho's
        keep-alive timeout to run."""
        now = mqtt.time_func()
        if now - self._ping_t < min(HELD_PING_GRACE_S, self._keepalive / 4) or not _peer_acknowledges(sock):
            return
        with self._msgtime_mutex:
            setattr(self, _LAST_HEARD, now)
        self._ping_t = 0
        self.pings_vouched += 1
        self._easy_log(mqtt.MQTT_LOG_DEBUG, "Reading held: PINGRESP waits behind unread data; "
                       "connection established and acknowledged")

    def _handle_buffer(self, buf: bytes, sock: object) -> tuple[MQTTErrorCode, int]:
        """Handle every complete packet in ``buf`` (up to a hold); ``(rc, bytes consumed)``."""
        pos, n = 0, len(buf)
        raw, hold = self.on_raw, self.hold
        while n - pos >= 2:
            cmd = buf[pos]
            length, mult, i = 0, 1, pos + 1
            while True:
                if i >= n:
                    return _SUCCESS, pos  # remaining length not complete yet
                byte = buf[i]
                i += 1
                length += (byte & 127) * mult
                mult <<= 7
                if not byte & 128:
                    break
                if i - pos > 4:
                    return _PROTOCOL, pos
            end = i + length
            if end > n:
                return _SUCCESS, pos  # body not complete yet
            if hold is not None and cmd & 0xF0 == _PUBLISH and hold():
                self.holds += 1
                return _SUCCESS, pos  # the receiver is full: this packet and the rest wait
            pos = end
            if raw is not None and cmd & 0xF0 == _PUBLISH and self._publish_fast(cmd, buf, i, end, raw):
                continue
            rc = self._handle_one(cmd, buf[i:end])
            if rc or self._sock is not sock:
                return rc, pos
        return _SUCCESS, pos

    def _publish_fast(self, cmd: int, buf: bytes, start: int, end: int, raw: RawCallback) -> bool:
        """Deliver a QoS 0/1 PUBLISH without properties to ``raw``; False to leave it to paho."""
        qos = (cmd & 0x06) >> 1
        if qos == 2 or end - start < 2:
            return False
        p = start + 2 + ((buf[start] << 8) | buf[start + 1])
        if p > end:
            return False
        topic = buf[start + 2:p]
        mid = 0
        if qos:
            if p + 2 > end:
                return False
            mid = (buf[p] << 8) | buf[p + 1]
            p += 2
        if self._protocol == mqtt.MQTTv5:
            if p >= end or buf[p] != 0:  # properties present (or malformed): paho decodes them
                return False
            p += 1
        try:
            text = topic.decode()
        except UnicodeDecodeError:
            return False
        raw(text, buf[p:end], mid, qos)
        if qos == 1 and not self._manual_ack:
            self._send_puback(mid)
        return True

    def _handle_one(self, cmd: int, body: bytes) -> MQTTErrorCode:
        """One packet through paho's own handler, as its ``_packet_read`` would hand it over."""
        self._in_packet = {"command": cmd, "have_remaining": 1, "remaining_count": [], "remaining_mult": 1,
                           "remaining_length": len(body), "packet": bytearray(body), "to_process": 0, "pos": 0}
        try:
            rc = self._packet_handle()
        except MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            rc = _PROTOCOL
        self._in_packet = {"command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
                           "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0}
        return rc


def _peer_acknowledges(sock: socket.socket) -> bool:
    """True when the kernel reports the TCP connection of ``sock`` established (no FIN or RST
    from the broker) with every byte sent acknowledged by the peer; False when it cannot tell."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO.size)
    except (AttributeError, OSError, ValueError, TypeError):  # not Linux, not a TCP socket, closed
        return False
    if len(info) < _TCP_INFO.size:
        return False
    state, unacked = _TCP_INFO.unpack_from(info)
    return state == _TCP_ESTABLISHED and unacked == 0


def _linger(sock: socket.socket, timeout: float = CLOSE_LINGER_S) -> bool:
    """Half-close ``sock`` (a FIN after what was written) and read, dropping it, until the peer
    closes too or ``timeout`` seconds pass; True when the peer closed (nothing left unread)."""
    deadline = time.monotonic() + timeout
    try:
        sock.shutdown(socket.SHUT_WR)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                return False
            try:
                if not sock.recv(RECV_BYTES):
                    return True
            except BlockingIOError:
                continue
    except (OSError, ValueError):  # reset, already closed, not a socket
        return False
