"""The alert feed: active warnings as Atom, each with its CAP XML and a readable HTML page.

A small standard-library HTTP server (``ThreadingHTTPServer``) the pipeline runs beside the
MQTT publisher, so partners and the public can poll warnings without an MQTT client::

    GET /alerts.atom            Atom feed of active alerts (?lang=fr picks the entry language)
    GET /alerts/<id>.xml        the latest CAP 1.2 message of warning <id>
    GET /alerts/<id>.html       the same warning as a small HTML page, one section per language
    GET /healthz                "ok" and the number of open alerts

Maintenance notices (``event.public`` False) are kept for :meth:`AlertFeed.open_alerts` but not
served unless the feed is built with ``include_restricted=True``. An all-clear stays in the feed
for ``cleared_ttl_s`` seconds so pollers see it, then drops out (its pages stay until pruned).

Examples
--------
>>> feed = AlertFeed()
>>> server = FeedServer(feed, "127.0.0.1", 0).start()
>>> import urllib.request
>>> urllib.request.urlopen(server.url + "/healthz", timeout=5).read()
b'ok 0\\n'
>>> server.stop()
"""

from __future__ import annotations

import html
import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, unquote, urlsplit

from riverwatch.errors import ServiceError

if TYPE_CHECKING:
    from early_warning.messages import RenderedText
    from riverwatch.model import WarningEvent

log = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MIME = "application/cap+xml"
FEED_ID = "urn:riverwatch:alerts"


@dataclass(frozen=True, slots=True)
class Alert:
    """The latest state of one warning as the feed serves it."""

    event: "WarningEvent"
    cap_xml: bytes
    texts: dict[str, "RenderedText"]
    published_at: float

    @property
    def id(self) -> str:
        """The warning id (stable for the warning's whole life)."""
        return self.event.id

    @property
    def cleared(self) -> bool:
        """True once the warning has been cleared."""
        return self.event.state == "cleared"

    def text(self, lang: str | None = None) -> "RenderedText":
        """The text in ``lang`` if the alert has it, else in its first language."""
        if lang and lang in self.texts:
            return self.texts[lang]
        return next(iter(self.texts.values()))


class AlertFeed:
    """Thread-safe store of the latest message of each warning.

    Parameters
    ----------
    include_restricted
        Serve maintenance notices too (for an operators-only feed).
    cleared_ttl_s
        How long an all-clear stays listed in the Atom feed.
    clock
        Wall clock in seconds (injectable for tests).
    """

    def __init__(self, *, include_restricted: bool = False, cleared_ttl_s: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.include_restricted = include_restricted
        self.cleared_ttl_s = cleared_ttl_s
        self._clock = clock
        self._alerts: dict[str, Alert] = {}
        self._lock = threading.Lock()

    def publish(self, event: "WarningEvent", cap_xml: bytes, texts: dict[str, "RenderedText"]) -> None:
        """Record the newest message of ``event``'s warning (an older event never overwrites)."""
        if not texts:
            raise ValueError("an alert needs its texts in at least one language")
        alert = Alert(event, cap_xml, dict(texts), self._clock())
        with self._lock:
            current = self._alerts.get(event.id)
            if current is None or current.event.time_ns <= event.time_ns:
                self._alerts[event.id] = alert
            self._prune()

    def open_alerts(self) -> list[Alert]:
        """Warnings not cleared (maintenance notices included), newest first."""
        with self._lock:
            alerts = [a for a in self._alerts.values() if not a.cleared]
        return sorted(alerts, key=lambda a: a.event.time_ns, reverse=True)

    def listed(self) -> list[Alert]:
        """What the Atom feed shows: open alerts and recent all-clears, servable ones only."""
        now = self._clock()
        with self._lock:
            alerts = [a for a in self._alerts.values() if self._servable(a)
                      and (not a.cleared or now - a.published_at <= self.cleared_ttl_s)]
        return sorted(alerts, key=lambda a: a.event.time_ns, reverse=True)

    def get(self, warning_id: str) -> Alert | None:
        """The servable alert ``warning_id`` (None when unknown or restricted)."""
        with self._lock:
            alert = self._alerts.get(warning_id)
        return alert if alert is not None and self._servable(alert) else None

    def _servable(self, alert: Alert) -> bool:
        return alert.event.public or self.include_restricted

    def _prune(self) -> None:
        horizon = self._clock() - 24 * self.cleared_ttl_s
        for warning_id in [k for k, a in self._alerts.items() if a.cleared and a.published_at < horizon]:
            del self._alerts[warning_id]

    def atom(self, base_url: str, lang: str | None = None) -> bytes:
        """The Atom feed document; links are absolute, under ``base_url``."""
        alerts = self.listed()
        feed = ET.Element("feed", xmlns=ATOM_NS)
        _text(feed, "id", FEED_ID)
        _text(feed, "title", "riverwatch alerts")
        newest = max((a.event.time_ns for a in alerts), default=int(self._clock() * 1e9))
        _text(feed, "updated", _rfc3339(newest))
        _link(feed, "self", "application/atom+xml", f"{base_url}/alerts.atom")
        author = ET.SubElement(feed, "author")
        _text(author, "name", "riverwatch")
        _text(feed, "generator", "riverwatch")
        for alert in alerts:
            _entry(feed, alert, base_url, lang)
        return ET.tostring(feed, encoding="UTF-8", xml_declaration=True)

    def html_page(self, alert: Alert, base_url: str) -> bytes:
        """A small HTML page of one alert: facts, then one section per language."""
        ev, esc = alert.event, html.escape
        first = alert.text()
        rows = [("Warning", ev.id), ("Station", f"{ev.partner}/{ev.station}"), ("Hazard", ev.hazard),
                ("Level", ev.level.name.lower()), ("State", ev.state), ("Since", _rfc3339(ev.since_ns)),
                ("Updated", _rfc3339(ev.time_ns))]
        facts = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
        sections = "".join(
            f'<section lang="{esc(lang)}"><h2>{esc(t.headline)}</h2><p>{esc(t.description)}</p>'
            f"<p><strong>{esc(t.instruction)}</strong></p></section>"
            for lang, t in alert.texts.items())
        cap_url = esc(f"{base_url}/alerts/{quote(ev.id, safe='._-')}.xml")
        page = (f'<!DOCTYPE html><html lang="{esc(next(iter(alert.texts)))}"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{esc(first.headline)}</title></head><body><h1>{esc(first.headline)}</h1>"
                f"<table>{facts}</table>{sections}"
                f'<p><a href="{cap_url}" type="{CAP_MIME}">CAP 1.2 XML</a></p></body></html>\n')
        return page.encode("utf-8")


def _entry(feed: ET.Element, alert: Alert, base_url: str, lang: str | None) -> None:
    ev, text = alert.event, alert.text(lang)
    path = f"{base_url}/alerts/{quote(ev.id, safe='._-')}"
    entry = ET.SubElement(feed, "entry")
    _text(entry, "id", f"urn:riverwatch:warning:{ev.id}")
    _text(entry, "title", text.headline)
    _text(entry, "updated", _rfc3339(ev.time_ns))
    _text(entry, "published", _rfc3339(ev.since_ns))
    summary = _text(entry, "summary", f"{text.description} {text.instruction}")
    summary.set("{http://www.w3.org/XML/1998/namespace}lang", text.lang)
    for term in (ev.hazard, ev.level.name.lower(), ev.state):
        ET.SubElement(entry, "category", term=term)
    _link(entry, "alternate", "text/html", f"{path}.html")
    _link(entry, "alternate", CAP_MIME, f"{path}.xml")


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, tag)  # unprefixed: the root declares the Atom namespace
    element.text = value
    return element


