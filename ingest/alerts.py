"""Warnings as partners read them: texts in every partner language, CAP 1.2, the Atom feed.

:class:`AlertRenderer` turns one :class:`~riverwatch.model.WarningEvent` into everything that
leaves riverwatch about it — the warning JSON (with one headline per partner language), the CAP
message (referencing the previous message of the same warning) — and hands both to the
:class:`~ingest.feed.AlertFeed` when one is running. It also keeps the ``warning`` lines of one
station/hazard series on distinct timestamps, so a raise and an escalation in the same instant
do not overwrite each other in InfluxDB.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.model import Level, WarningEvent
>>> renderer = AlertRenderer(load_catalog("catalog/demo.toml"))
>>> ev = WarningEvent(id="rivertown.gauge-hochtal.flood.1", partner="rivertown", station="gauge-hochtal",
...                   hazard="flood", level=Level.WATCH, state="raised", public=True, since_ns=10**18,
...                   time_ns=10**18, detector="level_threshold", quantity="water_level", value=2.6,
...                   threshold=2.5, score=1.04)
>>> alert = renderer.render(ev)
>>> sorted(alert.headlines)
['de', 'en']
>>> alert.cap_xml.startswith(b"<?xml")
True
>>> renderer.line_time(ev), renderer.line_time(ev)
(1000000000000000000, 1000000000000000001)
"""

from __future__ import annotations

from dataclasses import dataclass

from early_warning.cap import message_ref, to_cap
from early_warning.messages import RenderedText, headlines, load_catalogs, texts
from riverwatch.catalog import Catalog
from riverwatch.contract import encode_warning
from riverwatch.model import WarningEvent

from ingest.feed import AlertFeed


@dataclass(frozen=True, slots=True)
class RenderedAlert:
    """One warning event ready to leave: JSON body, CAP XML and texts per language."""

    event: WarningEvent
    texts: dict[str, RenderedText]
    headlines: dict[str, str]
    json_body: bytes
    cap_xml: bytes


class AlertRenderer:
    """Renders warning events for MQTT, CAP consumers and the feed (one per worker).

    Raises
    ------
    ConfigError
        At construction, when a message catalog is broken (checked once, at start-up).
    """

    def __init__(self, catalog: Catalog, feed: AlertFeed | None = None) -> None:
        load_catalogs()
        self.catalog = catalog
        self.feed = feed
        self._previous: dict[str, str] = {}
        self._last_line_ns: dict[tuple[str, str, str], int] = {}

    def render(self, event: WarningEvent) -> RenderedAlert:
        """Texts, JSON and CAP of ``event``; the CAP references the warning's previous message."""
        station = self.catalog.station(event.partner, event.station)
        partner = self.catalog.partner(event.partner)
        rendered = texts(event, station, partner)
        cap_xml = to_cap(event, station, partner, rendered, previous=self._previous.get(event.id))
        self._previous[event.id] = message_ref(event, partner)
        if event.state == "cleared":
            self._previous.pop(event.id, None)
        heads = headlines(rendered)
        alert = RenderedAlert(event, rendered, heads, encode_warning(event, heads), cap_xml)
        if self.feed is not None:
            self.feed.publish(event, cap_xml, rendered)
        return alert

    def line_time(self, event: WarningEvent) -> int:
        """Timestamp for the event's ``warning`` line, unique within its station/hazard series."""
        series = (event.partner, event.station, event.hazard)
        time_ns = max(event.time_ns, self._last_line_ns.get(series, -1) + 1)
        self._last_line_ns[series] = time_ns
        return time_ns
