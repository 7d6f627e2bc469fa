"""Warnings as partners read them: texts in every partner language, CAP 1.2, the Atom feed.

:class:`AlertRenderer` turns one :class:`~riverwatch.model.WarningEvent` into everything that
leaves riverwatch about it — the warning JSON (with one headline per reader language), the CAP
message (referencing the previous message of the same warning) — and hands both to the
:class:`~ingest.feed.AlertFeed` when one is running. The readers of a warning are its partner and
the partners it ``shares_with``: a Lacville warning shared with Rivertown is written in French,
English and German, the German text in Rivertown's time zone (:func:`early_warning.messages.audience`). It also keeps the ``warning`` lines of one
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
>>> sorted(alert.headlines)  # Rivertown's languages, and Lacville's French (shared with it)
['de', 'en', 'fr']
>>> alert.cap_xml.startswith(b"<?xml")
True
>>> renderer.line_time(ev), renderer.line_time(ev)
(1000000000000000000, 1000000000000000001)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from early_warning.cap import message_ref, to_cap
from collections.abc import Iterable

from early_warning.messages import RenderedText, audience, headlines, load_catalogs, term, texts
from riverwatch.catalog import Catalog, Partner
from riverwatch.contract import encode_warning
from riverwatch.model import WarningEvent

from ingest.feed import AlertFeed
from ingest.pages import place_of


@dataclass(frozen=True, slots=True)
class RenderedAlert:
    """One warning event ready to leave: JSON body, CAP XML and texts per language."""

    event: WarningEvent
    texts: dict[str, RenderedText]
    headlines: dict[str, str]
    json_body: bytes
    cap_xml: bytes


def exercise_text(text: RenderedText) -> RenderedText:
    """A drill's text: headline and description start with the language's word for EXERCISE."""
    mark = term("exercise.mark", text.lang)
    return dataclasses.replace(text, headline=f"{mark} – {text.headline}", description=f"{mark}: {text.description}")


class AlertRenderer:
    """Renders warning events for MQTT, CAP consumers and the feed (one per worker).

    Raises
    ------
    ConfigError
        At construction, when a message catalog is broken (checked once, at start-up).
    """

    def __init__(self, catalog: Catalog, feed: AlertFeed | None = None, exercise: bool = False) -> None:
        load_catalogs()
        self.catalog = catalog
        self.feed = feed
        self.exercise = exercise  # a drill's warnings: texts marked in every language, CAP status Exercise
        self._previous: dict[str, str] = {}
        self._last_line_ns: dict[tuple[str, str, str], int] = {}

    def render(self, event: WarningEvent) -> RenderedAlert:
        """Texts, JSON and CAP of ``event``; the CAP references the warning's previous message."""
        alert = self._render(event)
        if self.feed is not None:
            self._to_feed(alert)
        return alert

    def restore(self, events: Iterable[WarningEvent]) -> int:
        """Take back the latest event of each warning after a restart (feed and CAP references),
        publishing nothing on MQTT; returns how many warnings the feed holds again.

        An all-clear counts as published at its own time, so it leaves the feed when its time is up.
        """
        latest: dict[str, WarningEvent] = {}
        for event in events:
            if event.id not in latest or latest[event.id].time_ns < event.time_ns:
                latest[event.id] = event
        restored = 0
        for event in sorted(latest.values(), key=lambda e: e.time_ns):
            if self.catalog.station(event.partner, event.station) is None:
                continue
            alert = self._render(event)
            if self.feed is not None:
                self._to_feed(alert, event.time_ns / 1e9 if event.state == "cleared" else None)
            restored += 1
        return restored

    def readers(self, partner: Partner) -> list[Partner]:
        """The partners ``partner`` shares its warnings with (catalogued ones)."""
        known = {p.id: p for p in self.catalog.partners}
        return [known[pid] for pid in partner.shares_with if pid in known and pid != partner.id]

    def _render(self, event: WarningEvent) -> RenderedAlert:
        station = self.catalog.station(event.partner, event.station)
        partner = self.catalog.partner(event.partner)
        readers = self.readers(partner)
        rendered = texts(event, station, partner, shared_with=readers)
        if self.exercise:
            rendered = {lang: exercise_text(text) for lang, text in rendered.items()}
        cap_xml = to_cap(event, station, partner, rendered, previous=self._previous.get(event.id),
                         web=self._web_links(event, rendered), status="Exercise" if self.exercise else "Actual")
        self._previous[event.id] = message_ref(event, partner)
        if event.state == "cleared":
            self._previous.pop(event.id, None)
        heads = headlines(rendered)
        return RenderedAlert(event, rendered, heads, encode_warning(event, heads), cap_xml)

    def _web_links(self, event: WarningEvent, rendered: dict[str, RenderedText]) -> dict[str, str] | None:
        """The feed's page of the warning in each language (when the feed is served and may show it)."""
        base = self.feed.base_url if self.feed is not None else None
        if not base or not (event.public or self.feed.include_restricted):
            return None
        page = self.feed.page_url(base, event.id)
        return {lang: f"{page}?lang={lang}" for lang in rendered}

    def _to_feed(self, alert: RenderedAlert, published_at: float | None = None) -> None:
        event = alert.event
        station = self.catalog.station(event.partner, event.station)
        partner = self.catalog.partner(event.partner)
        place = place_of(self.catalog, station, partner, audience(partner, self.readers(partner)))
        self.feed.publish(event, alert.cap_xml, alert.texts, place=place, published_at=published_at)

    def line_time(self, event: WarningEvent) -> int:
        """Timestamp for the event's ``warning`` line, unique within its station/hazard series."""
        series = (event.partner, event.station, event.hazard)
        time_ns = max(event.time_ns, self._last_line_ns.get(series, -1) + 1)
        self._last_line_ns[series] = time_ns
        return time_ns
