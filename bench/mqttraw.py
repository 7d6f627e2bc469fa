"""A minimal MQTT 3.1.1 QoS 1 publisher of pre-encoded packets: the load generator's wire side.

Encoding every PUBLISH before the measurement starts leaves the load generator one ``sendall`` of
a slice of a big buffer per tick, so its CPU cost during a window is close to nothing; a reader
thread counts the broker's PUBACKs (what the broker has *acknowledged*, i.e. accepted).

Examples
--------
>>> encode_publish("a/b", b"hi", 1)
b'2\\t\\x00\\x03a/b\\x00\\x01hi'
>>> encode_remaining_length(321)
b'\\xc1\\x02'
"""

from __future__ import annotations

import socket
import struct
import threading
import time

CONNACK, PUBACK = 0x20, 0x40


def encode_remaining_length(n: int) -> bytes:
    """MQTT variable-length integer."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encode_connect(client_id: str, keepalive: int = 60, clean: bool = True) -> bytes:
    """CONNECT packet, MQTT 3.1.1, no credentials."""
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04" + bytes([0x02 if clean else 0x00]) + struct.pack("!H", keepalive)
    body += struct.pack("!H", len(cid)) + cid
    return b"\x10" + encode_remaining_length(len(body)) + body


def encode_publish(topic: str, payload: bytes, packet_id: int, qos: int = 1) -> bytes:
    """PUBLISH packet (QoS 1 carries ``packet_id``; 1..65535)."""
    t = topic.encode()
    body = struct.pack("!H", len(t)) + t + (struct.pack("!H", packet_id) if qos else b"") + payload
    return bytes([0x30 | (qos << 1)]) + encode_remaining_length(len(body)) + body


class RawPublisher:
    """One TCP connection to the broker sending pre-encoded packets and counting PUBACKs.

    Parameters
    ----------
    host, port
        The broker (loopback).
    client_id
        MQTT client id.
    """

    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=10.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.sock.sendall(encode_connect(client_id))
        head = self._recv_exact(4)
        if head[0] != CONNACK or head[3] != 0:
            raise ConnectionError(f"broker refused the connection: {head!r}")
        self.sock.settimeout(None)
        self.acks = 0
        self.other_packets = 0
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, name="puback-reader", daemon=True)
        self._reader.start()

    def _recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            data += chunk
        return data

    def _read_loop(self) -> None:
        buf = b""
        while not self._closed:
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            quads = len(buf) // 4
            if quads and buf[: 4 * quads: 4].count(PUBACK) == quads and buf[1: 4 * quads: 4].count(2) == quads:
                # fast path: nothing but PUBACKs (all a publish-only client receives)
                self.acks += quads
                buf = buf[4 * quads:]
                continue
            pos, n = 0, len(buf)
            acks = 0
            while True:
                if n - pos < 2:
                    break
                # PUBACK is always 4 bytes (0x40 0x02 id id); anything else: parse its length
                if buf[pos] == PUBACK and buf[pos + 1] == 2:
                    if n - pos < 4:
                        break
                    acks += 1
                    pos += 4
                    continue
                length, mult, i = 0, 1, pos + 1
                while i < n:
                    b = buf[i]
                    length += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        break
                else:
                    break
                if n - i < length:
                    break
                self.other_packets += 1
                pos = i + length
            self.acks += acks
            buf = buf[pos:]

    def send(self, data: bytes | memoryview) -> None:
        """Write bytes (whole packets) to the broker; blocks under TCP back-pressure."""
        self.sock.sendall(data)

    def wait_acks(self, expected: int, timeout: float) -> bool:
        """Wait until ``expected`` PUBACKs arrived (at most ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while self.acks < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acks >= expected

    def close(self) -> None:
        """Send DISCONNECT and close the socket."""
        self._closed = True
        try:
            self.sock.sendall(b"\xe0\x00")
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._reader.join(2.0)
