"""The alert pages people read: one warning as a page a mayor can be shown, and the index of warnings.

Everything on a page is in one language — labels, texts, numbers — and every time is local, with
its zone, in the time zone of the reader speaking that language (the warning's :class:`Place`
knows it). The level sets the page's colour (advisory yellow, watch orange, warning red, emergency
purple, all-clear green). A small inline SVG map shows the station among its neighbours on the
river (no tiles, no network). The style sheet ``ingest/page.css`` is inlined: a page is one request.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> cat = load_catalog("catalog/demo.toml")
>>> st = cat.by_id("gauge-grenzbruecke")
>>> place = place_of(cat, st, cat.partner("rivertown"), {"de": "Europe/Berlin"})
>>> [p.name for p in place.points if p.here], len(place.edges)
(['Grenzbrücke gauge (border)'], 2)
>>> coordinates(47.955, -7.702)
'47.95500° N, 7.70200° W'
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from early_warning.messages import FALLBACK, format_number, format_time, load_catalogs, term
from riverwatch.units import QUANTITIES

if TYPE_CHECKING:
    from riverwatch.catalog import Catalog, Partner, Station

    from ingest.feed import Alert

CSS = (Path(__file__).resolve().parent / "page.css").read_text(encoding="utf-8")
#: Page colour of each level (and of an all-clear), with a text colour readable on it.
LEVEL_COLOURS = {"advisory": ("#f7d21e", "#1a1a1a"), "watch": ("#f08a00", "#1a1a1a"),
                 "warning": ("#d0191c", "#ffffff"), "emergency": ("#6a1b9a", "#ffffff"),
                 "cleared": ("#2e7d32", "#ffffff")}
#: Stations within this distance of the warning's station are drawn on its map.
MAP_RADIUS_KM = 30.0
LABEL_CHAR_PX = 6.8  # a 12 px label's average character width
TIME_ROWS = ("since", "updated", "expected")
_TIME_CLASS = ' class="time"'
MAP_W, MAP_H, MAP_PAD_X, MAP_PAD_Y = 360, 220, 40, 30


@dataclass(frozen=True, slots=True)
class MapPoint:
    """A station on a warning's map."""

    id: str
    name: str
    lat: float
    lon: float
    here: bool


@dataclass(frozen=True, slots=True)
class Place:
    """Where a warning is and who reads it: what its page shows besides the texts."""

    station: str
    partner: str
    river: str | None
    lat: float
    lon: float
    zones: dict[str, str]
    points: tuple[MapPoint, ...] = ()
    edges: tuple[tuple[int, int], ...] = ()

    def zone(self, lang: str) -> str:
        """The time zone of the readers of ``lang`` (the first reader's otherwise)."""
        return self.zones.get(lang) or next(iter(self.zones.values()), "UTC")


