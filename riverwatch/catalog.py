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

import tomllib
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from riverwatch.contract import NAME_PATTERN
from riverwatch.errors import ConfigError
from riverwatch.model import Level
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
    downstream: str | None = None
    travel_time_min: float | None = Field(default=None, gt=0)
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


class Catalog(BaseModel):
    """All partners and stations; ``station(partner, id)`` is the per-message lookup."""

    model_config = _FROZEN
    partners: list[Partner]
    stations: list[Station]

    @model_validator(mode="after")
    def _consistent(self) -> "Catalog":
        partner_ids = [p.id for p in self.partners]
        if len(set(partner_ids)) != len(partner_ids):
            raise ValueError("partner ids must be unique")
        seen: set[tuple[str, str]] = set()
        for st in self.stations:
            if st.partner not in partner_ids:
                raise ValueError(f"station {st.id}: unknown partner {st.partner!r}")
            if st.key in seen:
                raise ValueError(f"station {st.partner}/{st.id} is listed twice")
            seen.add(st.key)
        ids = {st.id for st in self.stations}
        for st in self.stations:
            if st.downstream and st.downstream not in ids:
                raise ValueError(f"station {st.id}: downstream {st.downstream!r} is not in the catalog")
        object.__setattr__(self, "_index", {st.key: st for st in self.stations})
        object.__setattr__(self, "_by_id", {st.id: st for st in self.stations})
        return self

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


def load_catalog(path: str | Path) -> Catalog:
    """Read and check a catalog TOML file.

    Raises
    ------
    ConfigError
        naming the file and the offending entry.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"catalog: file {path} not found (option catalog)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"catalog {path}: {exc}") from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"catalog {path}: {where}: {first['msg']}") from None
