"""Write evaluation results where the Detectors dashboard reads them (measurement ``evaluation``).

Schema: tags ``detector``, ``dataset``; fields ``precision``, ``recall``, ``f1``,
``lead_time_median_minutes``, ``false_warnings_per_day``, ``nab_standard`` (floats; a metric
missing from the summary is left out). One point per call, at the evaluation time.

Examples
--------
>>> evaluation_line({"precision": 0.9, "recall": 0.75, "f1": 0.818}, "level_threshold", "demo flood",
...                 time_ns=1_700_000_000_000_000_000)
'evaluation,dataset=demo\\\\ flood,detector=level_threshold f1=0.818,precision=0.9,recall=0.75 1700000000000000000'
"""

from __future__ import annotations

import math
import time

from riverwatch.errors import ConfigError

#: The measurement evaluation results are written to (not part of the ingest schema in riverwatch.storage).
MEASUREMENT = "evaluation"
#: The metrics the dashboard shows, in the order of its table.
METRICS = ("precision", "recall", "f1", "lead_time_median_minutes", "false_warnings_per_day", "nab_standard")


def _tag(value: str) -> str:
    if not value:
        raise ConfigError("evaluation: detector and dataset must not be empty")
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def evaluation_line(summary: dict, detector: str, dataset: str, time_ns: int | None = None) -> str:
    """The line-protocol point for one evaluation ``summary`` (finite numeric metrics only)."""
    fields = []
    for name in sorted(METRICS):
        value = summary.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            fields.append(f"{name}={float(value)!r}")
    if not fields:
        raise ConfigError(f"evaluation summary for {detector}/{dataset} has none of {', '.join(METRICS)}")
    stamp = time.time_ns() if time_ns is None else time_ns
    return f"{MEASUREMENT},dataset={_tag(dataset)},detector={_tag(detector)} {','.join(fields)} {stamp}"


def write_evaluation(influx_client, summary: dict, detector: str, dataset: str,
                     time_ns: int | None = None) -> None:
    """Store one evaluation summary through ``influx_client`` (a :class:`riverwatch.influx.InfluxClient`)."""
    influx_client.write(evaluation_line(summary, detector, dataset, time_ns), precision="ns")