def place_of(catalog: "Catalog", station: "Station", partner: "Partner", zones: dict[str, str]) -> Place:
    """The :class:`Place` of a warning at ``station``: the stations of its kind within
    :data:`MAP_RADIUS_KM` (gauges for a gauge) and the river links between them."""
    near = [st for st in catalog.stations if st.key == station.key or (
        st.kind == station.kind and distance_km(station.lat, station.lon, st.lat, st.lon) <= MAP_RADIUS_KM)]
    points = tuple(MapPoint(st.id, st.name, st.lat, st.lon, st.key == station.key) for st in near)
    index = {st.id: i for i, st in enumerate(near)}
    edges = tuple((i, index[st.downstream.rpartition("/")[2]]) for i, st in enumerate(near)
                  if st.downstream and st.downstream.rpartition("/")[2] in index)
    return Place(station.name, partner.name, station.river, station.lat, station.lon, dict(zones), points, edges)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km.

    >>> round(distance_km(47.912, 7.862, 47.998, 7.541), 1)
    25.7
    """
    p1, p2, dlon = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    cos_angle = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dlon)
    return 6371.0 * math.acos(max(-1.0, min(1.0, cos_angle)))


def coordinates(lat: float, lon: float) -> str:
    """Latitude and longitude with hemispheres."""
    return f"{abs(lat):.5f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.5f}° {'E' if lon >= 0 else 'W'}"


def page_language(wanted: str | None, accept: str | None, available: list[str]) -> str:
    """The language of a page: ``?lang=`` when it has texts, else the browser's first one that has,
    else the first available.

    >>> page_language(None, "fr-CH, fr;q=0.9, de;q=0.5", ["de", "en"]), page_language("en", None, ["de", "en"])
    ('de', 'en')
    """
    choices = [wanted] if wanted else []
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        choices += [tag, tag.split("-")[0]]
    return next((c for c in choices if c in available), available[0] if available else FALLBACK)


def colon(lang: str) -> str:
    """A label's colon as the language writes it (French puts a narrow no-break space before it).

    >>> colon("fr"), colon("de")
    ('\u202f: ', ': ')
    """
    return "\u202f: " if lang.split("-")[0] == "fr" else ": "


def level_key(alert: "Alert") -> str:
    """``advisory`` … ``emergency``, or ``cleared``: the colour key of an alert."""
    return "cleared" if alert.cleared else alert.event.level.name.lower()


def alert_page(alert: "Alert", base_url: str, lang: str, form: str = "") -> bytes:
    """The page of one warning in ``lang`` (its first language when it has no text in ``lang``);
    ``form`` (HTML, e.g. :func:`ingest.ack_pages.ack_form`) goes below the facts."""
    lang = lang if lang in alert.texts else next(iter(alert.texts))
    text, ev, esc = alert.text(lang), alert.event, html.escape
    place = alert.place
    key = level_key(alert)
    level_word = term("page.cleared", lang) if alert.cleared else term(f"level.{key}", lang)
    others = " · ".join(f'<a hreflang="{esc(o)}" href="{esc(page_url(base_url, ev.id, o))}">{esc(_language_name(o))}</a>'
                        for o in alert.texts if o != lang)
    body = (
        f'<header class="banner {key}"><div class="inner"><p class="level">{esc(term("page.level", lang))}{colon(lang)}'
        f'<strong>{esc(level_word)}</strong> · {esc(term(f"hazard.{ev.hazard}", lang))}</p>'
        f"<h1>{esc(text.headline)}</h1></div></header>"
        f'<main><p class="description">{esc(text.description)}</p>'
        f'<p class="instruction {key}">{esc(text.instruction)}</p>'
        f'<div class="where"><table class="facts">{_facts(alert, lang)}</table>'
        + (f'<figure class="map"><figcaption>{esc(term("page.map", lang))}</figcaption>{map_svg(place, key)}</figure>'
           if place is not None and place.points else "")
        + f"</div>{form}</main>"
        f'<footer><a href="{esc(base_url)}/alerts/{quote(ev.id, safe="._-")}.xml" type="application/cap+xml">'
        f'{esc(term("page.cap", lang))}</a> · <a href="{esc(base_url)}/alerts.{esc(lang)}.atom">'
        f'{esc(term("page.feed", lang))}</a> · <a href="{esc(base_url)}/?lang={esc(lang)}">'
        f'{esc(term("page.all_alerts", lang))}</a>'
        + (f' <span class="langs">{esc(term("page.languages", lang))}{colon(lang)}{others}</span>' if others else "")
        + "</footer>")
    return _document(lang, text.headline, body)


def index_page(alerts: list["Alert"], base_url: str, lang: str) -> bytes:
    """The list of warnings (open ones and recent all-clears), newest first, in ``lang``."""
    esc = html.escape
    title = term("page.active", lang)
    cards = []
    for alert in alerts:
        text, ev, key = alert.text(lang), alert.event, level_key(alert)
        level_word = term("page.cleared", lang) if alert.cleared else term(f"level.{key}", lang)
        zone = alert.place.zone(text.lang) if alert.place is not None else "UTC"
        where = alert.place.station if alert.place is not None else ev.station
        cards.append(
            f'<li class="card"><span class="badge {key}">{esc(level_word)}</span>'
            f'<a lang="{esc(text.lang)}" href="{esc(page_url(base_url, ev.id, text.lang))}">{esc(text.headline)}</a>'
            f'<span class="meta">{esc(where)} · {esc(term("page.updated", lang))}{colon(lang)}'
            f"{esc(format_time(ev.time_ns, lang, zone))}</span></li>")
    listing = f'<ul class="alerts">{"".join(cards)}</ul>' if cards else \
        f'<p class="none">{esc(term("page.none_active", lang))}</p>'
    langs = " · ".join(f'<a hreflang="{esc(o)}" href="{esc(base_url)}/?lang={esc(o)}">{esc(_language_name(o))}</a>'
                       for o in sorted(load_catalogs()) if o != lang)
    body = (f'<header class="banner index"><div class="inner"><h1>{esc(title)}</h1></div></header><main>{listing}</main>'
            f'<footer><a href="{esc(base_url)}/alerts.{esc(lang)}.atom">{esc(term("page.feed", lang))}</a>'
            f' <span class="langs">{esc(term("page.languages", lang))}{colon(lang)}{langs}</span></footer>')
    return _document(lang, f'{title} – {term("page.feed_title", lang)}', body)


def page_url(base_url: str, warning_id: str, lang: str | None = None) -> str:
    """The address of a warning's page (in ``lang``)."""
    url = f"{base_url}/alerts/{quote(warning_id, safe='._-')}.html"
    return f"{url}?lang={quote(lang)}" if lang else url


