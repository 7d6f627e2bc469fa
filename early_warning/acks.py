"""Acknowledgements of warnings: validation, de-duplication and reminders (pure rules, no I/O).

An operator of a partner acknowledges a warning that concerns the partner (its own warnings and the
warnings of partners that share with it), optionally with a short comment and the action taken.
A hostile acknowledgement (unknown warning, other partner, forged role, replay, oversize) is refused
with a code of :data:`riverwatch.ack_contract.ACK_REASONS` and changes nothing. A warning at ``min_level``
or above that no partner it concerns acknowledged within ``remind_after_s`` is due a reminder, and
again every ``remind_after_s`` until acknowledged or cleared.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.model import Level, WarningEvent
>>> cat = load_catalog("catalog/demo.toml")
>>> ev = WarningEvent("lacville.gauge-lacville.flood.1", "lacville", "gauge-lacville", "flood",
...                   Level.WATCH, "raised", True, 0, 0, "level_threshold", "water_level", 2.6, 2.5, 1.0)
>>> book = AckBook(cat, remind_after_s=900)
>>> book.observe(ev)
>>> [r.id for r in book.reminders_due(1000.0)]
['lacville.gauge-lacville.flood.1']
>>> ack = book.accept(b'{"by": "anna", "role": "operator"}', "lacville", ev.id, "operator", 1200.0)
>>> ack.partner, ack.after_s, book.reminders_due(5000.0)
('lacville', 1200.0, [])
>>> book.accept(b'{"by": "anna", "role": "operator"}', "lacville", ev.id, "operator", 1300.0)
Traceback (most recent call last):
...
early_warning.acks.AckRefused: ack_replayed
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from riverwatch.catalog import Catalog
from riverwatch.ack_contract import ACK_REASONS, MAX_ACK_BYTES, MAX_ACK_TEXT
from riverwatch.contract import NAME_PATTERN
from riverwatch.model import Level, WarningEvent

_FIELDS = {"by": True, "role": True, "comment": False, "action": False}


class AckRefused(ValueError):
    """An acknowledgement refused; ``reason`` is a key of :data:`ACK_REASONS`."""

    def __init__(self, reason: str) -> None:
        assert reason in ACK_REASONS, reason
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Ack:
    """One accepted acknowledgement; ``after_s`` is the time since the warning was first published."""

    warning_id: str
    partner: str
    by: str
    role: str
    time_s: float
    after_s: float
    comment: str = ""
    action: str = ""


@dataclass
class _Tracked:
    event: WarningEvent
    seen_s: float  # when the warning was first published (worker's clock): acks and reminders count from it
    acked_by: dict[str, Ack] = field(default_factory=dict)
    reminded_s: float | None = None
    reminders: int = 0


def parse_ack(payload: bytes) -> dict[str, str]:
    """The fields of an acknowledgement payload, or :class:`AckRefused` (oversize, JSON, schema).

    >>> parse_ack(b'{"by": "anna", "role": "operator", "comment": "gates closed"}')["comment"]
    'gates closed'
    >>> parse_ack(b'{"by": "anna"}')
    Traceback (most recent call last):
    ...
    early_warning.acks.AckRefused: ack_bad_schema
    """
    if len(payload) > MAX_ACK_BYTES:
        raise AckRefused("ack_oversize")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AckRefused("ack_bad_json") from None
    if not isinstance(doc, dict):
        raise AckRefused("ack_bad_json")
    if set(doc) - set(_FIELDS) or any(need and name not in doc for name, need in _FIELDS.items()):
        raise AckRefused("ack_bad_schema")
    if any(not isinstance(v, str) or len(v) > MAX_ACK_TEXT for v in doc.values()):
        raise AckRefused("ack_bad_schema")
    if not NAME_PATTERN.match(doc["by"]) or not NAME_PATTERN.match(doc["role"]):
        raise AckRefused("ack_bad_schema")
    return doc


class AckBook:
    """Open warnings, who acknowledged them and which reminders are due (see the module docstring)."""

    def __init__(self, catalog: Catalog, remind_after_s: float = 900.0,
                 min_level: Level = Level.WATCH) -> None:
        self.catalog = catalog
        self.remind_after_s = remind_after_s
        self.min_level = min_level
        self._open: dict[str, _Tracked] = {}

    def concerned(self, partner: str, hazard: str | None = None) -> set[str]:
        """The partners a warning of ``partner`` (of ``hazard``) concerns: itself, and those its
        sharing agreements give that hazard's warnings and their acknowledgements
        (:meth:`~riverwatch.catalog.Catalog.sharing_policy`; ``shares_with`` without one)."""
        if partner not in {p.id for p in self.catalog.partners}:
            return {partner}
        readers = set()
        for other in (p.id for p in self.catalog.partners if p.id != partner):
            policy = self.catalog.sharing_policy(partner, other)
            if policy is not None and policy.acks and (hazard is None or policy.covers_hazard(hazard)):
                readers.add(other)
        return {partner, *readers}

    def names_shared(self, partner: str) -> bool:
        """Whether the operators' names in acknowledgements of ``partner``'s warnings may be published:
        only when every partner that reads them agreed to see names (personal data); else role and
        partner only."""
        readers = self.concerned(partner) - {partner}
        return all(self.catalog.sharing_policy(partner, other).operator_names for other in readers)

    def observe(self, event: WarningEvent, t_s: float | None = None) -> None:
        """Follow a warning event published at ``t_s`` (default: its raise time): a clear forgets
        the warning, anything else (re)records it. Times to acknowledge and reminders count from
        the first publication, so a replay of old data does not look hours late."""
        if event.state == "cleared":
            self._open.pop(event.id, None)
        elif event.id in self._open:
            self._open[event.id].event = event
        else:
            self._open[event.id] = _Tracked(event, event.since_ns / 1e9 if t_s is None else t_s)

    def accept(self, payload: bytes, partner: str, warning_id: str, role: str, t_s: float) -> Ack:
        """Validate an acknowledgement of ``warning_id`` sent by ``partner``'s account of ``role``.

        Returns the accepted :class:`Ack`; raises :class:`AckRefused` (nothing changes).
        """
        doc = parse_ack(payload)
        tracked = self._open.get(warning_id)
        if tracked is None:
            raise AckRefused("ack_unknown_warning")
        if partner not in self.concerned(tracked.event.partner, tracked.event.hazard):
            raise AckRefused("ack_other_partner")
        if doc["role"] != role:
            raise AckRefused("ack_forged_role")
        if partner in tracked.acked_by:
            raise AckRefused("ack_replayed")
        ack = Ack(warning_id, partner, doc["by"], role, t_s, t_s - tracked.seen_s,
                  doc.get("comment", ""), doc.get("action", ""))
        tracked.acked_by[partner] = ack
        return ack

    def remember(self, ack: Ack) -> bool:
        """Take back an acknowledgement stored before a restart; False when its warning is not open."""
        tracked = self._open.get(ack.warning_id)
        if tracked is None:
            return False
        tracked.acked_by.setdefault(ack.partner, ack)
        return True

    def acknowledged_by(self, warning_id: str) -> list[str]:
        """The partners that acknowledged open warning ``warning_id`` (empty when none or not open)."""
        tracked = self._open.get(warning_id)
        return sorted(tracked.acked_by) if tracked is not None else []

    def published_s(self, warning_id: str) -> float:
        """When open warning ``warning_id`` was first published (KeyError when not open)."""
        return self._open[warning_id].seen_s

    def event(self, warning_id: str) -> WarningEvent:
        """The latest event of open warning ``warning_id`` (KeyError when not open)."""
        return self._open[warning_id].event

    def reminders_due(self, t_s: float) -> list[WarningEvent]:
        """Warnings at ``min_level`` or above nobody acknowledged for ``remind_after_s``; marks them."""
        due = []
        for tracked in self._open.values():
            ev = tracked.event
            since = tracked.reminded_s if tracked.reminded_s is not None else tracked.seen_s
            if (ev.level >= self.min_level and ev.public and not tracked.acked_by
                    and t_s - since >= self.remind_after_s):
                tracked.reminded_s, tracked.reminders = t_s, tracked.reminders + 1
                due.append(ev)
        return due

    def reminder_count(self) -> int:
        """Reminders announced so far for the warnings still open."""
        return sum(t.reminders for t in self._open.values())
