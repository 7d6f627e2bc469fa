"""The sharing sink: each partner's view written into that partner's own InfluxDB database.

The processing thread only *marks* what changed (:meth:`ShareSink.note_readings`,
:meth:`~ShareSink.note_warning`, :meth:`~ShareSink.note_ack`: a set of window starts per route and
kind, :mod:`ingest.share_plan`); the sharer thread does the rest, every ``sharing.interval_s``:

1. **durable first**: a mark is acted on only once the main sink has made the lines before it
   durable *and* its spool is empty, so the main database holds everything the window will hold;
2. **due windows**: a window is shared once ``start + window + delay`` has passed (an agreement's
   delay; raw data once its ``sharing.raw_window_s`` window closed);
3. **copy**: it reads the window from the main database — raw rows, or the agreement's aggregates
   computed by InfluxQL over readings QC did not fail — and writes them to ``<database>_<partner>``;
   operator names in acknowledgements travel only where the agreement says so (else the role);
4. **audit**: one ``sharing_audit`` point per copy (partner, owner, agreement, kind, points, span).

No loss, no duplicates: a copy is a pure function of the main database over whole windows, and
InfluxDB keeps one point per series and time, so sharing a window again writes the same points.
Late data marks its window again; a failed copy keeps its marks; on start every window of the last
``sharing.restart_horizon_s`` (plus each agreement's window and delay) is shared again, and marks
still pending are saved in ``<state_dir>/sharing/pending.json`` every ``sharing.save_interval_s``
and at a clean stop (a stop does not wait for copies: they resume after the next start).

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.settings import Settings
>>> share = ShareSink(Settings(), load_catalog("catalog/demo.toml"), lines_durable=lambda: (0, -1))
>>> share.note_readings("rivertown", "gauge-hochtal", 1_800_000_000_000_000_000)
>>> len(share._marks) > 0
True
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from riverwatch import storage
from riverwatch.catalog import Catalog
from riverwatch.durable import write_atomic
from riverwatch.errors import SinkError
from riverwatch.influx import InfluxError, quote_ident
from riverwatch.settings import Settings

from ingest.share_plan import (ACK, FOLLOWED, READING, RECENT, RECENT_DAYS, RECENT_EVERY_S, SCORE, SCORE_WINDOW_S,
                               WARNING, WINDOW_TAG, Route, aggregate_query, aggregate_types, build_routes,
                               copy_query, follow_query, score_query, series_lines, spans, widen, window_start)

log = logging.getLogger(__name__)

AUDIT = "sharing_audit"
WRITE_CHUNK = 5000
PENDING_FILE = "pending.json"
FIELD_TYPES_TTL_S = 60.0


class ShareCounters:
    """What the sharer counts (its own thread writes them)."""

    __slots__ = ("points_shared", "errors", "pending_windows", "oldest_due_s")

    def __init__(self) -> None:
        self.points_shared = self.errors = self.pending_windows = 0
        self.oldest_due_s = 0.0


class ShareSink:
    """Marks from the processing thread, copies from the sharer thread.

    Parameters
    ----------
    settings, catalog
        ``[sharing]``, ``[influx]`` and the agreements.
    lines_durable
        ``() -> (lines added, lines in InfluxDB)`` of the main sink; the second is -1 while its
        spool holds anything (:meth:`ingest.influx_sink.InfluxSink.durable_watermark`).
    clock_ns
        Wall clock (tests pass their own).
    """

    def __init__(self, settings: Settings, catalog: Catalog, lines_durable: Callable[[], tuple[int, int]],
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.settings, self.catalog = settings, catalog
        share = settings.sharing
        self.routes: list[Route] = build_routes(catalog, settings.influx.database, share.raw_window_s) \
            if share.views else []
        self.lines_durable, self.clock_ns = lines_durable, clock_ns
        self.counters = ShareCounters()
        self._readings = self._index(READING)
        self._owned = {p.id: frozenset(st.id for st in catalog.stations if st.partner == p.id) for p in catalog.partners}
        self._marks: deque[tuple[int, str, int]] = deque()  # processing thread appends, sharer pops
        self._waiting: deque[tuple[int, list[tuple[int, str, int]]]] = deque()  # (lines added, marks)
        self._pending: dict[tuple[int, str], set[int]] = {}
        self._audit: list[str] = []
        self._cursor: dict[int, int] = {}  # own route -> followed measurements copied up to (ns)
        self._recent_at = 0.0  # monotonic: when the recent reviews and evaluations are copied next
        self._deadline = float("inf")  # monotonic: set by stop() for the last pass
        self._types: dict[str, tuple[float, dict[str, str]]] = {}
        self._audit_seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._path = Path(settings.state_dir) / "sharing" / PENDING_FILE
        self.main = settings.influx.client()
        self._clients = {r.database: settings.influx.client(r.database) for r in self.routes}
        self._databases_ready = False

    def _index(self, kind: str) -> dict[tuple[str, str], tuple[tuple[int, int], ...]]:
        """(partner, station) -> (route index, window ns) of the routes carrying its ``kind``."""
        out: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for st in self.catalog.stations:
            for i, r in enumerate(self.routes):
                if r.owner == st.partner and kind in r.kinds and r.covers(st.id):
                    out.setdefault(st.key, []).append((i, r.window_s * 1_000_000_000))
        return {k: tuple(v) for k, v in out.items()}

    # ------------------------------------------------------------------ processing thread

    def note_readings(self, partner: str, station: str, time_ns: int) -> None:
        """A station's readings at ``time_ns`` were handed to the main sink."""
        append = self._marks.append
        for i, width in self._readings.get((partner, station), ()):
            append((i, READING, time_ns - time_ns % width))

    def note_warning(self, partner: str, station: str, hazard: str, time_ns: int) -> None:
        """A ``warning`` line of ``station`` at ``time_ns`` was handed to the main sink."""
        self._note(WARNING, partner, station, hazard, time_ns)

    def note_ack(self, partner: str, station: str, hazard: str, time_ns: int) -> None:
        """An ``ack`` line (acknowledgement or reminder) about a warning of ``station`` was handed to the
        main sink."""
        self._note(ACK, partner, station, hazard, time_ns)

    def _note(self, kind: str, owner: str, station: str, hazard: str | None, time_ns: int) -> None:
        for i, r in enumerate(self.routes):
            if r.owner == owner and kind in r.kinds and r.covers(station, hazard):
                self._marks.append((i, kind, window_start(time_ns, r.width_s(kind))))

    # ------------------------------------------------------------------ sharer thread

    def start(self) -> None:
        """Mark the restart horizon (and what a clean stop left pending), then start the sharer."""
        if not self.routes:
            return
        self.mark_restart()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ingest-share", daemon=True)
        self._thread.start()

    def mark_restart(self) -> None:
        """Mark what a crash may have left unshared: every window of the restart horizon (plus each
        route's window and delay), and the marks a clean stop saved. Shared once the main sink's
        spool is empty (what it holds is part of those windows)."""
        now = self.clock_ns()
        marks = self._load_pending()
        horizon = int(self.settings.sharing.restart_horizon_s * 1e9)
        self._cursor = {i: window_start(now - horizon, r.raw_window_s) for i, r in enumerate(self.routes)
                        if r.owner == r.to}
        for i, r in enumerate(self.routes):
            for kind in r.kinds:
                width = r.width_s(kind)
                first = window_start(now - horizon - int((width + r.delay_s) * 1e9), width)
                marks += [(i, kind, s) for s in range(first, now + 1, width * 1_000_000_000)]
        self._waiting.append((0, marks))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the sharer: a pass in progress ends within ``timeout``, then it saves what is still
        pending for the next start. A sharer stuck on InfluxDB longer is left to die with the process;
        the restart horizon shares its windows on the next start."""
        if self._thread is None:
            return
        self._deadline = time.monotonic() + 0.8 * timeout
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("sharing: the sharer is still waiting for InfluxDB; the next start shares its windows")
        else:
            self.close()
        self._thread = None

    def close(self) -> None:
        """Close the InfluxDB connections."""
        for client in (self.main, *self._clients.values()):
            client.close()

    def _loop(self) -> None:
        save_at = time.monotonic() + self.settings.sharing.save_interval_s
        while not self._stop.wait(self.settings.sharing.interval_s):
            self._pass()
            if time.monotonic() >= save_at:  # a crash then loses at most this much of the marks
                save_at = time.monotonic() + self.settings.sharing.save_interval_s
                try:
                    self._save_pending()
                except OSError:
                    log.exception("sharing: saving the pending windows failed; the restart horizon covers them")
        try:  # what is left is shared after the next start: a stop does not wait for copies
            self._save_pending()
        except OSError:
            log.exception("sharing: saving the pending windows failed; the next start shares the restart horizon")

    def _pass(self) -> None:
        try:
            self.run_pass()
        except Exception:  # never let the sharer die; the marks stay pending
            self.counters.errors += 1
            log.exception("sharing: a pass failed; it is retried")

    def run_pass(self) -> int:
        """Share every due window whose data is durable; returns the points written."""
        spool_empty = self._collect() >= 0
        if not self._databases_ready:
            self._create_databases()
        now = self.clock_ns()
        written = 0
        oldest = now
        for (i, kind), starts in list(self._pending.items()):
            route = self.routes[i]
            due = [s for s in starts if route.due_ns(kind, s) <= now]
            if not due:
                continue
            oldest = min(oldest, min(route.due_ns(kind, s) for s in due))
            width = route.width_s(kind)
            for span in spans(due, width):
                if time.monotonic() > self._deadline:
                    break
                written += self._copy(route, kind, span, now)
                starts.difference_update(range(span[0], span[1], width * 1_000_000_000))
            if not starts:
                del self._pending[(i, kind)]
        if spool_empty:
            written += self._follow(now)
        self._flush_audit()
        self.counters.pending_windows = sum(len(s) for s in self._pending.values())
        self.counters.oldest_due_s = (now - oldest) / 1e9
        return written

    def _collect(self) -> int:
        """Take the new marks; release those whose lines are durable (and the spool empty). Returns
        the main sink's lines in InfluxDB (-1 while its spool holds anything)."""
        fresh = []
        pop = self._marks.popleft
        while True:
            try:
                fresh.append(pop())
            except IndexError:
                break
        added, durable = self.lines_durable()
        if fresh:
            self._waiting.append((added, fresh))
        while self._waiting and self._waiting[0][0] <= durable:
            for i, kind, start in self._waiting.popleft()[1]:
                self._pending.setdefault((i, kind), set()).add(start)
        return durable

    def _follow(self, now: int) -> int:
        """Copy the followed measurements (:data:`~ingest.share_plan.FOLLOWED`) and the sharing audit
        of each closed raw window since the last pass into every partner's view, and every
        :data:`~ingest.share_plan.RECENT_EVERY_S` the recent reviews and evaluations."""
        recent = time.monotonic() >= self._recent_at
        if recent:
            self._recent_at = time.monotonic() + RECENT_EVERY_S
        written = 0
        for i, cursor in self._cursor.items():
            route = self.routes[i]
            end = window_start(now, route.raw_window_s)
            todo = [(m, (cursor, end)) for m in (*FOLLOWED, AUDIT)] if end > cursor else []
            if recent:
                todo += [(m, (now - RECENT_DAYS * 86_400_000_000_000, now + 1)) for m in RECENT]
            lines = []
            for measurement, span in todo:
                series = self.main.query(follow_query(measurement, route.to, span, AUDIT))
                if series:
                    lines += series_lines(series, self._field_types(measurement, series))
            self._write(route.database, lines)
            self._cursor[i] = max(cursor, end)
            written += len(lines)
        return written

    def _write(self, database: str, lines: list[str]) -> None:
        """Write ``lines`` into a partner's database, in chunks; raises when InfluxDB fails."""
        client = self._clients[database]
        for at in range(0, len(lines), WRITE_CHUNK):
            client.write("\n".join(lines[at:at + WRITE_CHUNK]))

    def _create_databases(self) -> None:
        try:
            for db in self._clients:
                self.main.query(f"CREATE DATABASE {quote_ident(db)}", epoch=None)
        except InfluxError as exc:  # a worker without the right may write to databases made at setup
            log.warning("sharing: cannot create the partner databases (%s); they must exist", exc)
        self._databases_ready = True

    def _copy(self, route: Route, kind: str, span: tuple[int, int], now: int) -> int:
        """Copy one span of one route's kind; raises (marks kept) when InfluxDB fails."""
        lines = self._lines(route, kind, span)
        if kind == READING and not route.aggregated and route.owner == route.to:
            lines += self._score_lines(route, span)
        self._write(route.database, lines)
        self.counters.points_shared += len(lines)
        if lines:
            self._audit_seq += 1
            self._audit.append(storage.line(
                AUDIT, {"to": route.to, "owner": route.owner, "agreement": route.agreement, "kind": kind},
                {"points": len(lines), "from_ns": span[0], "to_ns": span[1], "delay_s": float(route.delay_s),
                 "aggregated": route.aggregated and kind == READING}, now + self._audit_seq % 1000))
        return len(lines)

    def _score_lines(self, route: Route, span: tuple[int, int]) -> list[str]:
        """The owner's detector scores over ``span`` per :data:`~ingest.share_plan.SCORE_WINDOW_S`: the
        mean of each score, the highest of each level (what the Detectors dashboard plots), so a view
        holds a point a minute per stream, not one per reading. The span is widened to whole windows,
        each computed from everything stored in it (a later copy of the window completes it)."""
        types = self._field_types(SCORE)
        if not types:
            return []
        query, out_types = score_query(route.owner, widen(span, SCORE_WINDOW_S), types)
        return series_lines(self.main.query(query), out_types)

    def _lines(self, route: Route, kind: str, span: tuple[int, int]) -> list[str]:
        if kind == READING and route.aggregated:
            series = self.main.query(aggregate_query(route, span))
            types = aggregate_types(route)
            return series_lines(series, types, extra_tags={WINDOW_TAG: f"{route.window_s}s"})
        series = self.main.query(copy_query(route, kind, span, self._owned[route.owner]))
        types = self._field_types(kind, series)
        if kind != ACK:
            return series_lines(series, types)
        lines = []
        for s in series:  # an operator's name leaves its partner only where that partner agreed
            named = self._names_travel(s.get("tags", {}).get("partner", ""), route.to)
            lines += series_lines([s], types, rename=None if named else {"by": "role"})
        return lines

    def _names_travel(self, acker: str, to: str) -> bool:
        """Whether ``acker``'s operators' names reach ``to`` (always within one partner)."""
        policy = self.catalog.sharing_policy(acker, to) if acker != to else None
        return acker == to or (policy is not None and policy.operator_names)

    def _field_types(self, measurement: str, series: list[dict] | None = None) -> dict[str, str]:
        """Field types as InfluxDB knows them (asked again after a minute, or for a field not seen yet)."""
        asked, types = self._types.get(measurement, (0.0, {}))
        unseen = any(col not in types for s in series or () for col in s["columns"][1:])
        if unseen or time.monotonic() - asked > FIELD_TYPES_TTL_S:
            rows = self.main.query_rows(f"SHOW FIELD KEYS FROM {quote_ident(measurement)}", epoch=None)
            types = {r["fieldKey"]: r["fieldType"] for r in rows}
            self._types[measurement] = (time.monotonic(), types)
        return types

    def _flush_audit(self) -> None:
        if not self._audit:
            return
        try:
            self.main.write("\n".join(self._audit))
        except SinkError as exc:  # kept for the next pass
            log.warning("sharing: writing %d audit points failed: %s", len(self._audit), exc)
            return
        self._audit.clear()

    # ------------------------------------------------------------------ pending marks across a stop

    def _save_pending(self) -> None:
        self._collect()
        marks = [[self.routes[i].to, self.routes[i].owner, kind, s] for (i, kind), starts in self._pending.items()
                 for s in sorted(starts)]
        marks += [[self.routes[i].to, self.routes[i].owner, kind, s] for _, batch in self._waiting
                  for i, kind, s in batch]
        write_atomic(self._path, json.dumps(marks).encode())

    def _load_pending(self) -> list[tuple[int, str, int]]:
        if not self._path.is_file():
            return []
        index = {(r.to, r.owner): i for i, r in enumerate(self.routes)}
        try:
            saved = json.loads(self._path.read_bytes())
        except ValueError:
            log.error("sharing: %s is unreadable; the restart horizon is shared again, older marks are lost",
                      self._path)
            return []
        return [(index[(to, owner)], kind, int(s)) for to, owner, kind, s in saved
                if (to, owner) in index and kind in self.routes[index[(to, owner)]].kinds]
