"""A small client for InfluxDB's v1-compatible HTTP API: ``/ping``, ``/write``, ``/query``.

The same calls work on InfluxDB 1.x and, through their v1 compatibility API, on 2.x (token auth,
a DBRP mapping per bucket) and 3.x. Only the standard library is used: one persistent keep-alive
``http.client`` connection per client, re-opened when the server has dropped it.

Write failures raise :class:`InfluxError`, a :class:`~riverwatch.errors.SinkError` that says whether
trying the same body again can succeed (``retryable``): :class:`InfluxRejectedError` when the body
itself is at fault (bad line protocol, partial write, too large), :class:`InfluxUnavailableError`
when the server is down, overloaded, or not set up yet (5xx, 429, 401/403, 404, connection errors).
A sink keeps (spools) what is retryable and drops and reports what is rejected.

Examples
--------
>>> client = InfluxClient("http://127.0.0.1:8086", "riverwatch")
>>> client.database
'riverwatch'
>>> series_to_rows([{"name": "level", "tags": {"station": "S1"},
...                  "columns": ["time", "value"], "values": [[1, 2.5], [2, 2.75]]}])
[{'station': 'S1', 'time': 1, 'value': 2.5}, {'station': 'S1', 'time': 2, 'value': 2.75}]
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from urllib.parse import urlencode, urlsplit

import orjson

from riverwatch.errors import ConfigError, SinkError

__all__ = [
    "InfluxClient",
    "InfluxError",
    "InfluxRejectedError",
    "InfluxUnavailableError",
    "quote_ident",
    "series_to_rows",
]

# 4xx answers that do not condemn the body: the same write can succeed later.
_RETRYABLE_4XX = frozenset({401, 403, 404, 408, 409, 425, 429})


class InfluxError(SinkError):
    """InfluxDB did not take a request.

    Attributes
    ----------
    status
        The HTTP status, or ``None`` when there was no answer (connection refused, timeout).
    retryable
        True when sending the same request again can succeed.
    """

    retryable = True

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class InfluxRejectedError(InfluxError):
    """The server refused the body itself (HTTP 400, 413, ...): retrying it cannot help."""

    retryable = False


class InfluxUnavailableError(InfluxError):
    """The server is down, overloaded or not ready (5xx, 429, auth, missing database, no answer)."""

    retryable = True


def quote_ident(name: str) -> str:
    """Quote an InfluxQL identifier (database, measurement, tag key).

    >>> quote_ident('river "levels"')
    '"river \\\\"levels\\\\""'
    """
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(text: str) -> str:
    """Quote an InfluxQL string literal (a tag value in ``WHERE``).

    >>> quote_literal("O'Brien bridge")
    "'O\\\\'Brien bridge'"
    """
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def series_to_rows(series: list[dict]) -> list[dict]:
    """Flatten query series into one dict per row: the series' tags plus ``column: value``."""
    rows = []
    for s in series:
        tags = s.get("tags") or {}
        columns = s.get("columns") or []
        for values in s.get("values") or []:
            row = dict(tags)
            row.update(zip(columns, values))
            rows.append(row)
    return rows


