"""``evaluate --cv`` and ``riverwatch tune``: synthetic data always, the shared data when present."""

import json

import numpy as np
import pytest

from application.cli import main
from evaluation.cv import cross_validate, ranked
from evaluation.datasets import Event, Series, synthetic_station
from evaluation.scorers import scorer_for
from evaluation.search import candidates
from riverwatch.errors import ConfigError


def spiky(name, at, n=1200):
    t = 300.0 * np.arange(n)
    v = np.sin(np.arange(n) / 9.0)
    v[at] = 9.0
    st = synthetic_station(name, ["water_level"], plausible=False)
    return Series(name, name, st, t, {"water_level": v}, (Event(t[at], t[at + 5], t[at]),))


def test_the_choice_is_made_on_the_training_folds_only():
    """Each fold's candidate is the best on the other folds, whatever it scores on the held-out one."""
    from evaluation.folds import training

    cands = candidates(["adaptive_anomaly"], ["threshold=0.5,0.99", "hold=20,100"], ["probation=300"])
    series = [spiky("a", 900), spiky("b", 1000), spiky("c", 1100)]
    scorer = scorer_for("csv", lead_window=0.0)
    res = cross_validate(series, ["adaptive_anomaly"], cands, "csv", scorer)
    assert len(res.folds) == 3 and len(res.per_candidate) == 4
    folds = [f.fold for f in res.folds]
    for k, f in enumerate(res.folds):
        on_training = {c.number: scorer.measure([(res.replays[c.number][p.index], p) for p in training(folds, k)])[0]
                       for c in cands}
        assert f.chosen.number == max(cands, key=lambda c: ranked(scorer, c, on_training[c.number])).number
        assert f.training == on_training[f.chosen.number]
        assert f.training["events"] == 2 and f.held_out["events"] == 1
    assert res.pooled["events"] == 3


def test_of_candidates_that_score_the_same_the_one_nearest_the_defaults_is_chosen():
    # hold 200 and 100 (the default) make the same warnings here; before, the first listed won the tie
    cands = candidates(["adaptive_anomaly"], ["hold=200,100"], ["probation=300"])
    series = [spiky("a", 900), spiky("b", 1000), spiky("c", 1100)]
    res = cross_validate(series, ["adaptive_anomaly"], cands, "csv", scorer_for("csv", lead_window=0.0))
    assert res.per_candidate[0] == res.per_candidate[1]                 # a tie on every fold
    assert [f.chosen.label for f in res.folds] == ["hold=100"] * 3
    assert res.best.label == "hold=100" and [c.changes for c in cands] == [2, 1]


def test_usgs_cap_and_objective_order():
    s = scorer_for("usgs", lead_window=86400.0, cap=0.15)
    fine = {"false_per_day": 0.1, "recall": 0.9, "lead_median_minutes": 10.0}
    earlier = {**fine, "lead_median_minutes": 60.0}
    assert s.key(earlier) > s.key(fine)
    assert s.key({**fine, "false_per_day": 0.2, "recall": 1.0}) < s.key(fine)
    q = scorer_for("qld", lead_window=0.0, cap=0.05)
    assert q.key({"false_per_day": 0.01, "fault_recall": 0.5}) > q.key({"false_per_day": 0.3, "fault_recall": 1.0})


def test_gecco_objective_is_the_utility_targets_in_order():
    """Within the false-warning budget first; then F1 worth warning with; then warned in time; then F1."""
    from evaluation.cv import objective_text

    g = scorer_for("gecco", lead_window=1800.0, cap=0.3)
    late = {"false_per_day": 0.10, "f1": 0.90, "lead_median_minutes": -1.0}     # best F1, one minute late
    prompt = {"false_per_day": 0.25, "f1": 0.80, "lead_median_minutes": 0.0}    # in time, within budget
    early = {**prompt, "f1": 0.70, "lead_median_minutes": 3.0}                 # in time, lower F1
    noisy = {"false_per_day": 0.40, "f1": 0.95, "lead_median_minutes": 5.0}    # over budget
    noisier = {**noisy, "false_per_day": 0.90}
    weak = {"false_per_day": 0.05, "f1": 0.50, "lead_median_minutes": 10.0}    # in time, F1 below 0.6
    silent = {"false_per_day": None, "f1": None, "lead_median_minutes": None}  # warned nothing
    ranked = sorted([noisier, weak, late, early, noisy, prompt, silent], key=g.key, reverse=True)
    assert ranked == [prompt, early, late, weak, silent, noisy, noisier]
    # csv keeps its F1 objective; usgs its own
    assert scorer_for("csv", lead_window=0.0).key(late) > scorer_for("csv", lead_window=0.0).key(prompt)
    text = objective_text("gecco", 0.3)
    assert "<= 0.3" in text and "F1 >= 0.6" in text and "lead >= 0" in text
    assert objective_text("csv", None) == "event F1, then fewer false warnings/day"


