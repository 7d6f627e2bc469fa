"""The alert feed: active warnings as Atom, each with its CAP XML and a readable HTML page.

A small standard-library HTTP server (``ThreadingHTTPServer``) the pipeline runs beside the
MQTT publisher, so partners and the public can poll warnings without an MQTT client::

    GET /                       the warnings as a page (?lang=de, else the browser's language)
    GET /alerts.<lang>.atom     Atom feed in one language (every entry in it when the warning has it)
    GET /alerts.atom            Atom feed (?lang=fr picks the entry language), linking the feeds by language
    GET /alerts/<id>.xml        the latest CAP 1.2 message of warning <id>
    GET /alerts/<id>.html       the warning as a page in one language (?lang=, see :mod:`ingest.pages`)

Maintenance notices (``event.public`` False) are kept for :meth:`AlertFeed.open_alerts` but not
served unless the feed is built with ``include_restricted=True``. An all-clear stays in the feed
for ``cleared_ttl_s`` seconds so pollers see it, then drops out (its pages stay until pruned).
A station has one warning per hazard at a time: a newer warning of the same station and hazard
(another id) replaces the older one in the feed. The worker's health (``/healthz``, ``/readyz``) is
served on the metrics port (:mod:`ingest.health`), not here.

Examples
--------
>>> feed = AlertFeed()
>>> server = FeedServer(feed, "127.0.0.1", 0).start()
>>> import urllib.request
>>> urllib.request.urlopen(server.url + "/alerts.atom", timeout=5).status
200
>>> server.stop()
"""

from __future__ import annotations

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

import orjson

from early_warning.messages import FALLBACK, load_catalogs, term
from riverwatch.errors import ServiceError

from ingest.ack_pages import ack_form, ack_result_page, form_to_ack
from ingest.pages import Place, alert_page, index_page, page_language, page_url

if TYPE_CHECKING:
    from early_warning.messages import RenderedText
    from ingest.acks import HttpAcks
    from riverwatch.model import WarningEvent

log = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MIME = "application/cap+xml"
FEED_ID = "urn:riverwatch:alerts"
#: Where joint drills' alerts are served (their own index, pages, CAP and feeds; never in the public ones).
EXERCISE_PATH = "/exercise"
EXERCISE_FEED_ID = "urn:riverwatch:exercise"
ATOM = "application/atom+xml; charset=utf-8"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
HTML = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Alert:
    """The latest state of one warning as the feed serves it."""

    event: "WarningEvent"
    cap_xml: bytes
    texts: dict[str, "RenderedText"]
    published_at: float
    place: Place | None = None

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
                 clock: Callable[[], float] = time.time, feed_id: str = FEED_ID) -> None:
        self.feed_id = feed_id
        self.include_restricted = include_restricted
        self.cleared_ttl_s = cleared_ttl_s
        self._clock = clock
        self._alerts: dict[str, Alert] = {}
        self._lock = threading.Lock()
        #: Base URL of the server serving this feed (set when it starts; None when not served).
        self.base_url: str | None = None

    def publish(self, event: "WarningEvent", cap_xml: bytes, texts: dict[str, "RenderedText"], *,
                place: Place | None = None, published_at: float | None = None) -> None:
        """Record the newest message of ``event``'s warning (an older event never overwrites).

        ``place`` is what the page shows besides the texts; ``published_at`` (wall clock, s)
        backdates a message restored after a restart.
        """
        if not texts:
            raise ValueError("an alert needs its texts in at least one language")
        alert = Alert(event, cap_xml, dict(texts), self._clock() if published_at is None else published_at, place)
        series = (event.partner, event.station, event.hazard)
        with self._lock:
            current = self._alerts.get(event.id)
            if current is None or current.event.time_ns <= event.time_ns:
                self._alerts[event.id] = alert
                for warning_id in [k for k, a in self._alerts.items() if k != event.id and a.event.time_ns
                                   < event.time_ns and (a.event.partner, a.event.station, a.event.hazard) == series]:
                    del self._alerts[warning_id]  # superseded by the station's newer warning
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

    def atom(self, base_url: str, lang: str | None = None, *, per_language: bool = False) -> bytes:
        """The Atom feed document; links are absolute, under ``base_url``.

        With ``per_language`` it is the feed of ``lang`` (``/alerts.<lang>.atom``): its title and
        ``xml:lang`` are the language's, entries link to the pages in it; an entry whose warning
        has no text in ``lang`` keeps its first language and says so in its own ``xml:lang``.
        """
        alerts = self.listed()
        feed = ET.Element("feed", xmlns=ATOM_NS)
        _text(feed, "id", f"{self.feed_id}:{lang}" if per_language else self.feed_id)
        _text(feed, "title", term("page.feed_title", lang) if per_language else "riverwatch alerts")
        newest = max((a.event.time_ns for a in alerts), default=int(self._clock() * 1e9))
        _text(feed, "updated", _rfc3339(newest))
        if per_language:
            feed.set(XML_LANG, lang)
            _link(feed, "self", "application/atom+xml", f"{base_url}/alerts.{lang}.atom")
        else:
            _link(feed, "self", "application/atom+xml", f"{base_url}/alerts.atom")
            for other in sorted(load_catalogs()):
                _link(feed, "alternate", "application/atom+xml", f"{base_url}/alerts.{other}.atom").set("hreflang", other)
        author = ET.SubElement(feed, "author")
        _text(author, "name", "riverwatch")
        _text(feed, "generator", "riverwatch")
        for alert in alerts:
            _entry(feed, alert, base_url, lang)
        return ET.tostring(feed, encoding="UTF-8", xml_declaration=True)

    @staticmethod
    def page_url(base_url: str, warning_id: str) -> str:
        """The address of a warning's page."""
        return page_url(base_url, warning_id)


