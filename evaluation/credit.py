"""How a flood warning is credited to a flood: only when it is still open at the crossing, or was
opened at most the lead window before it (or inside the event). An alarm days before a flood, long
cleared, is not that flood's lead time."""

from __future__ import annotations

import math
from typing import Sequence

from evaluation.datasets import Event


def credit_open(events: Sequence[Event], raised: Sequence[float], ends: Sequence[float], lead_window: float
                ) -> tuple[list[float | None], int]:
    """:func:`match_events` for floods: a warning is credited to an event (its lead counted) only when
    it is still open at the event's reference (``raised <= reference <= end``), or was raised at most
    ``lead_window`` before the reference, or inside the event, after the previous event's end.

    A warning raised inside an event's window but not credited (opened long before the crossing and
    cleared before it) is neither a detection nor false. Others are false.

    >>> ev = [Event(1000.0, 2000.0, 1000.0)]
    >>> credit_open(ev, [100.0], [1500.0], lead_window=300.0)    # raised 900 s before, still open
    ([900.0], 0)
    >>> credit_open(ev, [100.0], [200.0], lead_window=300.0)     # long before, long cleared: false
    ([None], 1)
    >>> credit_open(ev, [800.0, 1200.0], [900.0, 1300.0], lead_window=300.0)
    ([200.0], 0)
    """
    order = sorted(range(len(raised)), key=lambda k: raised[k])
    leads: list[float | None] = []
    matched: set[int] = set()
    previous_end = -math.inf
    for ev in sorted(events, key=lambda e: e.start):
        after = [k for k in order if previous_end < raised[k] <= ev.end]
        credited = [k for k in after if raised[k] >= ev.reference - lead_window or ends[k] >= ev.reference]
        matched.update(credited)
        matched.update(k for k in after if raised[k] >= ev.start)
        previous_end = max(previous_end, ev.end)
        leads.append(ev.reference - raised[credited[0]] if credited else None)
    return leads, len(raised) - len(matched)
