"""Warning texts in every partner's languages, from one gettext catalog per language.

The catalogs live in ``early_warning/locales/<lang>.po`` (read at run time with Babel's ``read_po``;
nothing is compiled by hand). Adding a language is adding one file. Message ids are keys::

    <hazard>.<state>.<part>     hazard: flood, water_quality, weather, anomaly, sensor
                                state:  raised, escalated, deescalated, updated, cleared
                                part:   headline, description, instruction
    <hazard>.forecast.description   replaces the description while the crossing is only forecast
    <message_key>.description   replaces it when the event's ``message_key`` names a variant in
                                :data:`VARIANTS` (propagation from upstream, rate of rise, ...)
    fragment.expected           appended when a crossing time is given but the value is already past
    fragment.upstream           appended when an upstream station carries the evidence
    fragment.together           appended when other quantities departed with the event's own
    fault.<fault>               what a sensor check found ({fault} in sensor notices: spike, stuck …)
    level.<level>, hazard.<hazard>, quantity.<quantity>, state.<state>   words used inside texts
    page.<label>                labels of the alert pages and feeds (:data:`PAGE_LABELS`)
    ack.<reason>                why an acknowledgement on a page was refused
    exercise.mark               the word a drill's texts begin with

Texts are Python brace templates with the placeholders in :data:`PLACEHOLDERS`; numbers and
times are formatted for the language (decimal comma in de/fr) and times in the partner's time
zone. A key missing from a catalog falls back to English; each (language, key) is logged once
and counted in :func:`missing_translations`.

Examples
--------
>>> from riverwatch.catalog import Station
>>> from riverwatch.model import Level, WarningEvent
>>> st = Station(id="g1", partner="p", kind="river_gauge", name="Hochtal gauge", lat=47.9, lon=7.8,
...              quantities={"water_level": {"levels": {"watch": 2.5}}})
>>> ev = WarningEvent(id="p.g1.flood.1", partner="p", station="g1", hazard="flood",
...                   level=Level.WATCH, state="raised", public=True, since_ns=0,
...                   time_ns=1_795_348_800_000_000_000, detector="level_threshold",
...                   quantity="water_level", value=2.61, threshold=2.5, score=1.04)
>>> render(ev, st, "de", "Europe/Berlin").headline
'Hochwasser-Vorwarnung: Hochtal gauge'
>>> "2,61 m" in render(ev, st, "fr", "Europe/Paris").description
True
"""

from __future__ import annotations

import logging
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_datetime, format_skeleton
from babel.lists import format_list
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from detectors.stats.fault_scores import FAULTS
from early_warning.records import departing
from riverwatch.ack_contract import ACK_REASONS
from riverwatch.errors import ConfigError
from riverwatch.model import HAZARDS, WARNING_STATES, Level
from riverwatch.units import QUANTITIES

if TYPE_CHECKING:
    from riverwatch.catalog import Partner, Station
    from riverwatch.model import WarningEvent

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
FALLBACK = "en"
PARTS = ("headline", "description", "instruction")

#: Placeholders a template may use, and what they hold.
PLACEHOLDERS = {
    "station": "station name",
    "partner": "name of the partner city that operates the station",
    "quantity": "measured quantity, in the language",
    "value": "measured value with its unit",
    "threshold": "threshold of the current level with its unit (or a dash)",
    "level": "warning level, in the language",
    "score": "detector score (anomaly detectors)",
    "since": "when the warning was raised, partner time zone",
    "time": "time of this event, partner time zone",
    "expected_at": "forecast threshold crossing time, partner time zone",
    "upstream": "name of the upstream station carrying the evidence",
    "rate": "rate of change per hour with its unit (rate detectors)",
    "window": "accumulation window, e.g. 6 h (rain detectors)",
    "fault": "what the sensor check found, in the language (sensor notices; key fault.<fault>)",
    "together": "the other quantities that departed with it, as a list in the language (fragment.together)",
}

#: Labels of the HTML alert pages and the Atom feeds (keys ``page.<label>``).
PAGE_LABELS = ("feed_title", "active", "none_active", "level", "hazard", "state", "station", "river",
               "operator", "since", "updated", "expected", "coordinates", "map", "measured", "threshold",
               "cap", "feed", "languages", "all_alerts", "cleared",
               # acknowledging on a warning's page (ingest/ack_pages.py)
               "ack_title", "ack_hint", "ack_token", "ack_by", "ack_comment", "ack_action", "ack_submit",
               "ack_done", "ack_refused", "ack_after", "ack_back")

