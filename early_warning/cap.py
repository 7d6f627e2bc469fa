"""Warnings as OASIS CAP 1.2 alert messages, one ``info`` block per partner language.

:func:`to_cap` turns one :class:`~riverwatch.model.WarningEvent` (and its texts from
:mod:`early_warning.messages`) into CAP XML (namespace ``urn:oasis:names:tc:emergency:cap:1.2``),
valid against the OASIS schema vendored at ``early_warning/cap/CAP-v1.2.xsd``.

Mapping decisions
-----------------
identifier
    ``<warning id>.<event time in ms>``: stable (the same event renders the same identifier) and
    unique per message of a warning. The Alert of a warning is stamped with ``since``, so its
    identifier and ``sent`` can be derived from the warning id + ``since`` alone.
sent / effective / onset / expires
    Local time of the partner's time zone with its offset, whole seconds; UTC is written
    ``-00:00`` as CAP 1.2 requires (never ``Z``).
msgType
    raised → ``Alert``; escalated, deescalated, updated → ``Update``; cleared → ``Update`` with
    responseType ``AllClear``, urgency ``Past``, severity ``Minor``, certainty ``Observed``.
    We do not use ``Cancel`` for the end of a hazard: CAP defines Cancel as withdrawing earlier
    messages (typically ones sent in error) and many consumers silently drop the alert on Cancel,
    so the all-clear text in the partners' languages would never be shown. AllClear was added to
    CAP 1.2 for exactly this case.
references
    Every Update references the warning's original Alert (``sender,identifier,sent``, derived
    from id + since) and, when the caller passes it, the immediately previous message.
scope
    ``Public`` for public warnings. Maintenance notices (``event.public`` False: a lone sensor
    fault) are rendered ``Restricted`` with a ``restriction`` text, so partner systems that
    subscribe to the CAP topic can route them to operators; the public Atom feed leaves them out.
category
    flood → Met (as hydrological services and MeteoAlarm file floods), weather → Met,
    water_quality → Env, sensor → Infra, anomaly → by quantity (water → Met/Env, weather → Met).
urgency / severity / certainty
    The level sets severity (advisory Minor, watch Moderate, warning Severe, emergency Extreme).
    Urgency: advisory Future, watch/warning Expected, emergency Immediate, and Future when a
    forecast crossing is more than 3 h ahead. Certainty follows the evidence: a measured value
    beyond its threshold is Observed, a forecast crossing (propagation) Likely, a detector score
    alone Possible (advisory/watch) or Likely (warning/emergency).
area
    ``areaDesc`` (station, river, partner) and a circle ``"lat,lon radius"`` (km) around the
    station; an optional polygon (closed ring of ``(lat, lon)``) may be given; the station's
    catalog ``geocodes`` (scheme → code, e.g. NUTS3) become ``geocode`` pairs.
web
    The page of the warning in the ``info`` block's own language when the alert feed runs (its
    ``?lang=`` page), else the partner's catalog ``web`` page.

Examples
--------
>>> from riverwatch.catalog import Partner, Station
>>> from riverwatch.model import Level, WarningEvent
>>> from early_warning.messages import texts
>>> p = Partner(id="p", name="Rivertown", country="DE", languages=["de", "en"],
...             sender="warnings@rivertown.example", timezone="Europe/Berlin")
>>> st = Station(id="g1", partner="p", kind="river_gauge", name="Hochtal", lat=47.912, lon=7.862,
...              quantities={"water_level": {"levels": {"watch": 2.5}}})
>>> ev = WarningEvent(id="p.g1.flood.1", partner="p", station="g1", hazard="flood",
...                   level=Level.WATCH, state="raised", public=True,
...                   since_ns=1_795_348_800_000_000_000, time_ns=1_795_348_800_000_000_000,
...                   detector="level_threshold", quantity="water_level", value=2.61,
...                   threshold=2.5, score=1.04)
>>> xml = to_cap(ev, st, p, texts(ev, st, p))
>>> b"<msgType>Alert</msgType>" in xml, b"<sent>2026-11-22T13:00:00+01:00</sent>" in xml
(True, True)
>>> xml.count(b"<info>")
2
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from early_warning.messages import FALLBACK, RenderedText, cap_language, term, zone_info
from riverwatch.model import Level

if TYPE_CHECKING:
    from riverwatch.catalog import Partner, Station
    from riverwatch.model import WarningEvent

NS = "urn:oasis:names:tc:emergency:cap:1.2"
XSD_PATH = Path(__file__).resolve().parent / "cap" / "CAP-v1.2.xsd"
MIME_TYPE = "application/cap+xml"

CATEGORY = {"flood": "Met", "weather": "Met", "water_quality": "Env", "sensor": "Infra"}
QUANTITY_CATEGORY = {
    "water_level": "Met", "discharge": "Met", "precipitation": "Met", "wind_speed": "Met",
    "air_temperature": "Met", "air_pressure": "Met", "relative_humidity": "Met", "dew_point": "Met",
    "water_temperature": "Env", "turbidity": "Env", "conductivity": "Env", "ph": "Env", "redox": "Env",
    "chlorine": "Env", "dissolved_oxygen": "Env", "battery": "Infra",
}
SEVERITY = {Level.ADVISORY: "Minor", Level.WATCH: "Moderate", Level.WARNING: "Severe",
            Level.EMERGENCY: "Extreme"}
URGENCY = {Level.ADVISORY: "Future", Level.WATCH: "Expected", Level.WARNING: "Expected",
           Level.EMERGENCY: "Immediate"}
MSG_TYPE = {"raised": "Alert", "escalated": "Update", "deescalated": "Update", "updated": "Update",
            "cleared": "Update"}
#: Default radius of the circle around a station, km, per hazard.
RADIUS_KM = {"flood": 5.0, "water_quality": 5.0, "weather": 10.0, "anomaly": 2.0, "sensor": 1.0}
#: Validity of a message without news, seconds: an open warning is re-sent (updated) before.
VALID_FOR_S = 6 * 3600
CLEARED_VALID_FOR_S = 3600
FORECAST_FUTURE_S = 3 * 3600
_ID_UNSAFE = re.compile(r"[\s,<&]")


def cap_time(time_ns: int, tz: str = "UTC") -> str:
    """A CAP date-time: whole seconds, numeric offset, UTC as ``-00:00``.

    >>> cap_time(1_795_348_800_900_000_000, "Europe/Paris"), cap_time(0)
    ('2026-11-22T13:00:00+01:00', '1970-01-01T00:00:00-00:00')
    """
    moment = datetime.fromtimestamp(time_ns // 1_000_000_000, timezone.utc).astimezone(zone_info(tz))
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def identifier(warning_id: str, time_ns: int) -> str:
    """CAP identifier of the message of warning ``warning_id`` sent at ``time_ns``.

    >>> identifier("rivertown.gauge-1.flood.1", 1_795_348_800_123_456_789)
    'rivertown.gauge-1.flood.1.1795348800123'
    """
    return f"{_ID_UNSAFE.sub('_', warning_id)}.{time_ns // 1_000_000}"


def message_ref(event: "WarningEvent", partner: "Partner") -> str:
    """``sender,identifier,sent`` of the CAP message for ``event`` (what a later Update references)."""
    time_ns = event.since_ns if event.state == "raised" else event.time_ns
    return f"{partner.sender},{identifier(event.id, time_ns)},{cap_time(time_ns, partner.timezone)}"


def original_ref(event: "WarningEvent", partner: "Partner") -> str:
    """``sender,identifier,sent`` of the warning's first message (its Alert), from id + since."""
    return f"{partner.sender},{identifier(event.id, event.since_ns)},{cap_time(event.since_ns, partner.timezone)}"


