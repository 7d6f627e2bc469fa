"""The station catalog: partner cities, their stations, what each measures and its thresholds.

The catalog is a TOML file checked once at start-up (:func:`load_catalog`); errors name the
offending entry. Afterwards it is immutable and looked up per message by ``(partner, station)``.

Examples
--------
>>> cat = Catalog.model_validate({
...     "partners": [{"id": "rivertown", "name": "Rivertown", "country": "DE", "languages": ["de", "en"]}],
...     "stations": [{"id": "gauge-1", "partner": "rivertown", "kind": "river_gauge", "name": "Gauge 1",
...                   "lat": 50.1, "lon": 8.2, "river": "Grenzfluss",
...                   "quantities": {"water_level": {"levels": {"watch": 2.5, "warning": 3.0}}}}]})
>>> st = cat.station("rivertown", "gauge-1")
>>> st.quantities["water_level"].level_for(2.7).name
'WATCH'
>>> st.quantities["water_level"].unit
'm'
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from riverwatch.contract import NAME_PATTERN
from riverwatch.errors import ConfigError
from riverwatch.model import HAZARDS, Level
from riverwatch.settings import did_you_mean, read_toml
from riverwatch.sharing import SharingPolicy, check_policies, policy_for
from riverwatch.units import QUANTITIES

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class QuantitySpec(BaseModel):
    """What a station measures of one quantity: thresholds and QC limits, in canonical units.

    ``levels`` maps warning level names to thresholds; ``direction`` says whether danger lies
    above (flood stage, turbidity) or below (dissolved oxygen, chlorine residual).
    """

    model_config = _FROZEN
    name: str = ""
    unit: str = ""
    levels: dict[Literal["advisory", "watch", "warning", "emergency"], float] = Field(default_factory=dict)
    direction: Literal["above", "below"] = "above"
    plausible: tuple[float, float] | None = None
    max_rate_per_hour: float | None = None
    stuck_after: int = 12

    def level_for(self, value: float) -> Level:
        """Return the highest level whose threshold ``value`` reaches (NONE if none)."""
        level = Level.NONE
        for name, threshold in self.levels.items():
            crossed = value >= threshold if self.direction == "above" else value <= threshold
            if crossed and Level.parse(name) > level:
                level = Level.parse(name)
        return level

    def threshold(self, level: Level) -> float | None:
        """Threshold of ``level``, or None when the station has none for it."""
        return self.levels.get(level.name.lower())


class Station(BaseModel):
    """One station of one partner: where it is, what it measures, who is downstream."""

    model_config = _FROZEN
    id: str
    partner: str
    kind: str
    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    river: str | None = None
    geocodes: dict[str, str] = Field(default_factory=dict, description="CAP area geocodes by scheme, "
                                     "e.g. {NUTS3 = \"DE131\"}")
    downstream: str | None = Field(default=None, description="the next station down the river: "
                                   "'<partner>/<station>', or the bare station id (ids are unique)")
    travel_time_min: float | None = Field(default=None, gt=0)
    tidal: bool | None = Field(default=None, description="a tidal reach (true/false); unset: the flood "
                               "detectors recognise it from the lunar periods after 15 days")
    commissioned: datetime = datetime(2000, 1, 1, tzinfo=timezone.utc)
    quantities: dict[str, QuantitySpec]

    @property
    def key(self) -> tuple[str, str]:
        """``(partner, station)``, the key used everywhere in the pipeline."""
        return self.partner, self.id

    @field_validator("id", "partner")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(f"{value!r} must be letters, digits, '.', '_' or '-' (max 64)")
        return value

    @field_validator("quantities", mode="before")
    @classmethod
    def _fill_quantities(cls, value: dict) -> dict:
        filled = {}
        for name, spec in (value or {}).items():
            if name not in QUANTITIES:
                raise ValueError(f"unknown quantity {name!r} (known: {', '.join(QUANTITIES)})")
            spec = dict(spec or {})
            spec.setdefault("name", name)
            spec.setdefault("unit", QUANTITIES[name].unit)
            if spec["unit"] != QUANTITIES[name].unit:
                raise ValueError(f"{name}: thresholds are in the canonical unit {QUANTITIES[name].unit}")
            spec.setdefault("plausible", QUANTITIES[name].plausible)
            filled[name] = spec
        if not filled:
            raise ValueError("a station measures at least one quantity")
        return filled

    @model_validator(mode="after")
    def _downstream_needs_travel_time(self) -> "Station":
        if self.downstream and self.travel_time_min is None:
            raise ValueError(f"station {self.id}: downstream needs travel_time_min")
        return self


class Partner(BaseModel):
    """A partner city: its country, the languages its warnings are written in, what it shares."""

    model_config = _FROZEN
    id: str
    name: str
    country: str = Field(min_length=2, max_length=2)
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    sender: str = "riverwatch@localhost"
    shares_with: list[str] = Field(default_factory=list)
    timezone: str = "UTC"
    web: str | None = Field(None, description="the partner's public warnings page (CAP web link)")
    alert_emails: list[str] = Field(default_factory=list, description="addresses Grafana notifies of the "
                                    "alerts about this partner's stations (provisioned contact point)")
    alert_webhook: str | None = Field(None, description="URL Grafana posts those alerts to (webhook, JSON)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            hint = did_you_mean(value, sorted(available_timezones()), list_them=False)
            raise ValueError(f"unknown time zone {value!r}{hint}: use an IANA name such as Europe/Berlin") from None
        return value


class Gateway(BaseModel):
    """A data logger or gateway publishing for several stations of one partner over one connection.

    Its broker account (``config render``) may publish for each of ``stations`` and on its own
    status topic ``rw/v1/<partner>/<id>/status`` (its last will).
    """

    model_config = _FROZEN
    id: str
    partner: str
    stations: list[str] = Field(min_length=1, description="ids of the partner's stations it publishes for")

    @field_validator("id", "partner")
    @classmethod
    def _name(cls, value: str) -> str:
        return Station._name(value)


class Catalog(BaseModel):
    """All partners, stations and gateways; ``station(partner, id)`` is the per-message lookup."""

    model_config = _FROZEN
    partners: list[Partner]
    stations: list[Station]
    gateways: list[Gateway] = Field(default_factory=list)
    sharing: list[SharingPolicy] = Field(default_factory=list, description="agreements between partners "
                                         "(riverwatch/sharing.py); a pair without one falls back to shares_with")

    @model_validator(mode="after")
    def _consistent(self) -> "Catalog":
        partner_ids = _checked_partner_ids(self.partners)
        owner = _station_owners(self.stations, partner_ids)
        for st in self.stations:
            if st.downstream:
                object.__setattr__(st, "downstream", _downstream_id(st, owner))
        object.__setattr__(self, "_index", {st.key: st for st in self.stations})
        object.__setattr__(self, "_by_id", {st.id: st for st in self.stations})
        _refuse_cycles(self.stations)
        _check_gateways(self.gateways, owner)
        check_policies(self.sharing, {p: {st.id for st in self.stations if st.partner == p} for p in partner_ids},
                       {p: {q for st in self.stations if st.partner == p for q in st.quantities} for p in partner_ids},
                       HAZARDS)
        return self

    def sharing_policy(self, owner: str, to: str) -> SharingPolicy | None:
        """What partner ``to`` gets of ``owner``'s data (its agreement, else ``shares_with``), None if nothing."""
        return policy_for(self.sharing, {p.id: p.shares_with for p in self.partners}, owner, to)

    def station(self, partner: str, station: str) -> Station | None:
        """The station ``partner/station``, or None when it is not catalogued."""
        return self._index.get((partner, station))  # type: ignore[attr-defined]

    def by_id(self, station_id: str) -> Station | None:
        """The station with this id (ids of neighbours in ``downstream`` are partner-free)."""
        return self._by_id.get(station_id)  # type: ignore[attr-defined]

    def partner(self, partner_id: str) -> Partner:
        """The partner with this id."""
        return next(p for p in self.partners if p.id == partner_id)

    def upstream_of(self, station_id: str) -> list[Station]:
        """Stations whose ``downstream`` is ``station_id``."""
        return [st for st in self.stations if st.downstream == station_id]

    def downstream(self, station: Station) -> Iterator[tuple[Station, float]]:
        """The stations below ``station`` along its ``downstream`` chain, nearest first, each with
        the travel time from ``station`` in seconds (the sum of ``travel_time_min`` on the way).

        >>> cat = load_catalog("catalog/demo.toml")
        >>> [(st.id, s) for st, s in cat.downstream(cat.by_id("gauge-hochtal"))]
        [('gauge-grenzbruecke', 7200.0), ('gauge-lacville', 12600.0)]
        """
        seen = {station.id}
        travel_s = 0.0
        while station.downstream:
            travel_s += (station.travel_time_min or 0.0) * 60.0
            nxt = self.by_id(station.downstream)
            if nxt is None or nxt.id in seen:  # the checks refuse unknown ids; never loop anyway
                return
            seen.add(nxt.id)
            station = nxt
            yield station, travel_s

    def basin_outlet(self, station: Station) -> Station:
        """Where ``station``'s river network ends: the last station of its ``downstream`` chain
        (``station`` itself when nothing is downstream).

        >>> cat = load_catalog("catalog/demo.toml")
        >>> cat.basin_outlet(cat.by_id("gauge-hochtal")).id, cat.basin_outlet(cat.by_id("wx-lacville")).id
        ('gauge-lacville', 'wx-lacville')
        """
        for station, _ in self.downstream(station):
            pass
        return station