#: ``message_key`` values with their own description: the evidence means something else there
#: (the value is the upstream station's, the threshold a rate or the usual level).
VARIANTS = ("flood.upstream", "water_quality.upstream", "water_quality.event", "rate_of_rise", "rainfall",
            "relative_rise")

#: Preferred region for a bare language code (CAP wants e.g. de-DE); others use CLDR likely subtags.
REGION = {"en": "GB"}
DISPLAY_UNITS = {"m3/s": "m³/s", "degC": "°C", "uS/cm": "µS/cm", "mg/L": "mg/l"}

_MISSING: Counter[tuple[str, str]] = Counter()


@dataclass(frozen=True, slots=True)
class RenderedText:
    """One warning message in one language: what CAP ``info`` and the feed show.

    ``lang`` is the language the text is actually written in (English when the requested
    language has no catalog at all).
    """

    headline: str
    description: str
    instruction: str
    lang: str = FALLBACK


def message_key(hazard: str, state: str, part: str) -> str:
    """The catalog key of one part of one message.

    >>> message_key("flood", "raised", "headline")
    'flood.raised.headline'
    """
    return f"{hazard}.{state}.{part}"


def required_keys() -> list[str]:
    """Every key a complete catalog has (the English catalog is the reference)."""
    keys = [message_key(h, s, p) for h in HAZARDS for s in WARNING_STATES for p in PARTS]
    keys += [f"{h}.forecast.description" for h in HAZARDS] + [f"{v}.description" for v in VARIANTS]
    keys += ["fragment.expected", "fragment.upstream", "fragment.together"]
    keys += [f"level.{level.name.lower()}" for level in Level if level]
    keys += [f"hazard.{h}" for h in HAZARDS] + [f"state.{s}" for s in WARNING_STATES]
    keys += [f"quantity.{q}" for q in QUANTITIES] + [f"page.{label}" for label in PAGE_LABELS]
    keys += [f"ack.{reason}" for reason in (*ACK_REASONS, "ack_unauthorized", "busy")]  # refusals, explained
    keys += [f"fault.{f}" for f in FAULTS]  # why a sensor notice was raised ("none": no fault named)
    keys += ["exercise.mark"]  # the word that marks a drill's texts (ingest/alerts.py)
    return keys


def placeholders(template: str) -> set[str]:
    """Names of the ``{placeholders}`` in a template.

    >>> sorted(placeholders("{station}: {value} ({level})"))
    ['level', 'station', 'value']
    """
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@lru_cache(maxsize=None)
def load_catalogs(directory: str | Path = LOCALES_DIR) -> dict[str, dict[str, str]]:
    """Read every ``<lang>.po`` in ``directory`` into ``{lang: {key: text}}``.

    Fuzzy and empty entries are left out (gettext treats them as untranslated).

    Raises
    ------
    ConfigError
        when the directory has no English catalog or a file cannot be parsed.
    """
    catalogs: dict[str, dict[str, str]] = {}
    for path in sorted(Path(directory).glob("*.po")):
        lang = path.stem
        try:
            with path.open("rb") as fileobj:
                po = read_po(fileobj, locale=_babel_locale(lang), abort_invalid=True)
        except Exception as exc:  # babel raises PoFileError and plain ValueErrors
            raise ConfigError(f"message catalog {path}: {exc}") from None
        catalogs[lang] = {msg.id: msg.string for msg in po
                          if msg.id and isinstance(msg.id, str) and msg.string and not msg.fuzzy}
    if FALLBACK not in catalogs:
        raise ConfigError(f"message catalogs: {directory} has no {FALLBACK}.po")
    return catalogs


def languages() -> list[str]:
    """Languages with a catalog.

    >>> {"en", "de", "fr"} <= set(languages())
    True
    """
    return sorted(load_catalogs())


def missing_translations() -> dict[tuple[str, str], int]:
    """How often each ``(language, key)`` fell back to English since start-up."""
    return dict(_MISSING)