def _entry(feed: ET.Element, alert: Alert, base_url: str, lang: str | None) -> None:
    ev, text = alert.event, alert.text(lang)
    path = f"{base_url}/alerts/{quote(ev.id, safe='._-')}"
    entry = ET.SubElement(feed, "entry")
    _text(entry, "id", f"urn:riverwatch:warning:{ev.id}")
    _text(entry, "title", text.headline)
    _text(entry, "updated", _rfc3339(ev.time_ns))
    _text(entry, "published", _rfc3339(ev.since_ns))
    entry.set(XML_LANG, text.lang)
    _text(entry, "summary", f"{text.description} {text.instruction}")
    for word in (ev.hazard, ev.level.name.lower(), ev.state):
        ET.SubElement(entry, "category", term=word)
    _link(entry, "alternate", "text/html", page_url(base_url, ev.id, text.lang))
    _link(entry, "alternate", CAP_MIME, f"{path}.xml")


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, tag)  # unprefixed: the root declares the Atom namespace
    element.text = value
    return element


def _link(parent: ET.Element, rel: str, mime: str, href: str) -> ET.Element:
    return ET.SubElement(parent, "link", rel=rel, type=mime, href=href)


def _rfc3339(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns // 1_000_000_000, timezone.utc).isoformat().replace("+00:00", "Z")


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    server_version = "riverwatch-feed"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._respond(*self._safe_route())

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(*self._safe_route(), head=True)

    def do_POST(self) -> None:  # noqa: N802 — POST /alerts/<id>/ack (see ingest.acks.HttpAcks)
        path, acks = urlsplit(self.path).path, self.server.acks
        size = int(self.headers.get("Content-Length") or 0)
        if acks is None or not (path.startswith("/alerts/") and path.endswith("/ack")) or size > 4096:
            self._respond(404 if size <= 4096 else 413, "text/plain; charset=utf-8", b"not found\n")
            return
        warning_id, body = unquote(path[len("/alerts/"):-len("/ack")]), self.rfile.read(size)
        # the page's form; a JSON body is JSON whatever the header says (curl -d, urllib default)
        if ((self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded")
                and not body.lstrip().startswith(b"{")):
            self._respond(*self._form_ack(acks, warning_id, body))
            return
        status, answer = acks.post(self.headers.get("Authorization"), warning_id, body)
        self._respond(status, "application/json", answer)

    def _form_ack(self, acks: "HttpAcks", warning_id: str, body: bytes) -> tuple[int, str, bytes]:
        """The alert page's form: the same acknowledgement, answered with a page in the form's language."""
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        status, answer = acks.post(fields.get("token", [""])[0], warning_id, form_to_ack(fields))
        alert = self.server.feed.get(warning_id)
        langs = list(alert.texts) if alert is not None else sorted(load_catalogs())
        lang = page_language(fields.get("lang", [None])[0], self.headers.get("Accept-Language"), langs)
        zone = alert.place.zone(lang) if alert is not None and alert.place is not None else "UTC"
        page = ack_result_page(status, orjson.loads(answer), warning_id, self.server.base_url, lang, zone)
        return status, HTML, page

    def _safe_route(self) -> tuple[int, str, bytes]:
        try:
            return self._route()
        except Exception:  # a broken alert must not take the feed down: count it in the log
            log.exception("alert feed: cannot serve %s", self.path[:200])
            return 500, "text/plain; charset=utf-8", b"internal error\n"

    def _route(self) -> tuple[int, str, bytes]:
        parts = urlsplit(self.path)
        path, feed, base, acks = parts.path, self.server.feed, self.server.base_url, self.server.acks
        if path == EXERCISE_PATH or path.startswith(EXERCISE_PATH + "/"):  # joint drills: the same pages apart
            if self.server.exercise is None:
                return 404, "text/plain; charset=utf-8", b"not found\n"
            path, feed, base, acks = path[len(EXERCISE_PATH):] or "/", self.server.exercise, base + EXERCISE_PATH, None
        wanted = parse_qs(parts.query).get("lang", [None])[0]
        if path == "/alerts.atom":
            return 200, ATOM, feed.atom(base, wanted)
        if path in ("/", "/index.html"):
            langs = sorted(load_catalogs(), key=lambda code: (code != FALLBACK, code))  # English by default
            lang = page_language(wanted, self.headers.get("Accept-Language"), langs)
            return 200, HTML, index_page(feed.listed(), base, lang)
        lang = path[len("/alerts."):-len(".atom")] if path.startswith("/alerts.") else ""
        if path.endswith(".atom") and lang in load_catalogs():
            return 200, ATOM, feed.atom(base, lang, per_language=True)
        if path.startswith("/alerts/"):
            name = unquote(path[len("/alerts/"):])
            for suffix in (".xml", ".html"):
                alert = feed.get(name[: -len(suffix)]) if name.endswith(suffix) else None
                if alert is not None and suffix == ".xml":
                    return 200, f"{CAP_MIME}; charset=utf-8", alert.cap_xml
                if alert is not None:
                    lang = page_language(wanted, self.headers.get("Accept-Language"), list(alert.texts))
                    form = ack_form(alert.event.id, base, lang) if acks and not alert.cleared else ""
                    return 200, HTML, alert_page(alert, base, lang, form)
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

    def __init__(self, address: tuple[str, int], feed: AlertFeed, public_url: str | None,
                 acks: "HttpAcks | None" = None, exercise: AlertFeed | None = None) -> None:
        super().__init__(address, _Handler)
        self.feed, self.acks, self.exercise = feed, acks, exercise
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
    acks
        Accepts ``POST /alerts/<id>/ack`` when given (:class:`ingest.acks.HttpAcks`).
    exercise
        Joint drills' alerts, served under ``/exercise/`` (same pages and feeds, no acknowledgement).
    """

    def __init__(self, feed: AlertFeed, host: str = "127.0.0.1", port: int = 8090,
                 public_url: str | None = None, acks: "HttpAcks | None" = None,
                 exercise: AlertFeed | None = None) -> None:
        self.feed, self.host, self.port, self.public_url, self.acks = feed, host, port, public_url, acks
        self.exercise = exercise
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
            self._server = _Server((self.host, self.port), self.feed, self.public_url, self.acks, self.exercise)
        except OSError as exc:
            raise ServiceError(f"alert feed: cannot listen on {self.host}:{self.port}: {exc}") from None
        self.port = self._server.server_address[1]
        self.feed.base_url = self._server.base_url
        if self.exercise is not None:
            self.exercise.base_url = self._server.base_url + EXERCISE_PATH
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
        self.feed.base_url = None
        if self.exercise is not None:
            self.exercise.base_url = None
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> "FeedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
