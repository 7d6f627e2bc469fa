"""What the InfluxDB sink records of a line InfluxDB refused: a ``storage_refused`` reject.

A refused line is dropped (never retried, never counted as stored); its reject record says which
station's topic it came from and InfluxDB's reason, so that the counters and the ``reject``
measurement say exactly what happened.
"""

from __future__ import annotations

from riverwatch import storage
from riverwatch.contract import data_topic

READING_PREFIX = storage.READING + ","


def refusal_line(text: str, reason: str, time_ns: int) -> str:
    """The ``storage_refused`` reject of a line InfluxDB refused (partner and topic from its tags).

    >>> refusal_line("reading,partner=p,station=s,quantity=q value=1i 5", "field type conflict", 9)
    'reject,reason=storage_refused,partner=p count=1i,detail="field type conflict: reading,partner=p,station=s,quantity=q value=1i 5",topic="rw/v1/p/s/data" 9'
    """
    head = text.split(" ", 1)[0]
    tags = dict(pair.split("=", 1) for pair in head.split(",")[1:] if "=" in pair)
    partner, station = tags.get("partner"), tags.get("station")
    topic = data_topic(partner, station) if partner and station else ""
    return storage.reject_line("storage_refused", partner, f"{reason[:200]}: {text}", topic, time_ns)
