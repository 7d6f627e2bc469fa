"""The evaluation sink writes what the Detectors dashboard's table reads."""

from __future__ import annotations

import pytest

from riverwatch.errors import ConfigError

from dashboards.detectors_board import EVALUATION
from dashboards.evaluation_sink import METRICS, evaluation_line, write_evaluation


def test_written_evaluation_is_read_by_the_dashboard_query(influx):
    summary = {"precision": 0.9, "recall": 0.5, "f1": 0.643, "lead_time_median_minutes": 35,
               "false_warnings_per_day": 0.2, "nab_standard": 55.0, "ignored": "text"}
    write_evaluation(influx, summary, "level_threshold", "flood, 2021")
    write_evaluation(influx, {"f1": 0.7}, "rate_of_rise", "flood, 2021")
    rows = {(r["detector"], r["dataset"]): r for r in influx.query_rows(EVALUATION)}
    assert set(rows) == {("level_threshold", "flood, 2021"), ("rate_of_rise", "flood, 2021")}
    assert rows[("level_threshold", "flood, 2021")]["lead_time_median_minutes"] == 35.0
    assert rows[("rate_of_rise", "flood, 2021")]["precision"] is None


def test_non_numeric_and_non_finite_metrics_are_left_out():
    line = evaluation_line({"f1": float("nan"), "recall": True, "precision": 1}, "d", "s", time_ns=1)
    assert line == "evaluation,dataset=s,detector=d precision=1.0 1"
    with pytest.raises(ConfigError, match="none of"):
        evaluation_line({"f1": None}, "d", "s")
    assert len(METRICS) == 6