def cap_language(lang: str) -> str:
    """RFC 3066 language tag for CAP ``info/language`` (region added when known).

    >>> cap_language("de"), cap_language("en"), cap_language("fr-CA")
    ('de-DE', 'en-GB', 'fr-CA')
    """
    if "-" in lang or "_" in lang:
        return lang.replace("_", "-")
    region = REGION.get(lang)
    if region is None:
        likely = get_global("likely_subtags").get(lang, "")
        region = next((part for part in likely.split("_")[1:] if part.isupper() and len(part) == 2), None)
    return f"{lang}-{region}" if region else lang


def _babel_locale(lang: str) -> Locale:
    try:
        return Locale.parse(cap_language(lang), sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FALLBACK)


def _lookup(catalogs: dict[str, dict[str, str]], lang: str, key: str) -> str:
    text = catalogs.get(lang, {}).get(key)
    if text is not None:
        return text
    if lang in catalogs:  # a whole missing language is reported by texts(), not per key
        if _MISSING[(lang, key)] == 0:
            log.warning("message catalog %s.po has no %r: using English", lang, key)
        _MISSING[(lang, key)] += 1
    return catalogs[FALLBACK].get(key, key)


def format_number(value: float | None, lang: str, unit: str = "") -> str:
    """A number in the language's notation, with its display unit.

    >>> format_number(1234.5, "de", "m3/s"), format_number(2.25, "en", "m"), format_number(None, "fr")
    ('1.234,5 m³/s', '2.25 m', '–')
    """
    if value is None:
        return "–"
    text = format_decimal(round(value, 2), format="#,##0.##", locale=_babel_locale(lang))
    unit = DISPLAY_UNITS.get(unit, unit)
    return f"{text} {unit}" if unit else text


def format_time(time_ns: int, lang: str, tz: str) -> str:
    """A point in time as the language writes it, in the time zone ``tz``, with the zone name.

    >>> format_time(1_795_348_800_000_000_000, "en", "Europe/Berlin")
    '22 Nov 2026, 13:00 CET'
    >>> format_time(1_795_348_800_000_000_000, "de", "UTC")
    '22. Nov. 2026, 12:00 UTC'
    """
    zone = zone_info(tz)
    locale = _babel_locale(lang)
    moment = datetime.fromtimestamp(time_ns / 1e9, timezone.utc)
    date = format_skeleton("yMMMd", moment, tzinfo=zone, locale=locale)
    clock = format_skeleton("Hm", moment, tzinfo=zone, locale=locale)
    name = format_datetime(moment, "z", tzinfo=zone, locale=locale)
    if not re.fullmatch(r"[A-Za-zÀ-ÿ]{2,6}", name or ""):  # no short name in this language: "UTC+01:00"
        name = format_datetime(moment, "OOOO", tzinfo=zone, locale=locale)
    return locale.datetime_formats["medium"].format(clock, date) + f" {name}"


