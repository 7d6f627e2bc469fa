"""docs/mqtt-contract.md stays true: its tables match the code and its examples decode."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from devices.kinds import kinds
from riverwatch.contract import REJECT_REASONS, decode_payload
from riverwatch.settings import REPO_ROOT
from riverwatch.units import QUANTITIES

DOC = (REPO_ROOT / "docs" / "mqtt-contract.md").read_text(encoding="utf-8")
JSON_BLOCKS = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", DOC, re.S)]


def units_table() -> list[str]:
    rows = []
    for q in QUANTITIES.values():
        units = ", ".join(f"`{u}`" for u in q.units)
        rows.append(f"| `{q.name}` | {q.label} | `{q.unit}` | {units} | {q.plausible[0]:g} to {q.plausible[1]:g} |")
    return rows


def test_units_table_is_generated_from_quantities():
    for row in units_table():
        assert row in DOC, f"docs/mqtt-contract.md is out of date: missing {row}"


def test_every_reject_reason_is_explained():
    for reason, meaning in REJECT_REASONS.items():
        assert f"| `{reason}` | {meaning} |" in DOC, reason


def test_examples_decode_and_match_the_schema():
    schema = next(b for b in JSON_BLOCKS if isinstance(b, dict) and "$schema" in b)
    payloads = [b for b in JSON_BLOCKS if (isinstance(b, dict) and "seq" in b) or isinstance(b, list)]
    assert len(payloads) == 2  # the JSON and the SenML example
    for payload in payloads:
        raw = decode_payload(json.dumps(payload).encode())
        assert raw.seq == 42 and [q for q, _, _ in raw.values] == ["water_level", "discharge", "water_temperature"]
    jsonschema.validate(payloads[0], schema)
    for kind in kinds().values():
        jsonschema.validate(json.loads(kind.example_payload()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"ts": 1, "readings": {}}, schema)


def test_version_and_limits_are_stated():
    assert DOC.startswith("# riverwatch MQTT contract, version v1")
    assert "16 KiB" in DOC and "**64**" in DOC and "300 s" in DOC and "7 days" in DOC


def test_the_gateway_example_is_a_catalog_entry_that_renders_a_gateway_account(tmp_path):
    from application.broker_auth import gateway_account, render_acl
    from riverwatch.catalog import load_catalog

    [block] = re.findall(r"```toml\n(\[\[gateways\]\].*?)```", DOC, re.S)
    path = tmp_path / "catalog.toml"
    path.write_text((REPO_ROOT / "catalog" / "demo.toml").read_text(encoding="utf-8") + "\n" + block)
    catalog = load_catalog(path)
    [gateway] = catalog.gateways
    assert "`gw.<partner>.<gateway>`" in DOC and gateway_account("<partner>", "<gateway>") == "gw.<partner>.<gateway>"
    assert f"user {gateway_account(gateway.partner, gateway.id)}\n" in render_acl(catalog)


def test_senml_base_value_and_must_understand_are_documented_as_the_decoder_does():
    assert '"bv": 100, "v": 32`\nis 132' in DOC
    senml = json.dumps([{"bn": "urn:dev:rw:rivertown:gauge-hochtal:", "bt": 1795348800.0, "n": "seq", "v": 1},
                        {"bv": 100, "n": "water_level", "u": "cm", "v": 32}]).encode()
    assert decode_payload(senml).values == [("water_level", 132.0, "cm")]