def to_cap(event: "WarningEvent", station: "Station", partner: "Partner",
           texts: dict[str, RenderedText], *, previous: str | None = None,
           web: str | dict[str, str] | None = None, radius_km: float | None = None,
           polygon: Sequence[tuple[float, float]] | None = None,
           expires_ns: int | None = None, status: str = "Actual") -> bytes:
    """Render one warning event as a CAP 1.2 alert (UTF-8 XML bytes).

    Parameters
    ----------
    event, station, partner
        The event, its station and the partner issuing it (sender, time zone, name).
    texts
        ``{lang: RenderedText}`` from :func:`early_warning.messages.texts`; one ``info`` per distinct
        language actually rendered (a language that fell back to English is not repeated).
    previous
        ``sender,identifier,sent`` of the warning's previous message (:func:`message_ref`), added
        to ``references`` after the original Alert.
    web
        URL of a human-readable page about the warning, or ``{lang: URL}`` (one per ``info``);
        default: the partner's catalog ``web`` page, if any.
    radius_km, polygon
        Area around the station (default radius per hazard); polygon as ``(lat, lon)`` points.
    expires_ns
        When the message expires (default: 6 h after the event, 1 h for an all-clear).
    status
        CAP ``status``: ``Actual``, or ``Exercise`` for a drill's warnings.
    """
    tz = partner.timezone
    sent_ns = event.since_ns if event.state == "raised" else event.time_ns
    alert = ET.Element(_q("alert"))
    _sub(alert, "identifier", identifier(event.id, sent_ns))
    _sub(alert, "sender", partner.sender)
    _sub(alert, "sent", cap_time(sent_ns, tz))
    _sub(alert, "status", status)
    _sub(alert, "msgType", MSG_TYPE[event.state])
    _sub(alert, "source", f"riverwatch/{event.detector}")
    _sub(alert, "scope", "Public" if event.public else "Restricted")
    if not event.public:
        _sub(alert, "restriction", f"Maintenance notice for operators of {partner.name} and its "
                                   "riverwatch partners; not for public dissemination.")
    _sub(alert, "code", "riverwatch-contract-v1")
    if event.state != "raised":
        refs = [original_ref(event, partner)]
        if previous and previous not in refs:
            refs.append(previous)
        _sub(alert, "references", " ".join(refs))
    _sub(alert, "incidents", _ID_UNSAFE.sub("_", event.id))
    expires = expires_ns or event.time_ns + 1_000_000_000 * (
        CLEARED_VALID_FOR_S if event.state == "cleared" else VALID_FOR_S)
    for lang, text in _distinct_languages(texts):
        link = web.get(lang) if isinstance(web, dict) else web
        _info(alert, event, station, partner, lang, text, web=link or partner.web, expires_ns=expires,
              radius_km=radius_km, polygon=polygon)
    return ET.tostring(alert, encoding="UTF-8", xml_declaration=True, default_namespace=NS)


