"""A loopback TCP proxy in front of the real InfluxDB that misbehaves on request (not a test module).

Not a mock: every request it forwards is served by the real InfluxDB behind it; it only changes
what comes back. Modes (:meth:`FaultProxy.set_mode`):

- ``pass``: bytes flow both ways untouched;
- ``half_open``: requests still reach InfluxDB (which stores the write), answers are swallowed and
  the connection stays open, with no FIN and no RST: the client sees a peer that went silent;
- ``http_503``: every request is answered ``503 Service Unavailable`` by the proxy (InfluxDB up
  behind it, overloaded or restarting), then the connection is closed;
- ``late``: requests reach InfluxDB, each answer is held ``late_s`` seconds (30 by default)
  before it is passed on;
- ``trickle``: requests reach InfluxDB, answers come back one byte every ``trickle_s`` seconds
  (less than the client's socket timeout, so only a bound on the whole exchange stops waiting).

The mode applies to the bytes that cross the proxy from then on, on old and new connections.
"""

from __future__ import annotations

import socket

from tests.ingest.overload_kit import DelayProxy, _shut

MODES = ("pass", "half_open", "http_503", "late", "trickle")
ANSWER_503 = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
              b"Connection: close\r\n\r\noverloaded\r\n")


class FaultProxy(DelayProxy):
    """The proxy (the connection handling of ``test_overload``'s :class:`DelayProxy`, other faults);
    ``url`` is what the worker is given instead of InfluxDB's own URL."""

    def __init__(self, influx_url: str, late_s: float = 30.0, trickle_s: float = 0.5) -> None:
        self.mode, self.late_s, self.trickle_s = "pass", late_s, trickle_s
        self.answers_swallowed = self.answers_503 = self.answers_delayed = 0
        super().__init__(influx_url)

    def set_mode(self, mode: str) -> None:
        """Switch to ``mode`` (one of :data:`MODES`)."""
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        self.mode = mode

    def _pump(self, src: socket.socket, dst: socket.socket, toward_influx: bool) -> None:
        step = self._requests if toward_influx else self._answers
        try:
            while not self._closed.is_set():
                data = src.recv(1 << 16)
                if not data or not step(data, src, dst):
                    return
        except OSError:
            pass
        finally:
            if self.mode != "half_open":  # half-open: leave the client's side silent, never closed
                _shut(src)
                _shut(dst)

    def _requests(self, data: bytes, client: socket.socket, upstream: socket.socket) -> bool:
        """Client → InfluxDB: forwarded, or answered 503 by the proxy."""
        if self.mode == "http_503":
            if data[:4] in (b"POST", b"GET ", b"HEAD"):  # a request's first chunk: answer it once
                self.answers_503 += 1
                client.sendall(ANSWER_503)
            _shut(client)
            return False
        upstream.sendall(data)
        return True

    def _answers(self, data: bytes, upstream: socket.socket, client: socket.socket) -> bool:
        """InfluxDB → client: passed on, swallowed (half-open) or held ``late_s`` first."""
        if self.mode == "half_open":
            self.answers_swallowed += 1
            return True
        if self.mode == "late":
            self.answers_delayed += 1
            if self._closed.wait(self.late_s):
                return False
        if self.mode == "trickle":
            self.answers_delayed += 1
            for byte in data:
                if self._closed.wait(self.trickle_s):
                    return False
                client.sendall(bytes([byte]))
            return True
        client.sendall(data)
        return True

