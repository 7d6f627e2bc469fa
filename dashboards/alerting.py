"""Grafana alert rules that mirror riverwatch's warning levels, and make silence loud.

One Grafana-managed rule per ``station_state`` level (suspect sensor, advisory, watch, warning,
emergency) fires per station whose latest state is exactly that level. Two rules watch for
silence, from data the pipeline cannot fake by being dead:

- ``rw-heartbeat``: readings of each worker's ``heartbeat`` point over the last
  :data:`HEARTBEAT_WINDOW_S`; a worker that stopped writing fires, and no heartbeat at all
  (every worker dead, or InfluxDB unreachable) is *no data*, which fires too (``noDataState``
  Alerting).
- ``rw-stale``: readings per station over the last :data:`STALE_AFTER_S`, counted on the
  readings' own (device) timestamps in the ``reading`` measurement, not on anything the worker
  writes about itself; no reading of any station for a week is no data, which fires.

A level rule that finds no ``station_state`` at all goes to Grafana's NoData state (a
``DatasourceNoData`` alert, notified like any other) instead of resolving quietly.

Rules are built with the SDK's alerting builders in the shape of Grafana's provisioning API
(validated against the v12 alerting schema) and converted to the file provisioning format by
:func:`rule_file`.

Examples
--------
>>> rules = alert_rules(folder_uid="rw-shared")
>>> [r["uid"] for r in rules][:2]
['rw-state-1', 'rw-state-2']
>>> [(r["uid"], r["noDataState"]) for r in rules[-2:]]
[('rw-stale', 'Alerting'), ('rw-heartbeat', 'Alerting')]
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import alerting as ab
from grafana_foundation_sdk.builders import expr as eb
from grafana_foundation_sdk.models import alerting as am

from riverwatch.storage import ACK, HEARTBEAT, READING, STATION_STATE
from dashboards.build import STATION_STATES, UID_STATION, to_dict
from dashboards.influxql import DATASOURCE_UID, InfluxQL

RULE_GROUP = "riverwatch-levels"
ORG_ID = 1
EXPRESSION_UID = "__expr__"
#: Evaluation interval of the rule group, seconds.
INTERVAL_S = 60
#: How long a level must hold before its rule fires, per state (emergencies fire at once).
PENDING = {1: "15m", 2: "5m", 3: "2m", 4: "1m", 5: "0s"}
#: Window of the level rules' query, seconds.
LEVEL_WINDOW_S = 600
#: A station with no reading (by its own timestamps) for this long is stale; counted in 3 buckets.
STALE_AFTER_S = 1800
#: How far back the stale rule looks for stations at all: silent longer, a station drops out.
STALE_LOOKBACK_S = 7 * 86400
#: A worker without a heartbeat for this long fires (it writes one per ``ingest.summary_interval_s``).
HEARTBEAT_WINDOW_S = 300
#: How far back the heartbeat rule looks for workers at all.
HEARTBEAT_LOOKBACK_S = 6 * 3600
#: Below this many points per bucket (averaged over the window) a series counts as silent.
SILENT_BELOW = 0.01

LATEST_STATE = (f'SELECT last("state") AS "state" FROM "{STATION_STATE}" WHERE $timeFilter '
                'GROUP BY "partner", "station"')


def silence_query(measurement: str, field: str, group_by: str, window_s: int, buckets: int = 3) -> str:
    """Points per bucket of ``measurement`` over the last ``window_s`` (a moving average of
    ``buckets`` buckets, empty buckets counted as 0), per ``group_by`` series: 0 means silent.

    >>> silence_query("heartbeat", "alive", '"worker"', 300, 5)
    'SELECT moving_average(count("alive"), 5) AS "points" FROM "heartbeat" WHERE $timeFilter GROUP BY time(60s), "worker" fill(0)'
    """
    return (f'SELECT moving_average(count("{field}"), {buckets}) AS "points" FROM "{measurement}" '
            f'WHERE $timeFilter GROUP BY time({window_s // buckets}s), {group_by} fill(0)')


#: A warning re-announced (nobody acknowledged it in time) fires its station's rule for this long.
UNACKNOWLEDGED_WINDOW_S = 900
REMINDERS_RECENT = (f'SELECT count("level") AS "reminders" FROM "{ACK}" WHERE $timeFilter AND '
                    '"kind" = \'reminder\' GROUP BY "partner", "station"')
READINGS_RECENT = silence_query(READING, "value", '"partner", "station"', STALE_AFTER_S)
HEARTBEATS_RECENT = silence_query(HEARTBEAT, "alive", '"worker"', HEARTBEAT_WINDOW_S, 5)


def _queries(influxql: str, evaluator: eb.ExprTypeThresholdConditionsEvaluator,
             window_s: int = LEVEL_WINDOW_S) -> list[ab.Query]:
    """A: the InfluxQL series per station over ``window_s``; B: last value of each; C: the threshold."""
    source = (ab.Query("A").datasource_uid(DATASOURCE_UID)
              .relative_time_range(am.RelativeTimeRange(from_val=window_s, to=0))
              .model(InfluxQL(influxql).ref_id("A")))
    reduce = ab.Query("B").datasource_uid(EXPRESSION_UID).model(
        eb.TypeReduce().ref_id("B").expression("A").reducer("last"))
    threshold = ab.Query("C").datasource_uid(EXPRESSION_UID).model(
        eb.TypeThreshold().ref_id("C").expression("B")
        .conditions([eb.ExprTypeThresholdConditions().evaluator(evaluator)]))
    return [source, reduce, threshold]


def _rule(uid: str, title: str, folder_uid: str, queries: list[ab.Query], pending: str,
          labels: dict[str, str], summary: str, no_data: str = "NoData") -> dict:
    rule = (ab.Rule(title).uid(uid).folder_uid(folder_uid).rule_group(RULE_GROUP).org_id(ORG_ID)
            .queries(queries).condition("C").for_val(pending).no_data_state(no_data).exec_err_state("Error")
            .labels(labels)
            .annotations({"summary": summary,
                          "dashboard": f"/d/{UID_STATION}/riverwatch-station?var-partner={{{{ $labels.partner }}}}"
                                       f"&var-station={{{{ $labels.station }}}}"}))
    return to_dict(rule.build())


def state_rule(state: int, name: str, folder_uid: str) -> dict:
    """Fires for each station whose latest ``station_state.state`` equals ``state``."""
    evaluator = eb.ExprTypeThresholdConditionsEvaluator().type("within_range").params([state - 0.5, state + 0.5])
    severity = "maintenance" if state == 1 else name
    return _rule(f"rw-state-{state}", f"Riverwatch: station at {name}", folder_uid,
                 _queries(LATEST_STATE, evaluator), PENDING[state],
                 {"riverwatch": "level", "severity": severity, "state": str(state)},
                 f"{{{{ $labels.station }}}} ({{{{ $labels.partner }}}}) is at {name}")


def _silent() -> eb.ExprTypeThresholdConditionsEvaluator:
    return eb.ExprTypeThresholdConditionsEvaluator().type("lt").params([SILENT_BELOW])


def stale_rule(folder_uid: str) -> dict:
    """Fires for each station with no reading (device timestamps) in the last :data:`STALE_AFTER_S`
    seconds; no reading of any station at all is no data, which fires as well."""
    return _rule("rw-stale", "Riverwatch: station data stale", folder_uid,
                 _queries(READINGS_RECENT, _silent(), STALE_LOOKBACK_S), "5m",
                 {"riverwatch": "freshness", "severity": "stale"},
                 f"{{{{ $labels.station }}}} ({{{{ $labels.partner }}}}) sent nothing for over "
                 f"{STALE_AFTER_S // 60} minutes (or no station sent anything)", no_data="Alerting")


def heartbeat_rule(folder_uid: str) -> dict:
    """Fires for each ingest worker without a ``heartbeat`` point in :data:`HEARTBEAT_WINDOW_S`
    seconds, and when there is no heartbeat at all (no data = alerting)."""
    return _rule("rw-heartbeat", "Riverwatch: pipeline heartbeat missing", folder_uid,
                 _queries(HEARTBEATS_RECENT, _silent(), HEARTBEAT_LOOKBACK_S), "0s",
                 {"riverwatch": "heartbeat", "severity": "pipeline"},
                 "the riverwatch pipeline wrote no heartbeat for "
                 f"{HEARTBEAT_WINDOW_S // 60} minutes: worker dead, or InfluxDB unreachable", no_data="Alerting")


def unacknowledged_rule(folder_uid: str) -> dict:
    """Fires for each station whose warning the worker re-announced in the last
    :data:`UNACKNOWLEDGED_WINDOW_S` because no partner it concerns acknowledged it in time (``ack``
    points of kind ``reminder``), so the partner's contact points hear of it again. No reminder at all
    is the normal case: no data is OK here (a silent pipeline is the heartbeat rule's)."""
    evaluator = eb.ExprTypeThresholdConditionsEvaluator().type("gt").params([0])
    return _rule("rw-unacknowledged", "Riverwatch: warning not acknowledged", folder_uid,
                 _queries(REMINDERS_RECENT, evaluator, UNACKNOWLEDGED_WINDOW_S), "0s",
                 {"riverwatch": "acknowledgement", "severity": "unacknowledged"},
                 "nobody acknowledged the warning at {{ $labels.station }} ({{ $labels.partner }}) in time",
                 no_data="OK")


def alert_rules(folder_uid: str) -> list[dict]:
    """All riverwatch alert rules (provisioning-API shape), in a fixed order."""
    levels = [state_rule(state, name, folder_uid) for state, name, _ in STATION_STATES if state > 0]
    return levels + [unacknowledged_rule(folder_uid), stale_rule(folder_uid), heartbeat_rule(folder_uid)]


def rule_file(rules: list[dict], folder_title: str) -> dict:
    """The alerting provisioning file (``apiVersion: 1``) holding ``rules`` in one group."""
    api_only = {"folderUID", "orgID", "ruleGroup"}
    return {
        "apiVersion": 1,
        "groups": [{
            "orgId": ORG_ID,
            "name": RULE_GROUP,
            "folder": folder_title,
            "interval": f"{INTERVAL_S}s",
            "rules": [{k: v for k, v in rule.items() if k not in api_only} for rule in rules],
        }],
    }
