"""The shared vocabulary of the data set loaders."""

from __future__ import annotations

from evaluation.series import runs


def test_runs():
    assert runs([1, 1, 0, 0, 1, 1]) == [(0, 1), (4, 5)]
    assert runs([]) == []


def test_thinned_keeps_the_first_reading_of_each_interval_and_the_events_times():
    import numpy as np

    from evaluation.series import Event, FaultRun, Series, synthetic_station, thinned

    t = np.array([0.0, 900.0, 1800.0, 2700.0, 3500.0, 3700.0, 7300.0])     # irregular at the end
    s = Series("s", "c", synthetic_station("s", ["water_level"]), t, {"water_level": np.arange(7.0)},
               (Event(900.0, 1800.0, 900.0),),
               meta={"faults": (FaultRun("water_level", "A", 1, 2), FaultRun("water_level", "B", 4, 6)),
                     "labels": np.array([0, 1, 1, 0, 0, 0, 1], dtype=bool), "event": "flood"})
    out = thinned(s, 3600.0)
    assert out.t.tolist() == [0.0, 3700.0, 7300.0]
    assert out.columns["water_level"].tolist() == [0.0, 5.0, 6.0]
    assert out.events == s.events                                  # lead from the recorded crossing
    assert out.meta["faults"] == (FaultRun("water_level", "B", 1, 2),)   # run A had no reading kept
    assert out.meta["labels"].tolist() == [False, False, True] and out.meta["event"] == "flood"
    assert thinned(s, 180.0).t.tolist() == t.tolist()
