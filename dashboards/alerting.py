"""Grafana alert rules that mirror riverwatch's warning levels.

One Grafana-managed rule per ``station_state`` level (suspect sensor, advisory, watch, warning,
emergency) fires per station whose latest state is exactly that level, plus one rule for stations
whose data went stale. Rules are built with the SDK's alerting builders in the shape of Grafana's
provisioning API (validated against the v12 alerting schema) and converted to the file
provisioning format by :func:`rule_file`.

Examples
--------
>>> rules = alert_rules(folder_uid="rw-shared")
>>> [r["uid"] for r in rules][:2]
['rw-state-1', 'rw-state-2']
>>> rules[-1]["labels"]["severity"]
'stale'
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import alerting as ab
from grafana_foundation_sdk.builders import expr as eb
from grafana_foundation_sdk.models import alerting as am

from riverwatch.storage import STATION_STATE
from dashboards.build import STATION_STATES, UID_STATION, to_dict
from dashboards.influxql import DATASOURCE_UID, InfluxQL

RULE_GROUP = "riverwatch-levels"
ORG_ID = 1
EXPRESSION_UID = "__expr__"
#: Evaluation interval of the rule group, seconds.
INTERVAL_S = 60
#: How long a level must hold before its rule fires, per state (emergencies fire at once).
PENDING = {1: "15m", 2: "5m", 3: "2m", 4: "1m", 5: "0s"}
STALE_AFTER_S = 1800

LATEST_STATE = (f'SELECT last("state") AS "state" FROM "{STATION_STATE}" WHERE $timeFilter '
                'GROUP BY "partner", "station"')
LATEST_AGE = (f'SELECT last("last_seen_age_s") AS "age" FROM "{STATION_STATE}" WHERE $timeFilter '
              'GROUP BY "partner", "station"')


def _queries(influxql: str, evaluator: eb.ExprTypeThresholdConditionsEvaluator) -> list[ab.Query]:
    """A: the InfluxQL series per station; B: last value of each; C: the threshold condition."""
    source = (ab.Query("A").datasource_uid(DATASOURCE_UID)
              .relative_time_range(am.RelativeTimeRange(from_val=600, to=0))
              .model(InfluxQL(influxql).ref_id("A")))
    reduce = ab.Query("B").datasource_uid(EXPRESSION_UID).model(
        eb.TypeReduce().ref_id("B").expression("A").reducer("last"))
    threshold = ab.Query("C").datasource_uid(EXPRESSION_UID).model(
        eb.TypeThreshold().ref_id("C").expression("B")
        .conditions([eb.ExprTypeThresholdConditions().evaluator(evaluator)]))
    return [source, reduce, threshold]


def _rule(uid: str, title: str, folder_uid: str, queries: list[ab.Query], pending: str,
          labels: dict[str, str], summary: str) -> dict:
    rule = (ab.Rule(title).uid(uid).folder_uid(folder_uid).rule_group(RULE_GROUP).org_id(ORG_ID)
            .queries(queries).condition("C").for_val(pending).no_data_state("OK").exec_err_state("Error")
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


def stale_rule(folder_uid: str) -> dict:
    """Fires for each station that has sent nothing for :data:`STALE_AFTER_S` seconds."""
    evaluator = eb.ExprTypeThresholdConditionsEvaluator().type("gt").params([float(STALE_AFTER_S)])
    return _rule("rw-stale", "Riverwatch: station data stale", folder_uid, _queries(LATEST_AGE, evaluator),
                 "5m", {"riverwatch": "freshness", "severity": "stale"},
                 f"{{{{ $labels.station }}}} ({{{{ $labels.partner }}}}) sent nothing for over "
                 f"{STALE_AFTER_S // 60} minutes")


def alert_rules(folder_uid: str) -> list[dict]:
    """All riverwatch alert rules (provisioning-API shape), in a fixed order."""
    levels = [state_rule(state, name, folder_uid) for state, name, _ in STATION_STATES if state > 0]
    return levels + [stale_rule(folder_uid)]


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