class InfluxClient:
    """Client for one database over InfluxDB's v1-compatible HTTP API.

    Thread-safe: requests share one keep-alive connection under a lock, so several threads may
    use one client (their requests are serialised; give each writer thread its own client for
    parallel writes).

    Parameters
    ----------
    url
        Base URL, e.g. ``http://127.0.0.1:8086`` (a path prefix is kept; ``https`` works).
    database
        Database (1.x) or DBRP-mapped database name (2.x/3.x).
    token
        API token, sent as ``Authorization: Token <token>`` (2.x/3.x, or 1.x ``user:password``).
    username, password
        1.x credentials, sent as ``u``/``p`` query parameters when no token is given.
    timeout
        Seconds a request may wait for the server: the socket timeout of each request, and for a
        write or a ping also the bound of the whole exchange, so a server that answers one byte
        at a time (or a half-open connection that trickles) cannot hold a writer longer.
    """

    def __init__(
        self,
        url: str,
        database: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"influx url: {url!r} is not an http(s) URL")
        if not database:
            raise ConfigError("influx database: must not be empty")
        self.url = url.rstrip("/")
        self.database = database
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._headers = {"User-Agent": "riverwatch"}
        self._auth_params: dict[str, str] = {}
        if token:
            self._headers["Authorization"] = f"Token {token}"
        elif username:
            self._auth_params = {"u": username, "p": password or ""}
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"InfluxClient({self.url!r}, {self.database!r})"

    # ------------------------------------------------------------------ transport

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _request(
        self, method: str, path: str, params: dict[str, str], body: bytes | None, headers: dict[str, str],
        bounded: bool = False,
    ) -> tuple[int, bytes, http.client.HTTPResponse]:
        query = urlencode({**params, **self._auth_params})
        target = f"{self._prefix}{path}" + (f"?{query}" if query else "")
        all_headers = {**self._headers, **headers}
        with self._lock:
            # A kept-alive connection may have been closed by the server meanwhile: one fresh retry.
            for attempt in (0, 1):
                reused = self._conn is not None
                deadline = None
                try:
                    if self._conn is None:
                        self._conn = self._connect()
                    with _Deadline(self._conn, self.timeout if bounded else None) as deadline:
                        self._conn.request(method, target, body=body, headers=all_headers)
                        resp = self._conn.getresponse()
                        data = resp.read()
                except (OSError, http.client.HTTPException) as exc:
                    self._drop_connection()
                    if deadline is not None and deadline.expired:
                        raise InfluxUnavailableError(
                            f"InfluxDB at {self.url} unavailable: no whole answer within {self.timeout:g} s"
                        ) from exc
                    if reused and attempt == 0 and not isinstance(exc, TimeoutError):
                        continue
                    raise InfluxUnavailableError(
                        f"InfluxDB at {self.url} unavailable: {type(exc).__name__}: {exc}"
                    ) from exc
                if resp.will_close:
                    self._drop_connection()
                return resp.status, data, resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @staticmethod
    def _error_text(data: bytes, resp: http.client.HTTPResponse) -> str:
        try:
            doc = json.loads(data)
            if isinstance(doc, dict):
                text = doc.get("error") or doc.get("message")
                if text:
                    return str(text)
        except ValueError:
            pass
        return resp.getheader("X-Influxdb-Error") or data.decode("utf-8", "replace").strip() or resp.reason

    def _raise_for(self, what: str, status: int, data: bytes, resp: http.client.HTTPResponse) -> None:
        text = self._error_text(data, resp)
        message = f"InfluxDB {what} failed with HTTP {status}: {text}"
        if 400 <= status < 500 and status not in _RETRYABLE_4XX:
            raise InfluxRejectedError(message, status)
        raise InfluxUnavailableError(message, status)

    # ------------------------------------------------------------------ API

    def ping(self) -> bool:
        """True when the server answers ``GET /ping`` with 204."""
        try:
            status, _, _ = self._request("GET", "/ping", {}, None, {}, bounded=True)
        except InfluxError:
            return False
        return status == 204

    def write(self, body: bytes | str, precision: str = "ns") -> None:
        """Write line protocol to the database.

        Parameters
        ----------
        body
            One or more lines of line protocol, newline-separated.
        precision
            Timestamp precision of the lines: ``ns``, ``u``, ``ms``, ``s``, ``m`` or ``h``.

        Raises
        ------
        InfluxRejectedError
            The body was refused (``retryable`` is False); on a 1.x partial write the good lines
            were stored and the message names the bad one.
        InfluxUnavailableError
            No answer or a server-side failure (``retryable`` is True).
        """
        if isinstance(body, str):
            body = body.encode("utf-8")
        params = {"db": self.database, "precision": precision}
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        status, data, resp = self._request("POST", "/write", params, body, headers, bounded=True)
        if status not in (200, 204):
            self._raise_for("write", status, data, resp)

    def query(self, q: str, epoch: str | None = "ns") -> list[dict]:
        """Run InfluxQL and return the series of the first statement's result.

        Parameters
        ----------
        q
            One or more InfluxQL statements (sent with POST, so ``CREATE``/``DROP`` work too).
        epoch
            Time format of the ``time`` column: ``ns``, ``u``, ``ms``, ``s``, ``m``, ``h``, or
            ``None`` for RFC 3339 strings.

        Returns
        -------
        list of dict
            Each series as ``{"name", "tags" (may be absent), "columns", "values"}``; empty when
            nothing matched.

        Raises
        ------
        InfluxError
            On a non-200 answer or an ``error`` in the result.
        """
        params = {"db": self.database}
        if epoch:
            params["epoch"] = epoch
        body = urlencode({"q": q}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        status, data, resp = self._request("POST", "/query", params, body, headers)
        if status != 200:
            self._raise_for("query", status, data, resp)
        try:
            doc = orjson.loads(data)  # several times faster than json on large results
        except ValueError as exc:
            raise InfluxUnavailableError(f"InfluxDB query answered non-JSON: {data[:200]!r}", status) from exc
        if doc.get("error"):
            raise InfluxRejectedError(f"InfluxDB query failed: {doc['error']}", status)
        results = doc.get("results") or [{}]
        first = results[0]
        if first.get("error"):
            raise InfluxRejectedError(f"InfluxDB query failed: {first['error']}", status)
        return first.get("series") or []

    def query_rows(self, q: str, epoch: str | None = "ns") -> list[dict]:
        """Run InfluxQL and return the first result as row dicts (tags plus columns)."""
        return series_to_rows(self.query(q, epoch))

    def create_database(self) -> None:
        """Create the database (``CREATE DATABASE``; a no-op when it exists).

        On InfluxDB 2.x/3.x create the bucket and its DBRP mapping instead.
        """
        self.query(f"CREATE DATABASE {quote_ident(self.database)}", epoch=None)

    def drop_database(self) -> None:
        """Drop the database and all its data (a no-op when it does not exist)."""
        self.query(f"DROP DATABASE {quote_ident(self.database)}", epoch=None)

    def close(self) -> None:
        """Close the keep-alive connection; the client re-opens one if used again."""
        with self._lock:
            self._drop_connection()

    def __enter__(self) -> InfluxClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Deadline:
    """Bound a whole HTTP exchange: after ``seconds`` the connection's socket is shut down, so a
    read blocked on a trickling or silent server returns at once (``expired`` tells why).

    >>> with _Deadline(None, None) as d:
    ...     pass
    >>> d.expired
    False
    """

    def __init__(self, conn: http.client.HTTPConnection | None, seconds: float | None) -> None:
        self.expired = False
        self._conn = conn
        self._timer = threading.Timer(seconds, self._expire) if seconds and conn is not None else None
        if self._timer is not None:
            self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _expire(self) -> None:
        sock = getattr(self._conn, "sock", None)
        if sock is None:
            return
        self.expired = True
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
