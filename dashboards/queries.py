"""Every InfluxQL query of a dashboard, and Grafana's interpolation of them, for checking the
dashboards against a real InfluxDB (tests, ``make demo``) without Grafana.

Examples
--------
>>> interpolate('SELECT mean("value") FROM "reading" WHERE "station" =~ /^$station$/ AND $timeFilter '
...             'GROUP BY time($__interval)', {"station": "gauge-1"})
'SELECT mean("value") FROM "reading" WHERE "station" =~ /^gauge\\\\-1$/ AND time > now() - 3d GROUP BY time(10m)'
>>> interpolate('SHOW TAG VALUES WITH KEY = "station" WHERE "partner" =~ /^$partner$/', {"partner": ".*"})
'SHOW TAG VALUES WITH KEY = "station" WHERE "partner" =~ /^.*$/'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Mapping

#: Values that are regular expressions already (a variable's "All" value), not escaped.
ALL_VALUES = frozenset({".*"})
_REGEX_SPECIAL = re.compile(r"([\\^$.|?*+()\[\]{}/-])")


@dataclass(frozen=True, slots=True)
class Query:
    """One query found in a dashboard: where it is, and its raw InfluxQL."""

    where: str
    influxql: str


def _escape(value: str) -> str:
    return value if value in ALL_VALUES else _REGEX_SPECIAL.sub(r"\\\1", value)


def interpolate(influxql: str, variables: Mapping[str, str], time_filter: str = "time > now() - 3d",
                interval: str = "10m") -> str:
    """Substitute ``$timeFilter``, ``$__interval`` and template variables as Grafana does.

    Inside ``/regex/`` a value is regex-escaped (Grafana's default format there); elsewhere it is
    inserted as is.
    """
    text = influxql.replace("$timeFilter", time_filter).replace("$__interval", interval)

    def regex(match: re.Match) -> str:
        body = match.group(1)
        for name, value in variables.items():
            body = body.replace(f"${name}", _escape(value))
        return f"/{body}/"

    text = re.sub(r"/(\^[^/]*\$)/", regex, text)
    for name, value in sorted(variables.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return text


def _panels(doc: dict) -> Iterator[dict]:
    for panel in doc.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries(doc: dict) -> Iterator[tuple[dict, Query]]:
    """``(panel, query)`` for every target of every panel (rows' panels included)."""
    for panel in _panels(doc):
        for target in panel.get("targets", []):
            yield panel, Query(f"panel {panel.get('id')} {panel.get('title')!r} {target.get('refId')}",
                               target["query"])


def variable_queries(doc: dict) -> Iterator[tuple[dict, Query]]:
    """``(variable, query)`` for every query-type template variable."""
    for var in doc.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            yield var, Query(f"variable {var['name']}", var["query"])


def annotation_queries(doc: dict) -> Iterator[tuple[dict, Query]]:
    """``(annotation, query)`` for every datasource annotation with an InfluxQL target."""
    for anno in doc.get("annotations", {}).get("list", []):
        target = anno.get("target") or {}
        if "query" in target:
            yield anno, Query(f"annotation {anno['name']!r}", target["query"])
