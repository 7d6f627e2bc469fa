"""The exercise part of the wire contract: where a joint drill's readings and warnings travel.

A drill (``riverwatch drill``) publishes a scenario's readings under the exercise root,
``rw/v1/_exercise/<drill-id>/<partner>/<station>/data``: seven topic levels, so no subscription
of the real contract (``rw/v1/+/+/data``, ``rw/v1/+/+/warning/#`` …) ever matches them. The worker
handles them in a lane of their own and publishes the drill's warnings, rejects and CAP messages
under the same root. In InfluxDB they go to measurements of their own (``exercise_<name>``, tagged
``drill``): every real query names its measurement, so none can read an exercise by mistake, and
``DROP MEASUREMENT`` removes a drill whole.

>>> t = exercise_topic("d1", "rw/v1/rivertown/gauge-hochtal/data")
>>> t
'rw/v1/_exercise/d1/rivertown/gauge-hochtal/data'
>>> parse_exercise_topic(t)
('d1', 'rw/v1/rivertown/gauge-hochtal/data')
>>> exercise_line('warning,partner=a,station=s level=2i 7', "d1")
'exercise_warning,drill=d1,partner=a,station=s level=2i 7'
"""

from __future__ import annotations

import argparse

from riverwatch.contract import NAME_PATTERN, ROOT

EXERCISE_ROOT = f"{ROOT}/_exercise"
#: What a worker subscribes to for drills (every drill, partner and station).
EXERCISE_SUBSCRIPTION = f"{EXERCISE_ROOT}/+/+/+/data"
#: Prefix of exercise measurements in InfluxDB.
EXERCISE_MEASUREMENT_PREFIX = "exercise_"
_PREFIX = f"{EXERCISE_ROOT}/"
_REAL_PREFIX = f"{ROOT}/"


def drill_id(text: str) -> str:
    """A drill id: a name of the contract (it is a topic level and a tag value); the ``type`` of
    the CLIs' drill options, so a bad one is refused with this message.

    >>> drill_id("flood-2027-03")
    'flood-2027-03'
    """
    if not NAME_PATTERN.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a drill id ([A-Za-z0-9][A-Za-z0-9_.-]*)")
    return text


def is_exercise_topic(topic: str) -> bool:
    """True for any topic under the exercise root."""
    return topic.startswith(_PREFIX)


def exercise_topic(drill: str, topic: str) -> str:
    """The exercise twin of a real topic of the contract, for drill ``drill``."""
    if not topic.startswith(_REAL_PREFIX):
        raise ValueError(f"not a topic of the contract: {topic!r}")
    return f"{_PREFIX}{drill}/{topic[len(_REAL_PREFIX):]}"


def station_exercise_topic(drill: str, partner: str, station: str) -> str:
    """Where drill ``drill`` publishes a station's readings."""
    return f"{_PREFIX}{drill}/{partner}/{station}/data"


def parse_exercise_topic(topic: str) -> tuple[str, str] | None:
    """``(drill, real topic)`` of an exercise topic, or None (not one, or a bad drill id)."""
    if not topic.startswith(_PREFIX):
        return None
    drill, _, rest = topic[len(_PREFIX):].partition("/")
    if not rest or not NAME_PATTERN.match(drill):
        return None
    return drill, f"{_REAL_PREFIX}{rest}"


def exercise_line(line: str, drill: str) -> str:
    """A line of line protocol moved to its exercise measurement and tagged with the drill."""
    cut = min((i for i in (line.find(","), line.find(" ")) if i >= 0), default=len(line))
    return f"{EXERCISE_MEASUREMENT_PREFIX}{line[:cut]},drill={drill}{line[cut:]}"