def _link(parent: ET.Element, rel: str, mime: str, href: str) -> None:
    ET.SubElement(parent, "link", rel=rel, type=mime, href=href)


def _rfc3339(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns // 1_000_000_000, timezone.utc).isoformat().replace("+00:00", "Z")


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    server_version = "riverwatch-feed"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._respond(*self._safe_route())

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(*self._safe_route(), head=True)

    def _safe_route(self) -> tuple[int, str, bytes]:
        try:
            return self._route()
        except Exception:  # a broken alert must not take the feed down: count it in the log
            log.exception("alert feed: cannot serve %s", self.path[:200])
            return 500, "text/plain; charset=utf-8", b"internal error\n"

    def _route(self) -> tuple[int, str, bytes]:
        parts = urlsplit(self.path)
        feed, base = self.server.feed, self.server.base_url
        if parts.path == "/healthz":
            return 200, "text/plain; charset=utf-8", f"ok {len(feed.open_alerts())}\n".encode()
        if parts.path == "/alerts.atom":
            lang = parse_qs(parts.query).get("lang", [None])[0]
            return 200, "application/atom+xml; charset=utf-8", feed.atom(base, lang)
        if parts.path.startswith("/alerts/"):
            name = unquote(parts.path[len("/alerts/"):])
            for suffix, mime in ((".xml", f"{CAP_MIME}; charset=utf-8"), (".html", "text/html; charset=utf-8")):
                alert = feed.get(name[: -len(suffix)]) if name.endswith(suffix) else None
                if alert is not None:
                    body = alert.cap_xml if suffix == ".xml" else feed.html_page(alert, base)
                    return 200, mime, body
        return 404, "text/plain; charset=utf-8", b"not found\n"

    def _respond(self, status: int, mime: str, body: bytes, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        log.debug("feed %s - %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], feed: AlertFeed, public_url: str | None) -> None:
        super().__init__(address, _Handler)
        self.feed = feed
        host, port = self.server_address[:2]
        self.base_url = (public_url or f"http://{host}:{port}").rstrip("/")


class FeedServer:
    """Serves an :class:`AlertFeed` over HTTP from a background thread.

    Parameters
    ----------
    feed
        The alerts to serve.
    host, port
        Where to listen (loopback by default; port 0 picks a free one).
    public_url
        Base URL written into feed links when the server sits behind a proxy.
    """

    def __init__(self, feed: AlertFeed, host: str = "127.0.0.1", port: int = 8090,
                 public_url: str | None = None) -> None:
        self.feed, self.host, self.port, self.public_url = feed, host, port, public_url
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server (``http://host:port``)."""
        if self._server is None:
            raise ServiceError("alert feed: the server is not running")
        return self._server.base_url

    def start(self) -> "FeedServer":
        """Bind and serve in a daemon thread; returns self.

        Raises
        ------
        ServiceError
            when the address cannot be bound (names host and port).
        """
        if self._server is not None:
            return self
        try:
            self._server = _Server((self.host, self.port), self.feed, self.public_url)
        except OSError as exc:
            raise ServiceError(f"alert feed: cannot listen on {self.host}:{self.port}: {exc}") from None
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="riverwatch-feed", daemon=True)
        self._thread.start()
        log.info("alert feed on %s/alerts.atom", self._server.base_url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> "FeedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