def _distinct_languages(texts: dict[str, RenderedText]) -> list[tuple[str, RenderedText]]:
    seen, out = set(), []
    for lang, text in texts.items():
        actual = lang if text.lang == lang else text.lang or FALLBACK
        if actual not in seen:
            seen.add(actual)
            out.append((actual, text))
    return out


def _info(alert: ET.Element, event, station, partner, lang: str, text: RenderedText, *,
          web, expires_ns, radius_km, polygon) -> None:
    info = _sub(alert, "info")
    _sub(info, "language", cap_language(lang))
    for category in categories(event):
        _sub(info, "category", category)
    _sub(info, "event", term(f"hazard.{event.hazard}", lang))
    _sub(info, "responseType", response_type(event))
    urgency, severity, certainty = assessment(event)
    _sub(info, "urgency", urgency)
    _sub(info, "severity", severity)
    _sub(info, "certainty", certainty)
    code = _sub(info, "eventCode")
    _sub(code, "valueName", "riverwatch:hazard")
    _sub(code, "value", event.hazard)
    _sub(info, "effective", cap_time(event.time_ns, partner.timezone))
    if event.expected_at_ns is not None and event.state != "cleared":
        _sub(info, "onset", cap_time(event.expected_at_ns, partner.timezone))
    _sub(info, "expires", cap_time(max(expires_ns, event.time_ns), partner.timezone))
    _sub(info, "senderName", partner.name)
    _sub(info, "headline", text.headline)
    _sub(info, "description", text.description)
    _sub(info, "instruction", text.instruction)
    if web:
        _sub(info, "web", web)
    for name, value in parameters(event, partner.timezone):
        param = _sub(info, "parameter")
        _sub(param, "valueName", name)
        _sub(param, "value", value)
    _area(info, event, station, partner, radius_km, polygon)


def _area(info: ET.Element, event, station, partner, radius_km, polygon) -> None:
    area = _sub(info, "area")
    where = ", ".join(part for part in (station.name, station.river, partner.name) if part)
    _sub(area, "areaDesc", where)
    if polygon:
        _sub(area, "polygon", polygon_text(polygon))
    radius = radius_km if radius_km is not None else RADIUS_KM.get(event.hazard, 5.0)
    _sub(area, "circle", f"{station.lat:.5f},{station.lon:.5f} {radius:g}")
    for scheme, code in station.geocodes.items():
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", scheme)
        _sub(geocode, "value", code)


