"""Sharing agreements between partners: what one partner's data another may see, and how.

A catalog's ``[[sharing]]`` tables each hold one agreement, from the partner that owns the data to
the partner that receives it: which stations, quantities and hazards; ``raw`` readings, an
``aggregate`` (a window and functions, e.g. 15-min mean and max) or ``none``; a delay; whether
warnings, CAP messages and acknowledgements are shared; the agreement's reference and purpose.
A pair with no table falls back to ``shares_with``: raw, everything, no delay (the behaviour before
agreements existed). :func:`policy_for` answers "what does ``to`` get from ``owner``?".

Examples
--------
>>> pol = SharingPolicy.model_validate({"from": "up", "to": "down", "data": "aggregate",
...     "aggregate": {"window_s": 900, "functions": ["mean", "max"]}, "delay_s": 3600,
...     "agreement": "GB-2027-01", "purpose": "flood early warning"})
>>> pol.data, pol.aggregate.window_s, pol.covers_station("any-gauge"), pol.raw
('aggregate', 900, True, False)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ALL = "*"
FUNCTIONS = ("mean", "min", "max", "sum", "count", "last")


class Aggregate(BaseModel):
    """An aggregated view: ``functions`` of each quantity over windows of ``window_s`` seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    window_s: int = Field(gt=0, le=86400)
    functions: list[Literal["mean", "min", "max", "sum", "count", "last"]] = Field(min_length=1)


class SharingPolicy(BaseModel):
    """One agreement: what ``to`` gets of ``from``'s stations (``*`` = all)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    owner: str = Field(alias="from")
    to: str
    stations: list[str] = Field(default_factory=lambda: [ALL])
    quantities: list[str] = Field(default_factory=lambda: [ALL])
    hazards: list[str] = Field(default_factory=lambda: [ALL])
    data: Literal["raw", "aggregate", "none"] = "raw"
    aggregate: Aggregate | None = None
    delay_s: float = Field(0.0, ge=0, le=30 * 86400)
    warnings: bool = True
    cap: bool = True
    acks: bool = True
    operator_names: bool = Field(False, description="share who acknowledged by name; else role and partner only")
    agreement: str = Field(min_length=1, description="the agreement's reference")
    purpose: str = Field(min_length=1)

    @model_validator(mode="after")
    def _coherent(self) -> "SharingPolicy":
        if self.owner == self.to:
            raise ValueError(f"sharing from {self.owner!r} to itself")
        if (self.data == "aggregate") != (self.aggregate is not None):
            raise ValueError(f"sharing {self.owner} -> {self.to}: data = 'aggregate' needs an [aggregate] "
                             "table, and only it may have one")
        if self.data == "raw" and self.delay_s:
            raise ValueError(f"sharing {self.owner} -> {self.to}: a delay needs data = 'aggregate' (raw readings "
                             "are shared as the broker delivers them)")
        if self.data == "raw" and ALL not in self.quantities:
            raise ValueError(f"sharing {self.owner} -> {self.to}: raw readings cannot be limited to quantities "
                             "(one message carries all of a station's quantities); use data = 'aggregate'")
        if self.cap and not self.warnings:
            raise ValueError(f"sharing {self.owner} -> {self.to}: CAP messages are warnings; cap = true needs "
                             "warnings = true")
        return self

    @property
    def raw(self) -> bool:
        """Whether ``to`` reads the raw readings."""
        return self.data == "raw"

    def covers_station(self, station: str) -> bool:
        """Whether ``station`` (of ``owner``) is in the agreement."""
        return ALL in self.stations or station in self.stations

    def covers_quantity(self, quantity: str) -> bool:
        """Whether ``quantity`` is in the agreement."""
        return ALL in self.quantities or quantity in self.quantities

    def covers_hazard(self, hazard: str) -> bool:
        """Whether warnings of ``hazard`` are in the agreement (and warnings are shared at all)."""
        return self.warnings and (ALL in self.hazards or hazard in self.hazards)


def partner_database(database: str, partner: str) -> str:
    """The database holding ``partner``'s view (its own data and what others share with it).

    >>> partner_database("riverwatch", "lacville")
    'riverwatch_lacville'
    """
    return f"{database}_{partner}"


def reader_account(partner: str) -> str:
    """The read-only InfluxDB user ``partner``'s Grafana reads its view with.

    >>> reader_account("lacville")
    'reader.lacville'
    """
    return f"reader.{partner}"


def password_variable(partner: str) -> str:
    """The environment variable ``partner``'s Grafana datasource reads its reader's password from (1.x).

    >>> password_variable("bad-town")
    'INFLUX_READER_BAD_TOWN_PASSWORD'
    """
    return f"INFLUX_READER_{partner.upper().replace('-', '_')}_PASSWORD"


def token_variable(partner: str) -> str:
    """The environment variable ``partner``'s Grafana datasource reads its read token from (2.x/3.x)."""
    return f"INFLUX_TOKEN_{partner.upper().replace('-', '_')}"


def legacy_policy(owner: str, to: str) -> SharingPolicy:
    """What ``shares_with`` has always meant: raw, everything, no delay."""
    return SharingPolicy.model_validate({"from": owner, "to": to, "agreement": "shares_with",
                                         "purpose": "declared with shares_with in the catalog"})


def check_policies(policies: Iterable[SharingPolicy], stations: dict[str, set[str]],
                   quantities: dict[str, set[str]], hazards: Iterable[str]) -> None:
    """Refuse agreements naming an unknown partner, station, quantity or hazard, or one pair twice.

    ``stations`` maps a partner to its station ids, ``quantities`` a partner to the quantities its
    stations measure.

    Raises
    ------
    ValueError
        naming the agreement and what is wrong.
    """
    seen: set[tuple[str, str]] = set()
    known_hazards = set(hazards)
    for pol in policies:
        name = f"sharing {pol.owner} -> {pol.to} ({pol.agreement})"
        for partner in (pol.owner, pol.to):
            if partner not in stations:
                raise ValueError(f"{name}: unknown partner {partner!r} (catalog: {', '.join(sorted(stations))})")
        if (pol.owner, pol.to) in seen:
            raise ValueError(f"{name}: a second agreement for the same pair; merge them into one")
        seen.add((pol.owner, pol.to))
        _known(name, "station", pol.stations, stations[pol.owner])
        _known(name, "quantity", pol.quantities, quantities[pol.owner])
        _known(name, "hazard", pol.hazards, known_hazards)


def _known(name: str, what: str, listed: list[str], known: set[str]) -> None:
    unknown = sorted(set(listed) - known - {ALL})
    if unknown:
        raise ValueError(f"{name}: unknown {what} {', '.join(map(repr, unknown))} "
                         f"(known: {', '.join(sorted(known))})")


def policy_for(policies: Iterable[SharingPolicy], shares_with: dict[str, list[str]], owner: str,
               to: str) -> SharingPolicy | None:
    """What ``to`` gets of ``owner``'s data: its agreement, else ``shares_with`` (raw), else None.

    >>> policy_for([], {"up": ["down"]}, "up", "down").agreement, policy_for([], {"up": []}, "up", "down")
    ('shares_with', None)
    """
    for pol in policies:
        if pol.owner == owner and pol.to == to:
            return pol
    return legacy_policy(owner, to) if to in shares_with.get(owner, ()) else None
