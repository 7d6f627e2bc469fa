"""Candidate grids: the default grid of each format and detector."""

import json

from application.cli import main
from evaluation.search import DEFAULT_GRIDS, grid_for

HEADER = "Time,Tp,Cl,pH,Redox,Leit,Trueb,Cl_2,Fm,Fm_2,EVENT"


def write_gecco(path, day, event_at, n=400):
    """A small synthetic GECCO file: steady water, then pH and redox stepping at ``event_at``."""
    rows = [HEADER]
    for i in range(n):
        on = event_at <= i < event_at + 20
        ph, redox = (8.6, 730) if on else (8.38 + 0.01 * (i % 2), 755 + i % 3)
        rows.append(f"2016-02-{day:02d} {i // 60:02d}:{i % 60:02d}:00,4.4,0.14,{ph:.2f},{redox},232,0.009,0.110,"
                    f"1428,1020,{on}")
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_evaluate_cv_of_one_detector_uses_that_detectors_default_grid(tmp_path, capsys):
    # the defect: the format's default grid named water_quality_event too, so
    # ``evaluate --cv --detector quality_residual`` stopped unless --grid was given
    files = [write_gecco(tmp_path / "a.csv", 15, 300), write_gecco(tmp_path / "b.csv", 16, 320)]
    assert main(["evaluate", *files, "--format", "gecco", "--detector", "quality_residual", "--cv",
                 "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    cv = json.loads((tmp_path / "o" / "summary.json").read_text())["cv"]
    labels = [c["label"] for c in cv["candidates"]]
    assert len(labels) == 18 and labels[0] == "levels=[6,12,24,48] agree_quantities=0 quick_ratio=0"
    assert labels[-1] == "levels=[12,24,48,96] agree_quantities=3 quick_ratio=3"
    assert cv["cap"] == 0.3 and "lead >= 0" in cv["objective"]
    assert cv["pooled_held_out"]["events"] == 2
    assert "pooled held-out:" in capsys.readouterr().out


def test_every_default_grid_names_a_registered_detector_and_parameter():
    from detectors import registry

    specs = registry()
    for fmt, grids in DEFAULT_GRIDS.items():
        for name, axes in grids.items():
            fields = specs[name].params.model_fields
            assert all(axis.split("=", 1)[0] in fields for axis in axes), (fmt, name)
        assert grid_for(fmt, [], list(grids)) == [f"{n}.{a}" for n, axes in grids.items() for a in axes]