def polygon_text(points: Sequence[tuple[float, float]]) -> str:
    """CAP polygon text: ``lat,lon`` pairs, closed (first point repeated), at least 4 pairs.

    >>> polygon_text([(47.9, 7.8), (48.0, 7.8), (48.0, 7.9)])
    '47.90000,7.80000 48.00000,7.80000 48.00000,7.90000 47.90000,7.80000'
    """
    ring = list(points)
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    if len(ring) < 4:
        raise ValueError("a CAP polygon needs at least 3 distinct points")
    return " ".join(f"{lat:.5f},{lon:.5f}" for lat, lon in ring)


def categories(event: "WarningEvent") -> list[str]:
    """CAP categories of the event's hazard (anomalies by their quantity)."""
    if event.hazard in CATEGORY:
        return [CATEGORY[event.hazard]]
    return [QUANTITY_CATEGORY.get(event.quantity, "Other")]


def response_type(event: "WarningEvent") -> str:
    """Recommended response: AllClear when cleared, Assess for operators, else Monitor/Prepare/Avoid."""
    if event.state == "cleared":
        return "AllClear"
    if not event.public or event.hazard in ("sensor", "anomaly"):
        return "Assess" if not event.public else "Monitor"
    if event.level < Level.WARNING:
        return "Monitor"
    return "Avoid" if event.hazard == "water_quality" else "Prepare"


def assessment(event: "WarningEvent") -> tuple[str, str, str]:
    """``(urgency, severity, certainty)`` of the event (see the module notes).

    >>> from riverwatch.model import WarningEvent
    >>> ev = WarningEvent(id="w", partner="p", station="s", hazard="flood", level=Level.WARNING,
    ...                   state="raised", public=True, since_ns=0, time_ns=0, detector="d",
    ...                   quantity="water_level", value=3.1, threshold=3.0, score=1.0)
    >>> assessment(ev)
    ('Expected', 'Severe', 'Observed')
    """
    if event.state == "cleared":
        return "Past", "Minor", "Observed"
    level = event.level if event.level else Level.ADVISORY
    urgency, severity = URGENCY[level], SEVERITY[level]
    forecast = event.expected_at_ns is not None and event.expected_at_ns > event.time_ns
    if forecast:
        certainty = "Likely"
        if event.expected_at_ns - event.time_ns > FORECAST_FUTURE_S * 1_000_000_000:
            urgency = "Future"
    elif event.threshold is not None:
        certainty = "Observed"
    else:
        certainty = "Likely" if level >= Level.WARNING else "Possible"
    return urgency, severity, certainty


def parameters(event: "WarningEvent", tz: str = "UTC") -> list[tuple[str, str]]:
    """The riverwatch evidence as CAP ``parameter`` pairs (values in canonical units)."""
    from riverwatch.units import QUANTITIES

    pairs = [("riverwatch:warning_id", event.id), ("riverwatch:state", event.state),
             ("riverwatch:level", event.level.name.lower()), ("riverwatch:detector", event.detector),
             ("riverwatch:station", f"{event.partner}/{event.station}"),
             ("riverwatch:quantity", event.quantity), ("riverwatch:value", f"{event.value:g}")]
    if event.quantity in QUANTITIES:
        pairs.append(("riverwatch:unit", QUANTITIES[event.quantity].unit))
    if event.threshold is not None:
        pairs.append(("riverwatch:threshold", f"{event.threshold:g}"))
    pairs.append(("riverwatch:score", f"{event.score:g}"))
    pairs.append(("riverwatch:since", cap_time(event.since_ns, tz)))
    if event.expected_at_ns is not None:
        pairs.append(("riverwatch:expected_at", cap_time(event.expected_at_ns, tz)))
    if event.corroborating:
        pairs.append(("riverwatch:corroborating", " ".join(event.corroborating)))
    pairs += [(f"riverwatch:{key}", str(value)) for key, value in event.details]
    return pairs


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, _q(tag))
    if text is not None:
        element.text = text
    return element
