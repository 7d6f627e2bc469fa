"""The wire model: what one message becomes once decoded, and the flags it carries.

A message is decoded once into an :class:`Observation` (one station, one timestamp, several
quantities already in canonical units); QC turns each value into a :class:`Reading` with its flag.

Examples
--------
>>> obs = Observation("rivertown", "gauge-1", 1_700_000_000_000_000_000, 7,
...                   (("water_level", 1.25),))
>>> obs.values[0]
('water_level', 1.25)
>>> Reading("rivertown", "gauge-1", "water_level", obs.time_ns, 1.25, 7, QC.PASS).qc.name
'PASS'
>>> Level.WARNING > Level.WATCH
True
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class QC(IntEnum):
    """QARTOD quality flags (UNESCO/IOOS): lower is better, MISSING for absent data."""

    PASS = 1
    NOT_EVALUATED = 2
    SUSPECT = 3
    FAIL = 4
    MISSING = 9


class Level(IntEnum):
    """Warning levels, in order of severity; NONE means no warning is open."""

    NONE = 0
    ADVISORY = 1
    WATCH = 2
    WARNING = 3
    EMERGENCY = 4

    @classmethod
    def parse(cls, name: str) -> "Level":
        """Return the level called ``name`` (case-insensitive).

        >>> Level.parse("watch")
        <Level.WATCH: 2>
        """
        return cls[name.upper()]


LEVEL_NAMES = tuple(level.name.lower() for level in Level if level)


@dataclass(frozen=True, slots=True)
class Observation:
    """One decoded message: a station's values at one instant, in canonical units.

    Parameters
    ----------
    partner, station
        Who sent it (from the topic, checked against the payload).
    time_ns
        UTC timestamp, integer nanoseconds since the epoch (InfluxDB's native precision).
    seq
        The device's sequence number (monotonic per device, used to spot replays).
    values
        ``(quantity, value)`` pairs, values converted to each quantity's canonical unit.
    late
        Older than the station's replay window (a flushed backlog): stored and QC'd, but not fed
        to the detectors or the warning book, whose state must not go back in time.
    """

    partner: str
    station: str
    time_ns: int
    seq: int
    values: tuple[tuple[str, float], ...]
    late: bool = False

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("an observation needs at least one value")

    @property
    def time_s(self) -> float:
        """Timestamp in seconds since the epoch."""
        return self.time_ns / 1e9


@dataclass(frozen=True, slots=True)
class Reading:
    """One quantity of one observation, with its QC flag: what is stored in InfluxDB."""

    partner: str
    station: str
    quantity: str
    time_ns: int
    value: float
    seq: int
    qc: QC = QC.NOT_EVALUATED


#: Warning event states, in the order a warning lives through them.
WARNING_STATES = ("raised", "escalated", "deescalated", "updated", "cleared")
#: The hazards a warning can be of.
HAZARDS = ("flood", "water_quality", "weather", "anomaly", "sensor")


@dataclass(frozen=True, slots=True)
class WarningEvent:
    """One step in a warning's life: raised, escalated, de-escalated, updated or cleared.

    ``id`` is stable for the warning's whole life (it is what CAP ``references`` point at);
    ``public`` is False for a maintenance notice (a sensor problem nobody else confirms).
    Times are integer nanoseconds since the epoch.

    Examples
    --------
    >>> w = WarningEvent(id="rivertown.gauge-1.flood.1", partner="rivertown", station="gauge-1",
    ...                  hazard="flood", level=Level.WATCH, state="raised", public=True,
    ...                  since_ns=1, time_ns=1, detector="level_threshold", quantity="water_level",
    ...                  value=2.6, threshold=2.5, score=1.04)
    >>> w.level.name, w.state
    ('WATCH', 'raised')
    """

    id: str
    partner: str
    station: str
    hazard: str
    level: Level
    state: str
    public: bool
    since_ns: int
    time_ns: int
    detector: str
    quantity: str
    value: float
    threshold: float | None
    score: float
    expected_at_ns: int | None = None
    corroborating: tuple[str, ...] = ()
    message_key: str = ""
    details: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.state not in WARNING_STATES:
            raise ValueError(f"state {self.state!r} is not one of {WARNING_STATES}")
