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
import threading
from typing import Callable

import orjson

from early_warning.acks import Ack, AckBook, AckRefused
from riverwatch.ack_contract import ack_topic, parse_ack_topic, warning_ack_topic
from riverwatch.contract import rejected_topic
from riverwatch.model import WarningEvent
from riverwatch.storage import ACK, ack_line, line, reject_line

_NS = 1_000_000_000


def reminder_line(event: WarningEvent, time_ns: int) -> str:
    """An ``ack`` line of kind ``reminder``: ``event``'s warning re-announced, unacknowledged.

    (Not a ``warning`` line: readers of that measurement expect lifecycle states only.)
    """
    return line(ACK, {"kind": "reminder", "partner": event.partner, "hazard": event.hazard},
                {"id": event.id, "station": event.station, "level": int(event.level),
                 "after_s": (time_ns - event.since_ns) / 1e9}, time_ns)


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
    """

    def __init__(self, book: AckBook, write: Callable[[str], object],
                 publish: Callable[[str, bytes], object]) -> None:
        self.book = book
        self.write = write
        self.publish = publish
        self.accepted = 0
        self.refused: dict[str, int] = {}
        self.reminders = 0

    def observe(self, event: WarningEvent) -> None:
        """Follow one warning event of the lifecycle."""
        self.book.observe(event)

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
        self.write(ack_line(ack.warning_id, event.hazard, ack.partner, ack.role, ack.by, ack.after_s,
                            ack.comment, ack.action, int(t_s * _NS)))
        body = {"type": "ack", **dataclasses.asdict(ack)}
        self.publish(warning_ack_topic(event.partner, event.station, event.hazard), orjson.dumps(body))
        self.accepted += 1
        return ack

    def remind(self, t_s: float) -> list[WarningEvent]:
        """Re-announce (store and publish) warnings due a reminder at ``t_s``; return them."""
        due = self.book.reminders_due(t_s)
        for event in due:
            self.write(reminder_line(event, int(t_s * _NS)))
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


class HttpAcks:
    """The feed server's ``POST /alerts/<warning-id>/ack``: a partner's bearer token names the partner.

    ``tokens`` maps partner id to its operators' token; the body is the MQTT ack payload. The answer
    is ``(status, JSON body)``: 200 accepted, 401 unknown token, 409 refused (with the reason).
    """

    def __init__(self, desk: AckDesk, tokens: dict[str, str], clock: Callable[[], float]) -> None:
        self.desk, self.tokens, self.clock = desk, dict(tokens), clock
        self._lock = threading.Lock()

    def partner_of(self, authorization: str | None) -> str | None:
        """The partner whose token the ``Authorization: Bearer …`` header carries, else None."""
        given = (authorization or "").removeprefix("Bearer ").strip().encode()
        found = [p for p, token in self.tokens.items() if given and hmac.compare_digest(given, token.encode())]
        return found[0] if found else None

    def post(self, authorization: str | None, warning_id: str, body: bytes) -> tuple[int, bytes]:
        """Handle one POST; see the class docstring."""
        partner = self.partner_of(authorization)
        if partner is None:
            return 401, orjson.dumps({"reason": "ack_unauthorized"})
        with self._lock:
            result = self.desk.on_message(ack_topic(partner, warning_id), body, self.clock())
        if isinstance(result, str):
            return 409, orjson.dumps({"reason": result})
        return 200, orjson.dumps({"type": "ack", **dataclasses.asdict(result)})