def _checked_partner_ids(partners: list[Partner]) -> list[str]:
    """The partner ids, refusing twins and ``shares_with`` naming an unknown partner."""
    partner_ids = [p.id for p in partners]
    if len(set(partner_ids)) != len(partner_ids):
        raise ValueError("partner ids must be unique")
    for partner in partners:
        for other in partner.shares_with:
            if other not in partner_ids:
                raise ValueError(f"partner {partner.id}: shares_with names unknown partner {other!r}"
                                 f"{did_you_mean(other, partner_ids)}")
    return partner_ids


def _station_owners(stations: list[Station], partner_ids: list[str]) -> dict[str, str]:
    """Station id -> partner, refusing an unknown partner and an id listed twice or by two partners."""
    owner: dict[str, str] = {}
    for st in stations:
        if st.partner not in partner_ids:
            raise ValueError(f"station {st.id}: unknown partner {st.partner!r}{did_you_mean(st.partner, partner_ids)}")
        if st.id in owner:
            twice = "is listed twice" if owner[st.id] == st.partner else (
                f"is used by partners {owner[st.id]} and {st.partner}; station ids must be unique "
                "across the catalog (warnings and downstream references name stations by id)")
            raise ValueError(f"station {st.partner}/{st.id} {twice}")
        owner[st.id] = st.partner
    return owner


