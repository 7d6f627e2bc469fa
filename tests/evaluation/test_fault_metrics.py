"""Sensor-fault metrics: fault runs flagged, leaks into public warnings, false sensor flags."""

import numpy as np

from evaluation.datasets import FaultRun
from evaluation.fault_metrics import fault_metrics
from riverwatch.model import Level, WarningEvent


def test_fault_metrics_flags_leaks_and_false_flags():
    t = np.arange(10) * 3600.0
    levels = {"sensor_fault:turbidity": np.array([0, 0, 0, 2, 0, 0, 0, 0, 0, 1])}
    hazards = {"sensor_fault:turbidity": "sensor", "quality_residual:None": "water_quality"}
    leak = WarningEvent(id="w", partner="p", station="s", hazard="water_quality", level=Level.ADVISORY,
                        state="raised", public=True, since_ns=0, time_ns=int(5 * 3600e9), detector="quality_residual",
                        quantity="conductivity", value=1.0, threshold=None, score=9.0,
                        details=(("quantities", "conductivity,turbidity"),))
    faults = [FaultRun("turbidity", "A", 2, 2), FaultRun("turbidity", "E", 5, 6)]
    m = fault_metrics(faults, levels, hazards, [leak], t)
    assert (m["fault_runs"], m["fault_runs_flagged"], m["fault_recall"]) == (2, 1, 0.5)
    assert m["public_warnings_in_fault_runs"] == 1 and m["false_sensor_flags"] == 1
    assert m["fault_recall_per_type"]["A"]["recall"] == 1.0


def _event(wid, state, hour, *, public=True, quantity="turbidity", hazard="water_quality"):
    return WarningEvent(id=wid, partner="p", station="s", hazard=hazard, level=Level.ADVISORY, state=state,
                        public=public, since_ns=0, time_ns=int(hour * 3600e9), detector="quality_residual",
                        quantity=quantity, value=1.0, threshold=None, score=9.0)


def test_fault_metrics_count_distinct_public_warnings():
    """One warning raised then updated inside two fault runs is one public warning, not four."""
    t = np.arange(10) * 3600.0
    levels = {"sensor_fault:turbidity": np.zeros(10, dtype=int)}
    faults = [FaultRun("turbidity", "A", 2, 4), FaultRun("turbidity", "E", 3, 6)]
    events = [_event("w", "raised", 3), _event("w", "updated", 4)]
    m = fault_metrics(faults, levels, {"sensor_fault:turbidity": "sensor"}, events, t)
    assert m["public_warnings_in_fault_runs"] == 1
    assert m["public_warnings_during_fault_runs_other"] == 0


def test_fault_metrics_the_row_after_belongs_to_the_next_run():
    """A flag on the first row of the next fault run is that run's, not the one before."""
    t = np.arange(10) * 3600.0
    levels = {"sensor_fault:turbidity": np.array([0, 0, 0, 0, 1, 0, 0, 0, 0, 0])}
    faults = [FaultRun("turbidity", "A", 2, 3), FaultRun("turbidity", "E", 4, 5)]
    m = fault_metrics(faults, levels, {"sensor_fault:turbidity": "sensor"}, [], t)
    assert [r["flagged"] for r in m["fault_run_detail"]] == [False, True]
    alone = fault_metrics(faults[:1], levels, {"sensor_fault:turbidity": "sensor"}, [], t)
    assert alone["fault_run_detail"][0]["flagged"]          # with no next run, the late report still counts


def test_public_warnings_raised_includes_those_made_public_by_an_update():
    events = [_event("held", "raised", 1, public=False), _event("held", "updated", 2), _event("pub", "raised", 3),
              _event("note", "raised", 4, public=False)]
    m = fault_metrics([], {}, {}, events, np.arange(10) * 3600.0)
    assert m["public_warnings_raised"] == 2 and m["public_warnings_by_hazard"] == {"water_quality": 2}


def test_a_spike_before_a_gap_is_credited_at_the_next_reading_with_a_value():
    """The spike check reports at the return; when the row after the spike is empty (a gap in the
    record), the return is the next row that holds a value, and the flag there is the spike's."""
    levels = {"sensor_fault:turbidity": np.array([0, 0, 0, 0, 2, 0])}  # flagged at row 4
    present = {"turbidity": np.array([1, 1, 1, 0, 1, 1], bool)}      # row 3 is empty
    run = [FaultRun("turbidity", "Large spike", 2, 2)]
    t = np.arange(6) * 900.0
    hazards = {"sensor_fault:turbidity": "sensor"}
    assert fault_metrics(run, levels, hazards, [], t)["fault_runs_flagged"] == 0  # the old rule: row 3 only
    m = fault_metrics(run, levels, hazards, [], t, present=present)
    assert (m["fault_runs_flagged"], m["false_sensor_flags"]) == (1, 0)


def test_runs_holding_a_value_qc_fails_are_counted_apart_from_the_flagged_ones():
    t = np.arange(8) * 3600.0
    levels = {"sensor_fault:turbidity": np.array([0, 1, 0, 0, 0, 0, 0, 0])}
    faults = [FaultRun("turbidity", "A", 1, 1), FaultRun("turbidity", "B", 4, 5), FaultRun("turbidity", "C", 7, 7)]
    failed = {"turbidity": np.array([0, 1, 0, 0, 0, 1, 0, 0], dtype=bool)}
    m = fault_metrics(faults, levels, {"sensor_fault:turbidity": "sensor"}, [], t, failed_qc=failed)
    assert (m["fault_runs_flagged"], m["fault_runs_failed_qc"], m["fault_runs_flagged_or_failed_qc"]) == (1, 2, 2)
    assert m["values_failed_qc"] == 2 and [r["failed_qc"] for r in m["fault_run_detail"]] == [True, True, False]