@lru_cache(maxsize=64)
def zone_info(tz: str) -> ZoneInfo:
    """The IANA time zone ``tz`` (UTC, logged, when unknown)."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: using UTC", tz)
        return ZoneInfo("UTC")


def render(event: "WarningEvent", station: "Station", lang: str, tz: str = "UTC", *,
           upstream: "Station | None" = None, partner_name: str = "") -> RenderedText:
    """Render one warning event in one language.

    Parameters
    ----------
    event, station
        The event and the station it concerns.
    lang
        Language code; without a catalog the text is English (``RenderedText.lang == "en"``).
    tz
        IANA time zone for the times in the text (the partner's).
    upstream
        The upstream station whose readings carry the evidence (flood propagation), if any.
    partner_name
        Name of the partner city operating the station.
    """
    catalogs = load_catalogs()
    used = lang if lang in catalogs else FALLBACK
    try:
        return _render(catalogs, event, station, used, tz, upstream, partner_name)
    except (KeyError, ValueError, IndexError) as exc:  # a broken translation: say it in English
        if used == FALLBACK:
            raise
        if _MISSING[(used, "!broken")] == 0:
            log.warning("message catalog %s.po cannot render %s/%s (%s): using English",
                        used, event.hazard, event.state, exc)
        _MISSING[(used, "!broken")] += 1
        return _render(catalogs, event, station, FALLBACK, tz, upstream, partner_name)


def _render(catalogs, event, station, used, tz, upstream, partner_name) -> RenderedText:
    hazard = event.hazard if event.hazard in HAZARDS else "anomaly"
    values = _placeholder_values(event, station, used, tz, upstream, partner_name, catalogs)
    keys = {part: message_key(hazard, event.state, part) for part in PARTS}
    keys["description"] = description_key(event, station)
    parts = {part: _lookup(catalogs, used, key).format_map(values) for part, key in keys.items()}
    template = catalogs[FALLBACK].get(keys["description"], "")
    fragments = [parts["description"]]
    if event.expected_at_ns is not None and event.state != "cleared" and "{expected_at}" not in template:
        fragments.append(_lookup(catalogs, used, "fragment.expected").format_map(values))
    if values["upstream"] != "–" and event.state != "cleared" and "{upstream}" not in template:
        fragments.append(_lookup(catalogs, used, "fragment.upstream").format_map(values))
    if values["together"] and event.state != "cleared":
        fragments.append(_lookup(catalogs, used, "fragment.together").format_map(values))
    return RenderedText(parts["headline"], " ".join(fragments), parts["instruction"], used)


def description_key(event: "WarningEvent", station: "Station") -> str:
    """Which description an event gets: a variant, the forecast text, or its state's text.

    >>> from riverwatch.catalog import Station
    >>> from riverwatch.model import Level, WarningEvent
    >>> st = Station(id="g", partner="p", kind="river_gauge", name="G", lat=0, lon=0,
    ...              quantities={"water_level": {}})
    >>> ev = WarningEvent(id="w", partner="p", station="g", hazard="flood", level=Level.WATCH,
    ...                   state="raised", public=True, since_ns=0, time_ns=0, detector="propagation",
    ...                   quantity="water_level", value=3.0, threshold=2.5, score=1.0,
    ...                   expected_at_ns=3_600_000_000_000, message_key="flood.upstream")
    >>> description_key(ev, st)
    'flood.upstream.description'
    """
    hazard = event.hazard if event.hazard in HAZARDS else "anomaly"
    if event.state == "cleared":
        return message_key(hazard, "cleared", "description")
    if event.message_key in VARIANTS:
        return f"{event.message_key}.description"
    if is_forecast(event, station):
        return f"{hazard}.forecast.description"
    return message_key(hazard, event.state, "description")


def is_forecast(event: "WarningEvent", station: "Station") -> bool:
    """True when the event announces a crossing still to come (propagation), not a measured one."""
    if event.expected_at_ns is None or event.expected_at_ns <= event.time_ns or event.state == "cleared":
        return False
    if event.threshold is None:
        return True
    spec = station.quantities.get(event.quantity)
    below = spec is not None and spec.direction == "below"
    return event.value > event.threshold if below else event.value < event.threshold


def _placeholder_values(event, station, lang, tz, upstream, partner_name, catalogs) -> dict[str, str]:
    unit = QUANTITIES[event.quantity].unit if event.quantity in QUANTITIES else ""
    level = event.level.name.lower() if event.level else "advisory"
    details = dict(event.details)
    upstream_name = upstream.name if upstream is not None else (
        details.get("upstream_name") or details.get("upstream") or "–")
    others = [_quantity_name(q, lang, catalogs) for q in departing(event.details) if q != event.quantity]
    return {
        "station": station.name,
        "partner": partner_name or station.partner,
        "quantity": _lookup(catalogs, lang, f"quantity.{event.quantity}")
        if event.quantity in QUANTITIES else event.quantity,
        "value": format_number(event.value, lang, unit),
        "threshold": format_number(event.threshold, lang, unit),
        "level": _lookup(catalogs, lang, f"level.{level}"),
        "score": format_number(event.score, lang),
        "since": format_time(event.since_ns, lang, tz),
        "time": format_time(event.time_ns, lang, tz),
        "expected_at": format_time(event.expected_at_ns, lang, tz) if event.expected_at_ns else "–",
        "upstream": upstream_name,
        "rate": format_number(_float(details.get("rate_per_hour")), lang, unit),
        "window": details.get("window", "–"),
        "fault": _lookup(catalogs, lang, f"fault.{fault_name(details)}"),
        "together": format_list(others, locale=lang) if others else "",
    }


def _quantity_name(q: str, lang: str, catalogs) -> str:
    """``q`` in the language; a second sensor (``chlorine_2``) as its quantity and number."""
    base, _, number = q.rpartition("_")
    if q not in QUANTITIES and base in QUANTITIES and number.isdigit():
        return f"{_lookup(catalogs, lang, f'quantity.{base}')} ({number})"
    return _lookup(catalogs, lang, f"quantity.{q}") if q in QUANTITIES else q


def fault_name(details: dict[str, str]) -> str:
    """The sensor fault an event's evidence names (``"none"`` when it names none we know).

    >>> fault_name({"fault": "spike", "ratio": "2.5"}), fault_name({}), fault_name({"fault": "gremlins"})
    ('spike', 'none', 'none')
    """
    fault = details.get("fault", "none")
    return fault if fault in FAULTS else "none"


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def texts(event: "WarningEvent", station: "Station", partner: "Partner", *,
          upstream: "Station | None" = None, shared_with: "Sequence[Partner]" = ()) -> dict[str, RenderedText]:
    """The event rendered in each language of its readers, each in its reader's time zone.

    The readers are the ``partner`` first, then the partners it shares its warnings with
    (``shared_with``): a language is rendered once, in the time zone of the first reader who
    speaks it (see :func:`audience`). A language without a catalog is rendered in English
    (logged once per language).

    >>> from riverwatch.catalog import Partner, Station
    >>> from riverwatch.model import Level, WarningEvent
    >>> p = Partner(id="p", name="Rivertown", country="DE", languages=["de", "en"])
    >>> st = Station(id="g1", partner="p", kind="river_gauge", name="Hochtal", lat=47.9, lon=7.8,
    ...              quantities={"water_level": {}})
    >>> ev = WarningEvent(id="x", partner="p", station="g1", hazard="flood", level=Level.WARNING,
    ...                   state="cleared", public=True, since_ns=0, time_ns=0,
    ...                   detector="level_threshold", quantity="water_level", value=1.0,
    ...                   threshold=None, score=0.0)
    >>> {lang: t.headline for lang, t in texts(ev, st, p).items()}
    {'de': 'Entwarnung Hochwasser: Hochtal', 'en': 'Flood all-clear: Hochtal'}
    """
    catalogs = load_catalogs()
    rendered = {}
    for lang, tz in audience(partner, shared_with).items():
        if lang not in catalogs and _MISSING[(lang, "*")] == 0:
            log.warning("no message catalog for language %r (partner %s): using English", lang, partner.id)
        if lang not in catalogs:
            _MISSING[(lang, "*")] += 1
        rendered[lang] = render(event, station, lang, tz, upstream=upstream, partner_name=partner.name)
    return rendered


def audience(partner: "Partner", shared_with: "Sequence[Partner]" = ()) -> dict[str, str]:
    """``{language: time zone}`` of a warning's readers: the partner's languages, then the new ones
    of each partner it shares with, each in the zone of the first reader speaking it.

    >>> from riverwatch.catalog import Partner
    >>> lac = Partner(id="l", name="Lacville", country="FR", languages=["fr", "en"], timezone="Europe/Paris")
    >>> riv = Partner(id="r", name="Rivertown", country="DE", languages=["de", "en"], timezone="Europe/Berlin")
    >>> audience(lac, [riv])
    {'fr': 'Europe/Paris', 'en': 'Europe/Paris', 'de': 'Europe/Berlin'}
    """
    zones: dict[str, str] = {}
    for reader in (partner, *shared_with):
        for lang in reader.languages:
            zones.setdefault(lang, reader.timezone)
    return zones


def term(key: str, lang: str) -> str:
    """One catalog entry (a word such as ``hazard.flood``) in ``lang``, English if missing.

    >>> term("hazard.flood", "fr"), term("level.watch", "de")
    ('Crue', 'Vorwarnung')
    """
    catalogs = load_catalogs()
    return _lookup(catalogs, lang if lang in catalogs else FALLBACK, key)


def headlines(rendered: dict[str, RenderedText]) -> dict[str, str]:
    """``{lang: headline}``, the ``messages`` of :func:`riverwatch.contract.encode_warning`."""
    return {lang: text.headline for lang, text in rendered.items()}
