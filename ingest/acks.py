"""Acknowledgements over MQTT: ``rw/v1/<partner>/ack/<warning-id>`` in, stored and published back.

The broker lets only ``op.<partner>`` accounts publish on a partner's ack topic (see
:mod:`application.broker_auth`), so an ack arriving there comes from an operator of that partner.
:class:`AckDesk` applies :class:`early_warning.acks.AckBook`'s rules: an accepted ack becomes an
``ack`` line in InfluxDB and a JSON message on the warning's ``…/warning/<hazard>/ack`` topic; a
refused one becomes a ``reject`` line (reason ``ack_*``) and a message on the partner's
``rejected`` topic, and changes nothing else. :meth:`AckDesk.remind` re-announces warnings nobody
acknowledged in time (an ``ack`` line of kind ``reminder``) and counts them.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import queue
import threading
from concurrent.futures import Future
from collections.abc import Callable, Iterable

import orjson

from early_warning.acks import Ack, AckBook, AckRefused
from riverwatch.ack_contract import ack_topic, parse_ack_topic, warning_ack_topic
from riverwatch.contract import rejected_topic
from riverwatch.model import WarningEvent
from riverwatch.influx import InfluxClient, InfluxError
from riverwatch.storage import ACK, ack_line, line, reject_line

log = logging.getLogger(__name__)

_NS = 1_000_000_000


def reminder_line(event: WarningEvent, time_ns: int, after_s: float) -> str:
    """An ``ack`` line of kind ``reminder``: ``event``'s warning re-announced, unacknowledged.

    (Not a ``warning`` line: readers of that measurement expect lifecycle states only.) The station
    is a tag, as in :func:`~riverwatch.storage.ack_line`: reminders of two warnings of one partner
    announced at the same instant are two points.
    """
    return line(ACK, {"kind": "reminder", "partner": event.partner, "station": event.station,
                      "hazard": event.hazard},
                {"id": event.id, "level": int(event.level),
                 "after_s": float(after_s)}, time_ns)


def restore_acks(book: AckBook, client: InfluxClient | None, open_events: Iterable[WarningEvent]) -> int:
    """After a restart: follow the open warnings again, with the acknowledgements stored for them.

    Returns how many stored acknowledgements were taken back (InfluxDB unreachable: none, and a
    partner may then acknowledge once more).
    """
    events = list(open_events)
    for event in events:
        book.observe(event)
    if client is None or not events:
        return 0
    since_ns = min(event.since_ns for event in events)
    try:
        rows = client.query_rows(f'SELECT * FROM "{ACK}" WHERE "kind" = \'ack\' AND time >= {since_ns}')
    except InfluxError as exc:
        log.warning("acknowledgements not restored from InfluxDB (%s)", exc)
        return 0
    taken = 0
    for row in rows:
        ack = Ack(row["id"], row["partner"], row["by"], row["role"], 0.0, float(row["after_s"]),
                  row.get("comment") or "", row.get("action") or "")
        taken += book.remember(ack)
    return taken


class AckDesk:
    """Receives acknowledgements, stores and publishes them; announces reminders.

    Parameters
    ----------
    book
        The acknowledgement rules and state (fed every warning event with :meth:`observe`).
    write
        Writes line protocol (e.g. ``InfluxClient.write``).
    publish
        ``publish(topic, payload)`` on the broker (not retained).
    written
        Called with ``(event, time of the line)`` once an ``ack`` line about ``event``'s warning (an
        acknowledgement or a reminder) is written (the sharing sink marks the window).
    """

    def __init__(self, book: AckBook, write: Callable[[str], object],
                 publish: Callable[[str, bytes], object],
                 written: Callable[[WarningEvent, int], None] | None = None) -> None:
        self.book = book
        self.write = write
        self.publish = publish
        self.written = written or (lambda event, time_ns: None)
        self.accepted = 0
        self.refused: dict[str, int] = {}
        self.reminders = 0

    def observe(self, event: WarningEvent, t_s: float | None = None) -> None:
        """Follow one warning event of the lifecycle, published at ``t_s`` (see :meth:`AckBook.observe`)."""
        self.book.observe(event, t_s)

    def on_message(self, topic: str, payload: bytes, t_s: float, role: str = "operator") -> Ack | str:
        """Handle one message of :data:`~riverwatch.ack_contract.ACK_SUBSCRIPTION`: the Ack or a refusal code."""
        parsed = parse_ack_topic(topic)
        if parsed is None:
            return self._refuse("ack_topic_invalid", None, topic, t_s)
        partner, warning_id = parsed
        try:
            ack = self.book.accept(payload, partner, warning_id, role, t_s)
        except AckRefused as refused:
            return self._refuse(refused.reason, partner, topic, t_s)
        event = self.book.event(warning_id)
        self.write(ack_line(ack.warning_id, event.station, event.hazard, ack.partner, ack.role, ack.by, ack.after_s,
                            ack.comment, ack.action, int(t_s * _NS)))
        self.written(event, int(t_s * _NS))
        body = {"type": "ack", **dataclasses.asdict(ack)}
        if not self.book.names_shared(event.partner):
            body["by"] = ""  # personal data: partners see the role and the partner, not the person
        self.publish(warning_ack_topic(event.partner, event.station, event.hazard), orjson.dumps(body))
        self.accepted += 1
        return ack

    def remind(self, t_s: float) -> list[WarningEvent]:
        """Re-announce (store and publish) warnings due a reminder at ``t_s``; return them."""
        due = self.book.reminders_due(t_s)
        for event in due:
            self.write(reminder_line(event, int(t_s * _NS), t_s - self.book.published_s(event.id)))
            self.written(event, int(t_s * _NS))
            body = {"type": "reminder", "id": event.id, "level": event.level.name.lower(),
                    "since_ns": event.since_ns, "time_ns": int(t_s * _NS)}
            self.publish(warning_ack_topic(event.partner, event.station, event.hazard), orjson.dumps(body))
        self.reminders += len(due)
        return due

    def _refuse(self, reason: str, partner: str | None, topic: str, t_s: float) -> str:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        self.write(reject_line(reason, partner, "acknowledgement refused", topic, int(t_s * _NS)))
        self.publish(rejected_topic(partner, "_ack"), orjson.dumps({"reason": reason, "topic": topic}))
        return reason


class AckQueue:
    """Acknowledgements from other threads (the feed server's), handled on the processing thread.

    The desk, the sink and the MQTT client belong to the ingest worker's processing thread;
    :meth:`submit` hands an acknowledgement over and waits for the answer, :meth:`drain` (called
    by that thread at every tick) answers what is waiting.
    """

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._waiting: queue.SimpleQueue = queue.SimpleQueue()

    def submit(self, topic: str, payload: bytes) -> Ack | str:
        """The Ack or refusal code for an acknowledgement; TimeoutError if the worker does not answer."""
        answer: Future = Future()
        self._waiting.put((topic, payload, answer))
        return answer.result(self.timeout_s)

    def drain(self, desk: AckDesk, t_s: float) -> int:
        """Hand everything waiting to ``desk``; the number handled."""
        handled = 0
        while True:
            try:
                topic, payload, answer = self._waiting.get_nowait()
            except queue.Empty:
                return handled
            if answer.set_running_or_notify_cancel():
                try:
                    answer.set_result(desk.on_message(topic, payload, t_s))
                except Exception as exc:  # answered either way: the HTTP thread must not hang
                    answer.set_exception(exc)
            handled += 1


class HttpAcks:
    """The feed server's ``POST /alerts/<warning-id>/ack``: a partner's bearer token names the partner.

    ``handle(topic, payload)`` decides (``AckDesk.on_message`` with a clock, or
    :meth:`AckQueue.submit` in a running worker); ``tokens`` maps partner id to its operators'
    token. The body is the MQTT ack payload. The answer is ``(status, JSON body)``: 200 accepted,
    401 unknown token, 409 refused (with the reason), 503 the worker did not answer in time.
    """

    def __init__(self, handle: Callable[[str, bytes], Ack | str], tokens: dict[str, str]) -> None:
        self.handle, self.tokens = handle, dict(tokens)

    def partner_of(self, token: str | None) -> str | None:
        """The partner whose token is ``token`` (a bare token or ``Bearer …``), else None."""
        given = (token or "").removeprefix("Bearer ").strip().encode()
        found = [p for p, known in self.tokens.items() if given and hmac.compare_digest(given, known.encode())]
        return found[0] if found else None

    def post(self, authorization: str | None, warning_id: str, body: bytes) -> tuple[int, bytes]:
        """Handle one POST; see the class docstring."""
        partner = self.partner_of(authorization)
        if partner is None:
            return 401, orjson.dumps({"reason": "ack_unauthorized"})
        try:
            result = self.handle(ack_topic(partner, warning_id), body)
        except TimeoutError:
            return 503, orjson.dumps({"reason": "busy"})
        if isinstance(result, str):
            return 409, orjson.dumps({"reason": result})
        return 200, orjson.dumps({"type": "ack", **dataclasses.asdict(result)})


def locked(desk: AckDesk, clock: Callable[[], float]) -> Callable[[str, bytes], Ack | str]:
    """``desk.on_message`` behind a lock with ``clock`` for the time: for a desk used outside a worker."""
    lock = threading.Lock()

    def handle(topic: str, payload: bytes) -> Ack | str:
        with lock:
            return desk.on_message(topic, payload, clock())
    return handle
