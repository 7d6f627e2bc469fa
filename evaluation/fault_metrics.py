"""Sensor-fault metrics: are labelled fault runs flagged, and do they leak into public warnings.

:func:`fault_metrics` scores a replay with labelled fault runs (``datasets.FaultRun``): the runs a
``sensor`` stream flagged, the public warnings raised inside them, and false sensor flags per day.

Examples
--------
>>> from evaluation.datasets import FaultRun
>>> m = fault_metrics([FaultRun("turbidity", "A", 0, 0)], {"sensor_fault:turbidity": np.array([1, 0])},
...                   {"sensor_fault:turbidity": "sensor"}, [], np.arange(2) * 3600.0)
>>> m["fault_runs_flagged"], m["fault_recall"], m["false_sensor_flags"]
(1, 1.0, 0)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from early_warning.records import departing
from evaluation.metrics import ratio


def fault_metrics(faults: Sequence, stream_levels: dict, stream_hazards: dict, lifecycle: Sequence,
                  t: np.ndarray, *, after_rows: int = 1, present: dict[str, np.ndarray] | None = None,
                  failed_qc: dict[str, np.ndarray] | None = None) -> dict:
    """Sensor-fault figures of a replay with labelled fault runs (``datasets.FaultRun``).

    A fault run ``[first, last]`` of quantity q is *flagged* when a ``sensor`` stream of q has a level
    above NONE on a row of ``[first, last + after_rows]`` (the spike check reports at the return,
    one reading late), the rows after it stopping before the next fault run of q (whose flags are
    its own). A *public warning in a fault run* is a warning (counted once, by id) with a lifecycle
    event (raised, escalated or updated) that is public, of a hazard other than ``sensor``, at a time
    in that span, driven by q or listing q among its departing quantities: the fault leaked into a
    public warning. Public warnings at that time driven by other quantities are counted apart
    (``public_warnings_during_fault_runs_other``). A *false sensor flag* is a sensor stream's level
    leaving NONE on a row outside every fault run of its quantity (and its ``after_rows``); per day
    over the recording. ``public_warnings_raised`` counts every warning that was public at some
    point (raised public, or made public by a later update). With ``present`` (per quantity, which
    rows hold a value of it), "the rows after" are the next rows *with a value*: after a gap the
    return is the next reading, not an empty row. With ``failed_qc`` (per quantity, the rows whose
    value production's QC fails, so no detector sees it), the runs holding such a value are counted
    apart (``fault_runs_failed_qc``, and ``fault_runs_flagged_or_failed_qc`` with the flagged ones):
    production stores those values flagged FAIL, but that is a rejection, not a sensor warning.

    >>> from evaluation.datasets import FaultRun
    >>> lv = {"sensor_fault:turbidity": np.array([0, 0, 2, 0, 1, 0])}
    >>> m = fault_metrics([FaultRun("turbidity", "A", 1, 1)], lv, {"sensor_fault:turbidity": "sensor"},
    ...                   [], np.arange(6) * 86400.0)
    >>> m["fault_runs_flagged"], m["false_sensor_flags"], m["false_sensor_flags_per_day"]
    (1, 1, 0.2)
    """
    n = len(t)
    sensor = {name: np.asarray(lv) > 0 for name, lv in stream_levels.items() if stream_hazards.get(name) == "sensor"}
    by_quantity: dict[str, list[np.ndarray]] = {}
    for name, active in sensor.items():
        by_quantity.setdefault(name.split(":", 1)[1], []).append(active)
    covered = {q: np.zeros(n, dtype=bool) for q in by_quantity}
    per_type: dict[str, dict[str, int]] = {}
    flagged = rejected = either = 0
    failed_qc = failed_qc or {}
    leaked: set[str] = set()
    other: set[str] = set()
    runs_out = []
    for f in faults:
        lo, hi = f.first, min(_after(f.last, after_rows, (present or {}).get(f.quantity)),
                              _next_run(faults, f) - 1, n - 1)
        hit = any(a[lo:hi + 1].any() for a in by_quantity.get(f.quantity, []))
        if f.quantity in covered:
            covered[f.quantity][lo:hi + 1] = True
        t0, t1 = float(t[lo]), float(t[hi])
        public = [e for e in lifecycle if e.public and e.hazard != "sensor" and e.state != "cleared"
                  and t0 <= e.time_ns / 1e9 <= t1]
        mine = {e.id for e in public if e.quantity == f.quantity or f.quantity in departing(e.details)}
        failed = bool(failed_qc[f.quantity][f.first:f.last + 1].any()) if f.quantity in failed_qc else False
        flagged += hit
        rejected += failed
        either += hit or failed
        leaked |= mine
        other |= {e.id for e in public} - mine
        row = per_type.setdefault(f.kind, {"runs": 0, "flagged": 0})
        row["runs"] += 1
        row["flagged"] += hit
        runs_out.append({"quantity": f.quantity, "type": f.kind, "first": f.first, "last": f.last,
                         "flagged": bool(hit), "failed_qc": failed, "public_warnings": len(mine)})
    false_flags = 0
    for q, actives in by_quantity.items():
        for a in actives:
            starts = np.flatnonzero(a & ~np.r_[False, a[:-1]])
            false_flags += int((~covered[q][starts]).sum())
    days = float(t[-1] - t[0]) / 86400.0 if n > 1 else 0.0
    public_all = {e.id: e.hazard for e in lifecycle if e.public and e.hazard != "sensor"}
    return {"fault_runs": len(faults), "fault_runs_flagged": flagged,
            "fault_recall": ratio(flagged, len(faults)),
            "fault_recall_per_type": {k: {**v, "recall": v["flagged"] / v["runs"]} for k, v in sorted(per_type.items())},
            "public_warnings_in_fault_runs": len(leaked), "public_warnings_during_fault_runs_other": len(other - leaked),
            "public_warnings_raised": len(public_all),
            "public_warnings_by_hazard": {h: sum(1 for v in public_all.values() if v == h)
                                          for h in sorted(set(public_all.values()))},
            "false_sensor_flags": false_flags, "false_sensor_flags_per_day": ratio(false_flags, days),
            "values_failed_qc": int(sum(int(m.sum()) for m in failed_qc.values())),
            "fault_runs_failed_qc": rejected, "fault_runs_flagged_or_failed_qc": either,
            "fault_run_detail": runs_out}


def _after(last: int, rows: int, present: np.ndarray | None) -> int:
    """The row ``rows`` readings after row ``last``: counting only rows with a value when ``present``
    is given (the end of the series when there are not that many).

    >>> _after(2, 1, None), _after(2, 1, np.array([1, 1, 1, 0, 0, 1], bool)), _after(2, 1, np.ones(3, bool))
    (3, 5, 3)
    """
    if present is None or rows <= 0:
        return last + rows
    later = np.flatnonzero(present[last + 1:])
    return last + 1 + int(later[rows - 1]) if len(later) >= rows else last + rows


def _next_run(faults: Sequence, f) -> int:
    """First row of the next fault run of ``f``'s quantity after ``f`` (a large number when none)."""
    return min((g.first for g in faults if g.quantity == f.quantity and g.first > f.last), default=1 << 62)
