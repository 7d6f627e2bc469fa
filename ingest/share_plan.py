"""What each partner's view holds, as routes and InfluxQL: the pure half of the sharing sink.

A *route* carries one owner's data to one partner's database (``<database>_<partner>``,
:func:`riverwatch.sharing.partner_database`): every partner has a route from itself (its own
stations, raw, with their scores, warnings and acknowledgements) and one from each partner whose
agreement (:meth:`riverwatch.catalog.Catalog.sharing_policy`) gives it anything. A route moves
*kinds* of data: ``reading`` (raw rows, or an aggregate per window), ``score`` (own route only),
``warning`` and ``ack``.

Work is tracked as *marks* ``(route, kind, window start ns)``: a window of a route's data that
changed. A window is copied once it is *due* — ``start + window + delay`` has passed — by reading
the main database (never the worker's memory), so a copy is a pure function of what is stored:
writing it again gives the same points, late data re-marks its window, and a restart re-marks a
horizon (:mod:`ingest.share_sink`).

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.settings import REPO_ROOT
>>> routes = build_routes(load_catalog(REPO_ROOT / "catalog" / "demo.toml"), "rw", raw_window_s=10)
>>> [(r.owner, r.to, r.database, r.kinds) for r in routes][:2]
[('rivertown', 'rivertown', 'rw_rivertown', ('reading', 'score', 'warning', 'ack')), ('lacville', 'rivertown', 'rw_rivertown', ('reading', 'warning', 'ack'))]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from riverwatch import storage
from riverwatch.catalog import Catalog
from riverwatch.influx import quote_ident, quote_literal
from riverwatch.model import QC
from riverwatch.sharing import ALL, partner_database

OWN = "own"
READING, SCORE, WARNING, ACK = storage.READING, storage.SCORE, storage.WARNING, storage.ACK
#: Tag of an aggregated ``reading`` point: the window, e.g. ``900s``.
WINDOW_TAG = "window"


@dataclass(frozen=True)
class Route:
    """One owner's data on its way to one partner's database."""

    owner: str
    to: str
    database: str
    agreement: str
    stations: frozenset[str] | None  # None: all of the owner's
    quantities: frozenset[str] | None
    hazards: frozenset[str] | None
    kinds: tuple[str, ...]
    functions: tuple[str, ...] | None  # None: raw readings
    window_s: int  # readings: the aggregate's window, or the raw copy's batching window
    delay_s: float  # readings only: warnings and acknowledgements are never held back
    raw_window_s: int  # warnings, acknowledgements (and raw readings): the copy's batching window

    @property
    def aggregated(self) -> bool:
        """Whether readings travel as aggregates."""
        return self.functions is not None

    def covers(self, station: str, hazard: str | None = None) -> bool:
        """Whether ``station`` (and ``hazard``'s warnings, when given) travel on this route."""
        return ((self.stations is None or station in self.stations)
                and (hazard is None or self.hazards is None or hazard in self.hazards))

    def width_s(self, kind: str) -> int:
        """The window of ``kind``'s marks and copies."""
        return self.window_s if kind in (READING, SCORE) else self.raw_window_s

    def due_ns(self, kind: str, start_ns: int) -> int:
        """When ``kind``'s window beginning at ``start_ns`` may be shared: once it closed, and for
        readings once the agreement's delay has passed too."""
        delay_ns = int(self.delay_s * 1e9) if kind in (READING, SCORE) else 0
        return start_ns + self.width_s(kind) * 1_000_000_000 + delay_ns


def _listed(values: list[str]) -> frozenset[str] | None:
    return None if ALL in values else frozenset(values)


def build_routes(catalog: Catalog, database: str, raw_window_s: int) -> list[Route]:
    """Every route of the catalog: per receiving partner, its own route first, then the others'."""
    routes = []
    for to in (p.id for p in catalog.partners):
        routes.append(Route(to, to, partner_database(database, to), OWN, None, None, None,
                            (READING, SCORE, WARNING, ACK), None, raw_window_s, 0.0, raw_window_s))
        for owner in (p.id for p in catalog.partners if p.id != to):
            policy = catalog.sharing_policy(owner, to)
            if policy is None:
                continue
            kinds = ((READING,) if policy.data != "none" else ()) + ((WARNING,) if policy.warnings else ()) \
                + ((ACK,) if policy.warnings and policy.acks else ())
            if not kinds:
                continue
            agg = policy.aggregate
            routes.append(Route(owner, to, partner_database(database, to), policy.agreement,
                                _listed(policy.stations), _listed(policy.quantities), _listed(policy.hazards),
                                kinds, tuple(agg.functions) if agg else None,
                                agg.window_s if agg else raw_window_s, policy.delay_s, raw_window_s))
    return routes


#: What a partner's dashboards read beyond its routes, copied into its view as time passes:
#: measurement -> the tag that must name the partner (None: the workers' own figures, for everyone).
FOLLOWED = {storage.STATION_STATE: "partner", storage.REJECT: "partner", storage.PIPELINE: None,
            storage.HEARTBEAT: None}
#: Written by jobs beside the worker at times of their own (a review's point is at the start of the
#: span it reviewed): copied again over :data:`RECENT_DAYS` every :data:`RECENT_EVERY_S`.
RECENT = (storage.REVIEW, "evaluation")
RECENT_DAYS = 30
RECENT_EVERY_S = 60.0


def follow_query(measurement: str, partner: str, span: tuple[int, int], audit: str) -> str:
    """The rows of a followed measurement (or of the sharing audit) that ``partner``'s view holds.

    >>> follow_query("reject", "lacville", (0, 10), "sharing_audit")
    'SELECT * FROM "reject" WHERE time >= 0 AND time < 10 AND "partner" = \\'lacville\\' GROUP BY *'
    """
    text = f"SELECT * FROM {quote_ident(measurement)} WHERE time >= {span[0]} AND time < {span[1]}"
    if measurement == audit:
        text += f' AND ("to" = {quote_literal(partner)} OR "owner" = {quote_literal(partner)})'
    elif measurement == storage.REVIEW:  # its own reviews, and those of every partner
        text += f' AND ("partner" = {quote_literal(partner)} OR "partner" = \'all\')'
    elif FOLLOWED.get(measurement):
        text += f" AND {quote_ident(FOLLOWED[measurement])} = {quote_literal(partner)}"
    return text + " GROUP BY *"


def window_start(time_ns: int, window_s: int) -> int:
    """The start of the epoch-aligned window holding ``time_ns`` (as InfluxQL's ``GROUP BY time``).

    >>> window_start(1_000_000_000_123, 60)
    960000000000
    """
    width = window_s * 1_000_000_000
    return time_ns - time_ns % width


#: Marked windows this close (in windows) are copied by one query, the unmarked ones between them
#: again (idempotent): a backlog of sparse readings then costs a query per 10 minutes, not per reading.
SPAN_GAP_WINDOWS = 30
#: The most windows one query covers (bounds the rows a copy holds in memory).
SPAN_MAX_WINDOWS = 60


def spans(starts: Iterable[int], window_s: int, gap: int = SPAN_GAP_WINDOWS,
          most: int = SPAN_MAX_WINDOWS) -> list[tuple[int, int]]:
    """Window starts merged into ``[from, to)`` spans, oldest first: windows at most ``gap`` windows
    apart share a span, and a span covers at most ``most`` windows.

    >>> minute = 60_000_000_000
    >>> spans([2 * minute, 0, minute, 300 * minute], 60)
    [(0, 180000000000), (18000000000000, 18060000000000)]
    >>> spans([0, 5 * minute], 60, gap=2)
    [(0, 60000000000), (300000000000, 360000000000)]
    >>> spans(range(0, 10 * minute, minute), 60, most=4)[:2]
    [(0, 240000000000), (240000000000, 480000000000)]
    """
    width = window_s * 1_000_000_000
    out: list[list[int]] = []
    for start in sorted(set(starts)):
        if out and start - out[-1][1] <= (gap - 1) * width and start + width - out[-1][0] <= most * width:
            out[-1][1] = start + width
        else:
            out.append([start, start + width])
    return [(a, b) for a, b in out]


def _any_of(tag_key: str, values: frozenset[str] | None) -> str:
    if values is None:
        return ""
    return " AND (" + " OR ".join(f"{quote_ident(tag_key)} = {quote_literal(v)}" for v in sorted(values)) + ")"


def where(route: Route, kind: str, span: tuple[int, int]) -> str:
    """The rows of ``route``'s ``kind`` in ``span`` (ns): the owner's covered stations, quantities, hazards.

    Acknowledgements are found by their warning's station (an ``ack`` row's ``partner`` is the partner
    that acknowledged).
    """
    owner = "" if kind == ACK else f"{quote_ident('partner')} = {quote_literal(route.owner)} AND "
    text = f"{owner}time >= {span[0]} AND time < {span[1]}"
    text += _any_of("station", route.stations)
    if kind in (READING, SCORE):
        text += _any_of("quantity", route.quantities)
    if kind in (WARNING, ACK):
        text += _any_of("hazard", route.hazards)
    return text


def copy_query(route: Route, kind: str, span: tuple[int, int], ack_stations: frozenset[str] = frozenset()) -> str:
    """The InfluxQL reading the rows ``route`` copies (``GROUP BY *`` keeps tags apart from fields)."""
    text = where(route, kind, span)
    if kind == ACK and route.stations is None:
        text += _any_of("station", ack_stations)
    return f"SELECT * FROM {quote_ident(kind)} WHERE {text} GROUP BY *"


def aggregate_query(route: Route, span: tuple[int, int]) -> str:
    """The InfluxQL computing ``route``'s aggregates over ``span``: readings QC did not FAIL, per window.

    >>> r = Route("up", "down", "rw_down", "A-1", frozenset({"g1"}), None, None, ("reading",), ("mean", "max"),
    ...           900, 3600.0, 10)
    >>> aggregate_query(r, (0, 1_800_000_000_000))
    'SELECT mean("value") AS "value", mean("value") AS "mean", max("value") AS "max" FROM "reading" WHERE "partner" = \\'up\\' AND time >= 0 AND time < 1800000000000 AND ("station" = \\'g1\\') AND "qc" <> 4 GROUP BY time(900s), "partner", "station", "quantity", "kind" fill(none)'
    """
    select = ", ".join(f'{fn}("value") AS {quote_ident(name)}'
                       for fn, name in [(primary(route), "value"), *((fn, fn) for fn in route.functions or ())])
    return (f"SELECT {select} FROM {quote_ident(READING)} WHERE {where(route, READING, span)} "
            f'AND "qc" <> {int(QC.FAIL)} GROUP BY time({route.window_s}s), "partner", "station", "quantity", "kind" '
            "fill(none)")


def primary(route: Route) -> str:
    """The function whose result is also the aggregate point's ``value`` (what dashboards plot)."""
    assert route.functions is not None
    return "mean" if "mean" in route.functions else route.functions[0]


def aggregate_types(route: Route) -> dict[str, str]:
    """Field types of ``route``'s aggregate points (``count`` is an integer)."""
    fields = {fn: fn for fn in route.functions or ()} | {"value": primary(route)}
    return {name: "integer" if fn == "count" else "float" for name, fn in fields.items()}


#: Scores in a partner's own view: one point per stream and this many seconds.
SCORE_WINDOW_S = 60


def widen(span: tuple[int, int], window_s: int) -> tuple[int, int]:
    """``span`` out to whole windows of ``window_s``.

    >>> widen((70_000_000_000, 130_000_000_000), 60)
    (60000000000, 180000000000)
    """
    width = window_s * 1_000_000_000
    return span[0] - span[0] % width, -(-span[1] // width) * width


def score_query(owner: str, span: tuple[int, int], field_types: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The InfluxQL of ``owner``'s scores per :data:`SCORE_WINDOW_S`, and the types of its fields: the
    mean of each float (a score), the highest of each integer (a level).

    >>> q, types = score_query("up", (0, 60_000_000_000), {"rate_of_rise": "float", "rate_of_rise_level": "integer"})
    >>> print(q)
    SELECT mean("rate_of_rise") AS "rate_of_rise", max("rate_of_rise_level") AS "rate_of_rise_level" FROM "score" WHERE "partner" = 'up' AND time >= 0 AND time < 60000000000 GROUP BY time(60s), * fill(none)
    >>> types
    {'rate_of_rise': 'float', 'rate_of_rise_level': 'integer'}
    """
    numeric = {f: t for f, t in sorted(field_types.items()) if t in ("float", "integer")}
    select = ", ".join(f'{"max" if t == "integer" else "mean"}({quote_ident(f)}) AS {quote_ident(f)}'
                       for f, t in numeric.items())
    return (f"SELECT {select} FROM {quote_ident(SCORE)} WHERE {quote_ident('partner')} = {quote_literal(owner)} "
            f"AND time >= {span[0]} AND time < {span[1]} GROUP BY time({SCORE_WINDOW_S}s), * fill(none)", numeric)


def series_lines(series: list[dict], field_types: Mapping[str, str], extra_tags: Mapping[str, str] | None = None,
                 rename: Mapping[str, str] | None = None) -> list[str]:
    """Line protocol for query ``series`` (``GROUP BY`` tags in ``tags``, ``time`` in ns).

    ``rename`` maps a field to the value of a tag (the role for ``by``).
    The tags are escaped once per series and each column gets its formatter once, so a row costs a
    join (a copy is the sharing sink's per-reading work).

    >>> series_lines([{"name": "ack", "tags": {"role": "operator", "station": "s"}, "columns": ["time", "by", "after_s"],
    ...                "values": [[5, "anna", 120]]}], {"by": "string", "after_s": "float"}, rename={"by": "role"})
    ['ack,role=operator,station=s by="operator",after_s=120.0 5']
    """
    lines: list[str] = []
    for s in series:
        tags = {**s.get("tags", {}), **(extra_tags or {})}
        head = storage.measurement(s["name"]) + "".join(
            f",{storage.key(k)}={storage.tag(v)}" for k, v in sorted(tags.items()) if v != "")
        fields = [(i, storage.key(col) + "=", _formatter(field_types.get(col, "float")),
                   tags.get(rename[col], "") if rename and col in rename else None)
                  for i, col in enumerate(s["columns"]) if i]
        for row in s["values"]:
            text = ",".join(name + fmt(row[i] if fixed is None else fixed) for i, name, fmt, fixed in fields
                            if row[i] is not None)
            if text:
                lines.append(f"{head} {text} {int(row[0])}")
    return lines


def _formatter(field_type: str):
    """How a field of ``field_type`` is written (JSON cannot tell 2.0 from 2)."""
    if field_type == "integer":
        return lambda v: f"{int(v)}i"
    if field_type == "float":
        return lambda v: repr(float(v))
    return storage.fmt
