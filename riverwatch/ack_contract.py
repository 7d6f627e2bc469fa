"""The acknowledgement part of the wire contract: topics, limits and refusal codes.

An operator acknowledges a warning on ``rw/v1/<partner>/ack/<warning-id>`` (or over HTTP); accepted
acknowledgements and reminders go out on ``…/warning/<hazard>/ack``. See docs/mqtt-contract.md.
"""

from __future__ import annotations

import re

from riverwatch.contract import NAME_PATTERN, ROOT, warning_topic

#: An acknowledgement payload larger than this (bytes) is refused as ``ack_oversize``.
MAX_ACK_BYTES = 2048
#: Longest comment and action taken in an acknowledgement, characters.
MAX_ACK_TEXT = 500
#: Refusal codes of acknowledgements (``rw/v1/<partner>/ack/<warning-id>``, HTTP ack).
ACK_REASONS: dict[str, str] = {
    "ack_topic_invalid": "the topic does not follow rw/v1/<partner>/ack/<warning-id>",
    "ack_oversize": "the acknowledgement is larger than the allowed maximum",
    "ack_bad_json": "the acknowledgement is not a UTF-8 JSON object",
    "ack_bad_schema": "the acknowledgement has unknown fields or fields of the wrong type or length",
    "ack_unknown_warning": "no open warning has this id",
    "ack_other_partner": "the warning does not concern the acknowledging partner",
    "ack_forged_role": "the role in the acknowledgement is not the sender's role",
    "ack_replayed": "this partner already acknowledged this warning",
}

_WARNING_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


def warning_ack_topic(partner: str, station: str, hazard: str) -> str:
    """Where accepted acknowledgements and reminders of a warning are published (not retained,
    beside the retained warning JSON they must not replace)."""
    return f"{warning_topic(partner, station, hazard)}/ack"


ACK_SUBSCRIPTION = f"{ROOT}/+/ack/+"


def ack_topic(partner: str, warning_id: str) -> str:
    """Topic where an operator of ``partner`` acknowledges warning ``warning_id``.

    >>> ack_topic("lacville", "rivertown.gauge-hochtal.flood.1")
    'rw/v1/lacville/ack/rivertown.gauge-hochtal.flood.1'
    >>> parse_ack_topic(ack_topic("lacville", "rivertown.gauge-hochtal.flood.1"))
    ('lacville', 'rivertown.gauge-hochtal.flood.1')
    """
    return f"{ROOT}/{partner}/ack/{warning_id}"


def parse_ack_topic(topic: str) -> tuple[str, str] | None:
    """``(partner, warning_id)`` of an ack topic, or None when it is not one."""
    parts = topic.split("/")
    if (len(parts) != 5 or "/".join(parts[:2]) != ROOT or parts[3] != "ack"
            or not NAME_PATTERN.match(parts[2]) or not _WARNING_ID.match(parts[4])):
        return None
    return parts[2], parts[4]


def is_ack_topic(topic: str) -> bool:
    """True for any topic on an acknowledgement level (``rw/v1/<x>/ack/<y>``, valid or not).

    >>> is_ack_topic("rw/v1/lacville/ack/anything"), is_ack_topic("rw/v1/lacville/gauge-lacville/data")
    (True, False)
    """
    parts = topic.split("/")
    return len(parts) == 5 and parts[3] == "ack"


def warning_station(topic: str) -> tuple[str, str] | None:
    """``(partner, station)`` of the warning an ack topic names (ids are ``partner.station.hazard.n``).

    >>> warning_station("rw/v1/lacville/ack/rivertown.gauge-hochtal.flood.1")
    ('rivertown', 'gauge-hochtal')
    """
    parsed = parse_ack_topic(topic)
    parts = parsed[1].split(".") if parsed else []
    return (parts[0], parts[1]) if len(parts) >= 2 else None
