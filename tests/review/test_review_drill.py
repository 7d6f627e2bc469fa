"""``riverwatch review --drill``: a drill's review reads its exercise records only, and the real
review of the same window sees none of the drill."""

from __future__ import annotations

import json

from riverwatch.catalog import load_catalog
from riverwatch.settings import REPO_ROOT

from tests.ingest.test_exercise import DRILL, T0, run_flood

from application.review.cli import write_review

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")


def test_a_drills_review_holds_its_exercise_warnings_and_the_real_one_none(services, influx, tmp_path):
    run_flood(services, influx, tmp_path / "run", with_drill=True)
    window = (int((T0 - 3600) * 1e9), int((T0 + 6 * 3600) * 1e9))
    real = write_review(influx, CATALOG, *window, tmp_path / "real")
    drill = write_review(influx, CATALOG, *window, tmp_path / "drill", drill=DRILL)

    real_ids = {lead["warning_id"] for lead in real["lead_times"] if lead["warning_id"]}
    drill_ids = {lead["warning_id"] for lead in drill["lead_times"] if lead["warning_id"]}
    assert real_ids and not any(i.startswith("exercise.") for i in real_ids)
    assert drill_ids and all(i.startswith(f"exercise.{DRILL}.") for i in drill_ids)
    assert drill["delivery"]["rejects_by_reason"] == {"bad_timestamp": 1} and real["delivery"]["rejects"] == 0
    assert json.loads((tmp_path / "drill" / "report.json").read_text())["drill"] == DRILL
    assert f"ÜBUNG {DRILL}" in (tmp_path / "drill" / "report.html").read_text()
    titles = [r["title"] for r in influx.query_rows('SELECT "title" FROM "review"')]
    assert sum(f"(EXERCISE {DRILL})" in t for t in titles) == 1 and len(titles) == 2
