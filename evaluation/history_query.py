"""``riverwatch evaluate --format influx``: reading a station's history from InfluxDB.

Readings come from the ``reading`` measurement (``docs/storage-schema.md``) in time chunks, one
InfluxQL query per chunk for all the stations. Values of one station and timestamp are pivoted into
one reading set ``x = {"t": …, <quantity>: value, …}``; values flagged QC ``FAIL`` (or ``MISSING``)
are left out, as the pipeline leaves them out. The warnings production raised come from the
``warning`` measurement.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence
from urllib.parse import urlsplit, urlunsplit

from evaluation.history_span import NS, Span
from evaluation.metrics import utc
from riverwatch.catalog import Station
from riverwatch.errors import ConfigError
from riverwatch.influx import InfluxClient, quote_literal, series_to_rows
from riverwatch.model import QC


def station_clause(stations: Sequence[Station]) -> str:
    """InfluxQL condition selecting the stations' series.

    >>> from riverwatch.catalog import Station
    >>> st = Station(id="g", partner="p", kind="river_gauge", name="G", lat=0, lon=0, quantities={"water_level": {}})
    >>> station_clause([st])
    "(partner = 'p' AND (station = 'g'))"
    """
    by_partner: dict[str, list[str]] = defaultdict(list)
    for st in stations:
        by_partner[st.partner].append(st.id)
    return " OR ".join(f"(partner = {quote_literal(p)} AND ({' OR '.join(f'station = {quote_literal(s)}' for s in ids)}))"
                       for p, ids in by_partner.items())


def reading_query(stations: Sequence[Station], a_ns: int, b_ns: int) -> str:
    """The ``reading`` rows of the stations in ``[a, b)``, one row per value (no GROUP BY)."""
    return (f'SELECT "value", "qc", "partner", "station", "quantity" FROM "reading" '
            f"WHERE ({station_clause(stations)}) AND time >= {a_ns} AND time < {b_ns}")


def warning_query(stations: Sequence[Station], a_ns: int, b_ns: int) -> str:
    """The ``warning`` rows of the stations in ``[a, b)``."""
    return (f'SELECT "id", "state", "level", "public", "detector", "quantity", "value", "since", "evidence", '
            f'"partner", "station", "hazard" FROM "warning" '
            f"WHERE ({station_clause(stations)}) AND time >= {a_ns} AND time < {b_ns}")


@dataclass(frozen=True, slots=True)
class Chunk:
    """The reading sets of one chunk, in replay order: ``(time_ns, (partner, station), x)``; and the
    values left out per station because production flagged them QC FAIL or worse."""

    rows: list[tuple[int, tuple[str, str], dict[str, float]]]
    failed: dict[tuple[str, str], int]
    #: The values left out, by ``(time_ns, partner, station)``: production showed them to the sensor
    #: streams only (:meth:`early_warning.stepper.StationStepper.score`), and so does the replay.
    failed_values: dict[tuple[int, str, str], dict[str, float]] = field(default_factory=dict)


def read_chunk(client: InfluxClient, stations: Sequence[Station], a_ns: int, b_ns: int) -> Chunk:
    """Query one chunk and pivot it: one reading set per station and timestamp (see the module doc).

    Raises
    ------
    ConfigError
        When the server cut the answer short (its row limit): a smaller ``--chunk`` is needed.
    """
    series = client.query(reading_query(stations, a_ns, b_ns))
    if any(s.get("partial") for s in series):
        raise ConfigError(f"evaluate: InfluxDB returned a partial answer for {utc(a_ns / NS)} … "
                          f"{utc(b_ns / NS)} (its max-row-limit): use a smaller --chunk")
    known = {st.key: st.quantities for st in stations}
    sets: dict[tuple[int, str, str], dict[str, float]] = {}
    failed: dict[tuple[str, str], int] = defaultdict(int)
    failed_values: dict[tuple[int, str, str], dict[str, float]] = {}
    for row in series_to_rows(series):
        key = (row.get("partner"), row.get("station"))
        quantities = known.get(key)
        value = row.get("value")
        if quantities is None or row.get("quantity") not in quantities or value is None:
            continue
        t = int(row["time"])
        x = sets.get((t, *key))
        if x is None:
            x = sets[(t, *key)] = {"t": t / NS}
        qc = row.get("qc")
        if qc is not None and int(qc) >= QC.FAIL:
            failed[key] += 1
            failed_values.setdefault((t, *key), {})[row["quantity"]] = float(value)
            continue
        x[row["quantity"]] = float(value)
    rows = [(t, (p, s), x) for (t, p, s), x in sorted(sets.items(), key=lambda item: item[0])]
    return Chunk(rows, dict(failed), failed_values)


def read_warnings(client: InfluxClient, stations: Sequence[Station], span: Span
                  ) -> dict[tuple[str, str], list[dict]]:
    """Production's ``warning`` rows of each station over the replay, in time order."""
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in client.query_rows(warning_query(stations, span.start_ns, span.until_ns)):
        out[(row.get("partner"), row.get("station"))].append(row)
    for rows in out.values():
        rows.sort(key=lambda r: int(r["time"]))
    return out


def public_url(url: str) -> str:
    """``url`` without any user or password in it (for summaries and messages).

    >>> public_url("http://reader:s3cret@db.example:8086/x")
    'http://db.example:8086/x'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
