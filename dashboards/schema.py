"""Offline validation of dashboards and alert rules against Grafana's JSON schemas.

The schemas live outside the repository (``../shared/schemas/grafana/<version>``). A dashboard is
checked as a whole against ``dashboard.jsonschema.json`` and each panel's ``options`` and
``fieldConfig.defaults.custom`` against that panel plugin's schema, when one is shipped.

Two definitions of the generated v11.6 schema are narrower than the JSON Grafana 11.6 itself
writes, and v12 corrects both; with ``grafana_json=True`` (the default) v11.6 is checked with v12's
definition of exactly these two:

- ``Threshold.value``: Grafana writes the base step's ``-Infinity`` as ``null``;
- ``AnnotationTarget``: 11.6 only models the built-in Grafana annotation target, while
  datasource annotations (our InfluxQL warnings) store a regular query there.

Examples
--------
>>> relaxed = grafana_json_fixes({"definitions": {"Threshold": {"properties": {"value": {"type": "number"}}},
...                                               "AnnotationTarget": {"required": ["limit"]}}})
>>> relaxed["definitions"]["Threshold"]["properties"]["value"]
{'anyOf': [{'type': 'number'}, {'type': 'null'}]}
"""

from __future__ import annotations

import copy
import json
import os
from functools import lru_cache
from pathlib import Path

import jsonschema

from riverwatch.errors import ConfigError

VERSIONS = ("v11.6", "v12")


def schema_dir() -> Path:
    """``$RIVERWATCH_GRAFANA_SCHEMAS`` or ``../shared/schemas/grafana`` beside the repository."""
    default = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "grafana"
    return Path(os.environ.get("RIVERWATCH_GRAFANA_SCHEMAS", default))


@lru_cache(maxsize=None)
def _load(directory: str, version: str, name: str) -> dict | None:
    path = Path(directory) / version / f"{name}.jsonschema.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def grafana_json_fixes(schema: dict) -> dict:
    """Widen v11.6's Threshold.value and AnnotationTarget to their v12 definitions (see module doc)."""
    fixed = copy.deepcopy(schema)
    defs = fixed["definitions"]
    defs["Threshold"]["properties"]["value"] = {"anyOf": [{"type": "number"}, {"type": "null"}]}
    defs["AnnotationTarget"] = {"type": "object", "additionalProperties": {}}
    return fixed


def _errors(schema: dict, instance: object, where: str) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{where}{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path)))]


def _definition(schema: dict, name: str) -> dict:
    return {"$schema": schema.get("$schema"), "definitions": schema["definitions"],
            "$ref": f"#/definitions/{name}"}


def _panel_errors(directory: str, version: str, panel: dict, where: str) -> list[str]:
    plugin = _load(directory, version, panel.get("type", ""))
    if plugin is None:
        return []
    errors = _errors(_definition(plugin, "Options"), panel.get("options", {}), f"{where}options/")
    custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom")
    if custom is not None and "FieldConfig" in plugin["definitions"]:
        errors += _errors(_definition(plugin, "FieldConfig"), custom, f"{where}fieldConfig/defaults/custom/")
    return errors


def dashboard_errors(doc: dict, version: str, directory: Path | None = None,
                     grafana_json: bool = True) -> list[str]:
    """Schema violations of dashboard ``doc`` for Grafana ``version`` (empty when valid).

    Raises
    ------
    ConfigError
        When the schema directory has no dashboard schema for ``version``.
    """
    directory = str(directory or schema_dir())
    schema = _load(directory, version, "dashboard")
    if schema is None:
        raise ConfigError(f"no Grafana {version} dashboard schema under {directory}")
    if grafana_json and version == "v11.6":
        schema = grafana_json_fixes(schema)
    errors = _errors(schema, doc, "")
    for i, panel in enumerate(doc.get("panels", [])):
        errors += _panel_errors(directory, version, panel, f"panels/{i}/")
        for j, child in enumerate(panel.get("panels", [])):
            errors += _panel_errors(directory, version, child, f"panels/{i}/panels/{j}/")
    return errors


def alert_rule_errors(rule: dict, directory: Path | None = None) -> list[str]:
    """Violations of one alert rule (provisioning API shape) of the v12 alerting schema."""
    directory = str(directory or schema_dir())
    schema = _load(directory, "v12", "alerting")
    if schema is None:
        raise ConfigError(f"no Grafana v12 alerting schema under {directory}")
    return _errors(_definition(schema, "Rule"), rule, "")
