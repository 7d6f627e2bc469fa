"""The timeline of an incident: what the review reads from storage, as plain values.

A :class:`Timeline` is built by :mod:`application.review.query` from InfluxDB (or by hand in tests)
and is all that :mod:`application.review.indicators` and :mod:`application.review.render` see.

Row kinds, in the order a reader meets them:

``first_abnormal``  the first reading of a station that QC flagged, that lay beyond its lowest
                    threshold, or that a detector scored at a warning level
``crossing``        the first reading at or above one threshold level of a station's quantity
``peak``            the highest reading of a quantity that crossed a threshold
``warning``         one event of a warning's life (raised, escalated, deescalated, updated, cleared)
``received``        a warning reached a partner across a border (shared by its owner, or raised
                    downstream by propagation from an upstream partner's warning)
``ack``             an acknowledgement (``by``, ``after_s``, comment and action in ``detail``)
``reminder``        an unacknowledged warning re-announced

Examples
--------
>>> row = Row(time_ns=60 * 10**9, kind="crossing", partner="p", station="g", quantity="water_level",
...           level="watch", value=2.6, threshold=2.5)
>>> row.time_s, row.key
(60.0, ('p', 'g'))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NS = 1_000_000_000

#: Row kinds (see the module docstring), in display order for rows at one instant.
KINDS = ("first_abnormal", "crossing", "peak", "warning", "received", "reminder", "ack")


@dataclass(frozen=True)
class Row:
    """One line of the timeline; ``detail`` holds what only some kinds have (evidence, comment)."""

    time_ns: int
    kind: str
    partner: str
    station: str
    hazard: str = ""
    quantity: str = ""
    level: str = ""
    value: float | None = None
    threshold: float | None = None
    id: str = ""
    state: str = ""
    by: str = ""
    public: bool = True
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"timeline row kind {self.kind!r} is not one of {KINDS}")

    @property
    def time_s(self) -> float:
        """The row's time in seconds since the epoch."""
        return self.time_ns / NS

    @property
    def key(self) -> tuple[str, str]:
        """``(partner, station)``."""
        return self.partner, self.station


@dataclass(frozen=True)
class StationData:
    """What a station delivered during the review window (for data availability and faults).

    ``messages`` are the distinct reading times (ns); ``values`` counts stored values, ``suspect``
    and ``failed`` those QC flagged 3 and 4.
    """

    partner: str
    station: str
    name: str
    messages: tuple[int, ...] = ()
    values: int = 0
    suspect: int = 0
    failed: int = 0


@dataclass
class Timeline:
    """An incident between ``from_ns`` and ``to_ns``: rows plus what the indicators need besides.

    Parameters
    ----------
    rows
        The timeline rows, sorted by time.
    stations
        Per ``(partner, station)``: what it delivered (:class:`StationData`).
    series
        Per ``(partner, station, quantity)`` with thresholds: ``(time_ns, value)`` for the plots.
    thresholds
        Per ``(partner, station, quantity)``: ``{level name: threshold}``.
    below
        The ``(partner, station, quantity)`` whose danger lies below the thresholds (dissolved oxygen).
    shares
        Per partner: the partners it shares its warnings with.
    rejects
        Rejected messages in the window by reason.
    write_lags
        The workers' ``write_lag_s`` samples in the window (``pipeline`` points).
    """

    from_ns: int
    to_ns: int
    rows: list[Row] = field(default_factory=list)
    stations: dict[tuple[str, str], StationData] = field(default_factory=dict)
    series: dict[tuple[str, str, str], list[tuple[int, float]]] = field(default_factory=dict)
    thresholds: dict[tuple[str, str, str], dict[str, float]] = field(default_factory=dict)
    below: set[tuple[str, str, str]] = field(default_factory=set)
    shares: dict[str, list[str]] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    write_lags: list[float] = field(default_factory=list)

    def of(self, *kinds: str) -> list[Row]:
        """The rows of the given kinds, in time order."""
        return [row for row in self.rows if row.kind in kinds]

    def sort(self) -> Timeline:
        """Sort the rows by time, then kind order (in place); returns self."""
        self.rows.sort(key=lambda r: (r.time_ns, KINDS.index(r.kind), r.partner, r.station, r.id))
        return self

    def concerns(self, partner: str) -> set[str]:
        """The partners whose warnings concern ``partner``: itself and those sharing with it.

        >>> Timeline(0, 1, shares={"a": ["b"], "b": []}).concerns("b") == {"a", "b"}
        True
        """
        return {partner} | {owner for owner, readers in self.shares.items() if partner in readers}