def test_gecco_budget_defaults_to_the_target():
    from evaluation.search import DEFAULT_CAPS

    assert DEFAULT_CAPS["gecco"] == 0.3


def write_series(folder, offsets):
    folder.mkdir()
    for k, at in enumerate(offsets):
        lines = ["timestamp,value,label"]
        for i in range(1200):
            v = np.sin(i / 9.0) + (9.0 if i == at else 0.0)
            stamp = str(np.datetime64("2021-01-01T00:00") + np.timedelta64(5 * i, "m")).replace("T", " ")
            lines.append(f"{stamp},{v:.4f},{int(at <= i < at + 5)}")
        (folder / f"s{k}.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_evaluate_cv_writes_the_cv_section_and_plot(tmp_path, capsys):
    folder = write_series(tmp_path / "d", [900, 1000])
    assert main(["evaluate", str(folder), "--format", "csv", "--cv", "--out", str(tmp_path / "o"), "--no-progress",
                 "--param", "probation=300", "--grid", "adaptive_anomaly.threshold=0.5,0.99"]) == 0
    out = capsys.readouterr().out
    cv = json.loads((tmp_path / "o" / "summary.json").read_text())["cv"]
    assert cv["folds_by"] == "file" and [f["fold"] for f in cv["folds"]] == ["s0", "s1"]
    assert {"pooled_held_out", "in_sample", "gap", "candidates"} <= cv.keys()
    assert cv["pooled_held_out"]["f1"] == 1.0 and cv["gap"] == 0.0
    assert (tmp_path / "o" / cv["plot"]).stat().st_size > 0
    assert "pooled held-out:" in out and "gap" in out


def test_tune_writes_a_fragment_settings_load(tmp_path, capsys):
    from riverwatch.settings import Settings

    folder = write_series(tmp_path / "d", [900, 1000])
    assert main(["tune", str(folder), "--format", "csv", "--out", str(tmp_path / "o"), "--no-progress",
                 "--param", "probation=300", "--grid", "adaptive_anomaly.threshold=0.5,0.99",
                 "--grid", "adaptive_anomaly.hold=50,100", "--random", "3", "--seed", "1", "--pick", "1"]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "o" / "tune.json").read_text())
    assert len(report["points"]) == 3 and report["picked"] == 1 and report["pareto_front"]
    settings = Settings.load(tmp_path / "o" / "chosen.toml")
    assert settings.ingest.detector_params["adaptive_anomaly"] == report["points"][1]["params"]["adaptive_anomaly"]
    assert (tmp_path / "o" / "tradeoff.png").stat().st_size > 0
    assert ">" in out and "Pareto" in out


def test_tune_pick_must_be_a_point(tmp_path, capsys):
    folder = write_series(tmp_path / "d", [900, 1000])
    assert main(["tune", str(folder), "--format", "csv", "--out", str(tmp_path / "o"), "--no-progress",
                 "--grid", "adaptive_anomaly.threshold=0.5", "--pick", "7"]) == 2
    assert "--pick" in capsys.readouterr().err


def test_a_bad_grid_is_a_config_error():
    with pytest.raises(ConfigError, match="--grid"):
        candidates(["adaptive_anomaly"], ["adaptive_anomaly.hold"])


def test_nab_cv_on_two_categories(data_dir, tmp_path, capsys):
    if not (data_dir / "nab").is_dir():
        pytest.skip("no NAB data")
    assert main(["evaluate", str(data_dir / "nab"), "--format", "nab", "--categories", "realAdExchange,realTraffic",
                 "--detector", "adaptive_anomaly", "--cv", "--grid", "adaptive_anomaly.hold=50,100", "--out", str(tmp_path), "--no-progress"]) == 0
    cv = json.loads((tmp_path / "summary.json").read_text())["cv"]
    assert [f["fold"] for f in cv["folds"]] == ["realAdExchange", "realTraffic"]
    assert all(f["held_out"]["threshold"] == f["training"]["threshold"] for f in cv["folds"])
    assert 0 <= cv["pooled_held_out"]["score"] <= 100
