"""Which time and which stations ``riverwatch evaluate --format influx`` replays: the ``--since``,
``--until``, ``--warmup`` and ``--chunk`` options and the ``partner/station`` items.

Examples
--------
>>> Span.parse("2027-01-15T08:00:00Z", "2027-01-15T20:00:00Z", now_s=0.0).chunks(6 * 3600 * NS)
[(1800000000000000000, 1800021600000000000), (1800021600000000000, 1800043200000000000)]
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from evaluation.datasets import parse_time
from evaluation.metrics import utc
from riverwatch.catalog import Catalog, Station
from riverwatch.errors import ConfigError

#: Nanoseconds per second (InfluxDB times are in ns).
NS = 1_000_000_000
_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str, option: str) -> float:
    """Seconds of ``90s``, ``30m``, ``6h``, ``7d``, ``2w`` (``0`` is zero); the error names ``option``.

    >>> parse_duration("90m", "--chunk"), parse_duration("0", "--warmup")
    (5400.0, 0.0)
    """
    if text.strip() == "0":
        return 0.0
    m = _DURATION.match(text)
    if not m:
        raise ConfigError(f"option {option}: {text!r} is not a duration like 30m, 6h, 7d or 2w")
    return float(m.group(1)) * _UNITS_S[m.group(2)]


def parse_instant(text: str, now_s: float, option: str) -> float:
    """Epoch seconds of an RFC 3339 time, ``now``, or a duration before now (``7d``).

    >>> parse_instant("2027-01-15T08:00:00Z", 0.0, "--since"), parse_instant("1h", 7200.0, "--since")
    (1800000000.0, 3600.0)
    """
    text = text.strip()
    if text == "now":
        return now_s
    if _DURATION.match(text):
        return now_s - parse_duration(text, option)
    try:
        return parse_time(text)
    except ValueError:
        raise ConfigError(f"option {option}: {text!r} is neither an RFC 3339 time "
                          "(2027-01-15T08:00:00Z) nor a duration ago (7d)") from None


@dataclass(frozen=True, slots=True)
class Span:
    """The replayed time: warnings raised in ``[since, until)`` are compared; the ``warmup`` before
    ``since`` is replayed too, to settle detectors and the book, and its warnings are not counted."""

    since_ns: int
    until_ns: int
    warmup_ns: int = 0

    @classmethod
    def parse(cls, since: str, until: str, warmup: str = "0", now_s: float | None = None) -> "Span":
        """The span of the ``--since``/``--until``/``--warmup`` options."""
        now_s = time.time() if now_s is None else now_s
        a = int(round(parse_instant(since, now_s, "--since") * NS))
        b = int(round(parse_instant(until, now_s, "--until") * NS))
        if a >= b:
            raise ConfigError(f"option --since: {since!r} is not before --until {until!r}")
        return cls(a, b, int(round(parse_duration(warmup, "--warmup") * NS)))

    @property
    def start_ns(self) -> int:
        """Where the replay starts (``since`` − ``warmup``)."""
        return self.since_ns - self.warmup_ns

    def chunks(self, chunk_ns: int) -> list[tuple[int, int]]:
        """Consecutive ``[a, b)`` of at most ``chunk_ns`` covering the replay."""
        if chunk_ns <= 0:
            raise ConfigError("option --chunk: must be longer than 0")
        edges = list(range(self.start_ns, self.until_ns, chunk_ns)) + [self.until_ns]
        return list(zip(edges, edges[1:]))

    def label(self) -> str:
        """``since → until`` in UTC."""
        return f"{utc(self.since_ns / NS)} → {utc(self.until_ns / NS)} UTC"


def resolve_stations(catalog: Catalog, items: Iterable[str], where: str = "the catalog") -> list[Station]:
    """The catalog stations named by ``partner/station`` items (comma lists too; ``partner/*``: all
    of a partner), in the order given, each once.

    >>> from riverwatch.settings import REPO_ROOT
    >>> from riverwatch.catalog import load_catalog
    >>> cat = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
    >>> [s.id for s in resolve_stations(cat, ["lacville/*,rivertown/gauge-hochtal"])]
    ['gauge-lacville', 'wx-lacville', 'wq-lacville', 'gauge-hochtal']
    """
    out: dict[tuple[str, str], Station] = {}
    partners = {p.id for p in catalog.partners}
    for item in (part.strip() for text in items for part in str(text).split(",") if part.strip()):
        partner, slash, name = item.partition("/")
        if not slash or not partner or not name:
            raise ConfigError(f"evaluate: {item!r} is not partner/station (or partner/*)")
        if partner not in partners:
            raise ConfigError(f"evaluate: partner {partner!r} of {item!r} is not in {where} "
                              f"(partners: {', '.join(sorted(partners))})")
        if name == "*":
            found = [s for s in catalog.stations if s.partner == partner]
        else:
            st = catalog.station(partner, name)
            if st is None:
                raise ConfigError(f"evaluate: station {item} is not in {where}")
            found = [st]
        out.update((s.key, s) for s in found)
    if not out:
        raise ConfigError("evaluate: name at least one partner/station to replay")
    return list(out.values())


def stamp(t_ns: int) -> str:
    """``t_ns`` as an RFC 3339 UTC time to the second.

    >>> stamp(1_800_000_000 * NS)
    '2027-01-15T08:00:00Z'
    """
    return datetime.fromtimestamp(t_ns / NS, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
