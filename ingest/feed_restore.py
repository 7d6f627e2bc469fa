"""The alert feed after a restart: taken back from the checkpoint's warning book and InfluxDB.

The feed lives in memory; without this a restarted worker served an empty feed until each
warning's next event. At start-up the worker hands :func:`restore_alerts` the latest event of
every warning its checkpoint's book holds open, and the ``warning`` rows InfluxDB kept:

- with a checkpoint, the book decides which warnings are open (a row of a warning the book no
  longer holds open is not brought back, so nothing stays listed that nobody will clear); InfluxDB
  adds the recent all-clears, which stay listed for the feed's ``cleared_ttl_s``;
- without one (a new state folder), the rows alone say what is open.

The CAP references continue: the next Update of a restored warning references its last message.
Nothing is published on MQTT (the broker kept the retained messages).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import orjson

from riverwatch import storage
from riverwatch.influx import InfluxClient, InfluxError, quote_ident
from riverwatch.model import Level, WarningEvent

from ingest.alerts import AlertRenderer

log = logging.getLogger(__name__)

#: How far back the ``warning`` rows are read (a warning open longer has its book entry).
LOOKBACK_S = 7 * 86400
_EVIDENCE_KEYS = ("corroborating", "message_key", "since_ns")


def restore_alerts(renderer: AlertRenderer, client: InfluxClient | None, book_events: Iterable[WarningEvent],
                   from_checkpoint: bool, lookback_s: float = LOOKBACK_S) -> int:
    """Put the warnings back in the feed; returns how many it holds again.

    Parameters
    ----------
    renderer
        The worker's renderer (its feed receives the alerts).
    client
        InfluxDB holding the ``warning`` rows (None, or unreachable: the book alone).
    book_events
        The latest event of each warning the restored book holds open.
    from_checkpoint
        Whether the book came from a checkpoint (then it alone says which warnings are open).
    """
    book_events = list(book_events)
    stored: list[WarningEvent] = []
    if client is not None:
        try:
            stored = stored_events(client, lookback_s)
        except InfluxError as exc:
            log.warning("alert feed: InfluxDB warning rows not read (%s); restoring from the checkpoint only", exc)
    if from_checkpoint:
        open_ids = {e.id for e in book_events}
        stored = [e for e in stored if e.state == "cleared" or e.id in open_ids]
    restored = renderer.restore(book_events + stored)
    if restored:
        log.info("alert feed: %d warnings restored (%d from the checkpoint, %d rows from InfluxDB)",
                 restored, len(book_events), len(stored))
    return restored


def stored_events(client: InfluxClient, lookback_s: float = LOOKBACK_S) -> list[WarningEvent]:
    """The latest stored event of each warning with a row in the last ``lookback_s`` seconds."""
    rows = client.query_rows(f"SELECT * FROM {quote_ident(storage.WARNING)} WHERE time > now() - {int(lookback_s)}s")
    latest: dict[str, WarningEvent] = {}
    for row in rows:
        try:
            event = event_from_row(row)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("alert feed: warning row not restored (%s: %s)", type(exc).__name__, exc)
            continue
        if event.id not in latest or latest[event.id].time_ns <= event.time_ns:
            latest[event.id] = event
    return list(latest.values())


def event_from_row(row: dict) -> WarningEvent:
    """The :class:`WarningEvent` a ``warning`` row was written from (:func:`riverwatch.storage.warning_line`)."""
    evidence = orjson.loads(row.get("evidence") or "{}")
    details = tuple((k, str(v)) for k, v in evidence.items() if k not in _EVIDENCE_KEYS)
    return WarningEvent(
        id=row["id"], partner=row["partner"], station=row["station"], hazard=row["hazard"],
        level=Level(int(row["level"])), state=row["state"], public=bool(row["public"]), since_ns=int(row["since"]),
        time_ns=int(row["time"]), detector=row["detector"], quantity=row.get("quantity") or "",
        value=_float(row.get("value")), threshold=row.get("threshold"), score=_float(row.get("score")),
        expected_at_ns=None if row.get("expected_at") is None else int(row["expected_at"]),
        corroborating=tuple(evidence.get("corroborating", ())), message_key=evidence.get("message_key", ""),
        details=details)


def _float(value: object) -> float:
    return float("nan") if value is None else float(value)