def _check_gateways(gateways: list[Gateway], owner: dict[str, str]) -> None:
    """Each gateway serves stations of its own partner and has an id of its own (its status topic)."""
    seen: set[tuple[str, str]] = set()
    for gw in gateways:
        if gw.id in owner and owner[gw.id] == gw.partner:
            raise ValueError(f"gateway {gw.partner}/{gw.id}: the id is a station's (their status topics would clash)")
        if (gw.partner, gw.id) in seen:
            raise ValueError(f"gateway {gw.partner}/{gw.id} is listed twice")
        seen.add((gw.partner, gw.id))
        for station_id in gw.stations:
            if owner.get(station_id) != gw.partner:
                mine = [s for s, p in owner.items() if p == gw.partner]
                raise ValueError(f"gateway {gw.partner}/{gw.id}: {station_id!r} is not a station of {gw.partner}"
                                 f"{did_you_mean(station_id, mine, list_them=False)}")


def _downstream_id(station: Station, owner: dict[str, str]) -> str:
    """The bare id of ``station.downstream`` (``partner/station`` or a bare id), checked to exist."""
    ref = station.downstream or ""
    partner, _, station_id = ref.rpartition("/")
    if station_id in owner and partner and owner[station_id] != partner:
        raise ValueError(f"station {station.partner}/{station.id}: downstream {ref!r}: station {station_id} "
                         f"belongs to {owner[station_id]} (write '{owner[station_id]}/{station_id}')")
    if station_id not in owner:
        raise ValueError(f"station {station.partner}/{station.id}: downstream {ref!r} is not in the catalog"
                         f"{did_you_mean(ref, [f'{p}/{s}' for s, p in owner.items()])}")
    return station_id


def _refuse_cycles(stations: list[Station]) -> None:
    """Refuse a ``downstream`` chain that comes back to a station it passed (rivers do not loop)."""
    nxt = {st.id: st.downstream for st in stations}
    for st in stations:
        path = [st.id]
        while nxt.get(path[-1]):
            path.append(nxt[path[-1]])
            if path[-1] in path[:-1]:
                loop = path[path.index(path[-1]):]
                raise ValueError(f"station {st.partner}/{st.id}: downstream chain loops: {' -> '.join(loop)}")


def check_languages(catalog: Catalog, known: Collection[str]) -> None:
    """Refuse a partner language without a message catalog in ``known``.

    The kernel does not know the message catalogs; the application passes their languages in
    (:func:`load_catalog`'s ``languages``).

    Raises
    ------
    ValueError
        naming the partner, the language and the known ones.
    """
    for partner in catalog.partners:
        for lang in partner.languages:
            if lang not in known:
                raise ValueError(f"partner {partner.id}: language {lang!r} has no message catalog"
                                 f"{did_you_mean(lang, sorted(known))}")


def load_catalog(path: str | Path, languages: Collection[str] | None = None) -> Catalog:
    """Read and check a catalog TOML file; with ``languages``, every partner language must be one.

    Raises
    ------
    ConfigError
        naming the file and the offending entry.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"catalog: file {path} not found (option catalog)")
    data = read_toml(path)
    try:
        catalog = Catalog.model_validate(data)
        if languages is not None:
            check_languages(catalog, languages)
        return catalog
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"catalog {path}: {where + ': ' if where else ''}{message}") from None
    except ValueError as exc:
        raise ConfigError(f"catalog {path}: {exc}") from None
