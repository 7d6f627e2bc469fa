"""Per-row and warning files of ``riverwatch evaluate``, and what the replay plot draws."""

import csv

import numpy as np

from evaluation import plots
from evaluation.datasets import FaultRun, Series, synthetic_station
from evaluation.replay import RaisedWarning, ReplayResult
from evaluation.report import row_levels, write_results
from riverwatch.model import Level, WarningEvent


def result(n=6, **extra):
    st = synthetic_station("s", ["water_level", "turbidity"])
    s = Series("s.csv", "c", st, 3600.0 * np.arange(n), {"water_level": np.zeros(n), "turbidity": np.ones(n)},
               meta=extra.pop("meta", {}))
    levels = {"rate_of_rise:turbidity": np.array([0, 2, 2, 0, 0, 0], dtype=np.int8),
              "sensor_fault:water_level": np.array([0, 0, 0, 3, 0, 0], dtype=np.int8)}
    hazards = {"rate_of_rise:turbidity": "water_quality", "sensor_fault:water_level": "sensor"}
    warning = RaisedWarning(1, 3600.0, "flood", "rate_of_rise", "turbidity", 2, 0.9, 1.0, 2, 7200.0)
    return ReplayResult(s, np.zeros(n), np.array([0, 2, 2, 3, 0, 0], dtype=np.int8), {}, (warning,), 0.1,
                        extra.pop("lifecycle", ()), levels, hazards)


def test_rate_of_rise_on_turbidity_is_labelled_as_the_lifecycle_publishes_it(tmp_path):
    write_results([result()], tmp_path, "qld")
    rows = list(csv.DictReader(open(tmp_path / "c" / "s_warnings.csv")))
    assert [r["hazard"] for r in rows] == ["water_quality"]


def test_sensor_and_hazard_levels_are_separate_columns_with_the_public_level():
    public = WarningEvent(id="w", partner="replay", station="s", hazard="water_quality", level=Level.WATCH,
                          state="raised", public=True, since_ns=0, time_ns=int(3600e9), detector="rate_of_rise",
                          quantity="turbidity", value=1.0, threshold=None, score=0.9)
    cleared = WarningEvent(**{**{f: getattr(public, f) for f in public.__dataclass_fields__},
                              "state": "cleared", "level": Level.NONE, "time_ns": int(3 * 3600e9)})
    lv = row_levels(result(lifecycle=(public, cleared)))
    assert lv["hazard_level"].tolist() == [0, 2, 2, 0, 0, 0]
    assert lv["sensor_level"].tolist() == [0, 0, 0, 3, 0, 0]
    assert lv["public_level"].tolist() == [0, 2, 2, 0, 0, 0]


def test_the_row_file_has_the_three_level_columns(tmp_path):
    write_results([result()], tmp_path, "qld")
    header, second = (tmp_path / "c" / "s.csv").read_text().splitlines()[:3:2]
    assert header.endswith("anomaly_score,hazard_level,sensor_level,public_level,label")
    assert second.endswith(",2,0,,0")          # hazard 2, no sensor flag, no lifecycle: public unknown


def test_the_replay_plot_draws_every_quantity_and_the_fault_runs(tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path, dpi, **kw: drawn.setdefault("fig", fig) and path)
    n = 6
    st = synthetic_station("wq", ["turbidity"])
    cols = {f"q{k}": np.zeros(n) for k in range(8)} | {"turbidity": np.ones(n)}
    s = Series("wq.csv", "c", st, 3600.0 * np.arange(n), cols, meta={"faults": (FaultRun("turbidity", "A", 1, 2),)})
    r = ReplayResult(s, np.zeros(n), np.zeros(n, dtype=np.int8), {}, (), 0.0)
    plots.plot_replay(r, tmp_path / "p.png")
    axes = drawn["fig"].axes
    assert [ax.get_ylabel() for ax in axes[:-1]] == list(cols)            # nine quantities, turbidity included
    assert len(axes[-2].patches) == 1 and all(not ax.patches for ax in axes[:-2])   # the fault run, on turbidity


def test_a_sensor_flag_says_which_fault_in_the_warnings_file(tmp_path):
    # engineers tuning the sensor checks read what each flag was (before: detector and score only)
    from evaluation.replay import replay
    n = 200
    rng = np.random.default_rng(4)
    turbidity = 50.0 + rng.normal(0, 0.5, n)
    turbidity[120] = 90.0                                   # one reading out and straight back
    st = synthetic_station("sonde", ["turbidity"])
    r = replay(Series("sonde.csv", "c", st, 1800.0 * np.arange(n), {"turbidity": turbidity}), ["sensor_fault"])
    write_results([r], tmp_path, "qld")
    rows = list(csv.DictReader(open(tmp_path / "c" / "sonde_warnings.csv")))
    assert [(row["hazard"], row["fault"]) for row in rows] == [("sensor", "spike")]