def _facts(alert: "Alert", lang: str) -> str:
    ev, place, esc = alert.event, alert.place, html.escape
    zone = place.zone(lang) if place is not None else "UTC"
    unit = QUANTITIES[ev.quantity].unit if ev.quantity in QUANTITIES else ""
    rows = [("station", place.station if place else ev.station)]
    if place is not None and place.river:
        rows.append(("river", place.river))
    rows.append(("operator", place.partner if place else ev.partner))
    if ev.quantity in QUANTITIES and not alert.cleared:
        rows.append(("measured", f"{term(f'quantity.{ev.quantity}', lang)}{colon(lang)}{format_number(ev.value, lang, unit)}"))
        if ev.threshold is not None:
            rows.append(("threshold", format_number(ev.threshold, lang, unit)))
    rows += [("state", term(f"state.{ev.state}", lang)), ("since", format_time(ev.since_ns, lang, zone)),
             ("updated", format_time(ev.time_ns, lang, zone))]
    if ev.expected_at_ns is not None and not alert.cleared:
        rows.append(("expected", format_time(ev.expected_at_ns, lang, zone)))
    cells = [f"<tr><th>{esc(term(f'page.{k}', lang))}</th><td{_TIME_CLASS if k in TIME_ROWS else ''}>{esc(v)}</td></tr>"
             for k, v in rows]
    if place is not None:
        geo = f"geo:{place.lat:.5f},{place.lon:.5f}"
        cells.append(f'<tr><th>{esc(term("page.coordinates", lang))}</th>'
                     f'<td><a href="{geo}">{esc(coordinates(place.lat, place.lon))}</a></td></tr>')
    return "".join(cells)


def map_svg(place: Place, key: str) -> str:
    """An inline SVG of the stations of ``place``: river links, the warning's station in its colour."""
    esc = html.escape
    xy = _project(place.points)
    lines = "".join(f'<line class="river" x1="{xy[a][0]:.1f}" y1="{xy[a][1]:.1f}" x2="{xy[b][0]:.1f}" '
                    f'y2="{xy[b][1]:.1f}"/>' for a, b in place.edges)
    marks = []
    for point, (x, y) in sorted(zip(place.points, xy), key=lambda pair: pair[0].here):
        anchor, dx, dy = _label_place(x, LABEL_CHAR_PX * len(point.name))
        colour = LEVEL_COLOURS.get(key, LEVEL_COLOURS["watch"])[0] if point.here else "#7a7a7a"
        marks.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{8 if point.here else 5}" fill="{colour}" '
                     f'class="{"here" if point.here else "other"}"/><text x="{x + dx:.1f}" y="{y + dy:.1f}" '
                     f'text-anchor="{anchor}" class="{"here" if point.here else "other"}">{esc(point.name)}</text>')
    return (f'<svg viewBox="0 0 {MAP_W} {MAP_H}" width="{MAP_W}" height="{MAP_H}" role="img" '
            f'aria-label="{esc(place.station)}">{_scale_bar(place.points)}{lines}{"".join(marks)}</svg>')


def _label_place(x: float, width: float) -> tuple[str, float, float]:
    """Text anchor and offset of a label ``width`` px wide beside a point at ``x``: right of it,
    else left of it, else centred below it (nothing drawn outside the map)."""
    if x + 11 + width <= MAP_W - 4:
        return "start", 11, 4
    if x - 11 - width >= 4:
        return "end", -11, 4
    half = width / 2
    return "middle", max(4 + half - x, min(0.0, MAP_W - 4 - half - x)), 20


def _project(points: tuple[MapPoint, ...]) -> list[tuple[float, float]]:
    """Equirectangular projection of the points into the map box (north up, aspect kept)."""
    lat0 = sum(p.lat for p in points) / len(points)
    kx = math.cos(math.radians(lat0))
    xs, ys = [p.lon * kx for p in points], [p.lat for p in points]
    scale = min((MAP_W - 2 * MAP_PAD_X) / max(max(xs) - min(xs), 1e-3),
                (MAP_H - 2 * MAP_PAD_Y) / max(max(ys) - min(ys), 1e-3))
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return [(MAP_W / 2 + (x - cx) * scale, MAP_H / 2 - (y - cy) * scale) for x, y in zip(xs, ys)]


def _scale_bar(points: tuple[MapPoint, ...]) -> str:
    """A scale bar of a round number of km, bottom left."""
    xy = _project(points)
    if len(points) < 2:
        return ""
    i, j = max(((a, b) for a in range(len(points)) for b in range(len(points))),
               key=lambda ab: math.dist(xy[ab[0]], xy[ab[1]]))
    px = math.dist(xy[i], xy[j])
    km = distance_km(points[i].lat, points[i].lon, points[j].lat, points[j].lon)
    if px < 1 or km <= 0:
        return ""
    bar_km = next((k for k in (50, 20, 10, 5, 2, 1, 0.5) if k * px / km <= MAP_W / 3), 0.5)
    length = bar_km * px / km
    y = MAP_H - 12
    return (f'<line class="scale" x1="12" y1="{y}" x2="{12 + length:.1f}" y2="{y}"/>'
            f'<text class="scale" x="12" y="{y - 6}">{bar_km:g} km</text>')


def _language_name(lang: str) -> str:
    """The language's own name for itself (``Deutsch``), or its code."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(lang).get_display_name(lang).capitalize()
    except (UnknownLocaleError, ValueError):
        return lang


def _document(lang: str, title: str, body: str) -> bytes:
    esc = html.escape
    return (f'<!DOCTYPE html><html lang="{esc(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n").encode("utf-8")
