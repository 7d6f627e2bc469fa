"""Provisioning files, alert rules and publish payloads; publishing fails clearly without Grafana."""

from __future__ import annotations

import socket

import pytest
import yaml

from riverwatch.catalog import load_catalog
from application.cli import main
from riverwatch.settings import REPO_ROOT, Settings

from dashboards.alerting import alert_rules
from dashboards.build import STATION_STATES, to_json
from dashboards.influxql import DATASOURCE_UID
from dashboards.provisioning import boards, write_all
from dashboards.publish import PublishError, connect, datasource_payload, plan
from dashboards.schema import alert_rule_errors, dashboard_errors, schema_dir

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
SETTINGS = Settings(influx={"url": "http://influxdb:8086", "database": "rw"})

needs_schemas = pytest.mark.skipif(not (schema_dir() / "v12" / "alerting.jsonschema.json").is_file(),
                                   reason="Grafana schemas not found")


def test_build_writes_dashboards_and_provisioning_deterministically(tmp_path):
    first = write_all(SETTINGS, tmp_path / "a", CATALOG)
    second = write_all(SETTINGS, tmp_path / "b", CATALOG)
    rel = [p.relative_to(tmp_path / "a") for p in first]
    assert rel == [p.relative_to(tmp_path / "b") for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))
    names = {str(p) for p in rel}
    assert {"dashboards/Riverwatch/rw-overview.json", "dashboards/Rivertown/rw-station-rivertown.json",
            "dashboards/Lacville/rw-station-lacville.json", "provisioning/datasources/riverwatch.yaml",
            "provisioning/dashboards/riverwatch.yaml", "provisioning/alerting/riverwatch-rules.yaml"} <= names


def test_datasource_and_provider_files(tmp_path):
    write_all(SETTINGS, tmp_path, CATALOG)
    ds = yaml.safe_load((tmp_path / "provisioning/datasources/riverwatch.yaml").read_text())["datasources"][0]
    assert (ds["type"], ds["uid"], ds["url"]) == ("influxdb", DATASOURCE_UID, "http://influxdb:8086")
    assert ds["jsonData"] == {"version": "InfluxQL", "dbName": "rw", "httpMode": "POST",
                              "httpHeaderName1": "Authorization"}
    assert ds["secureJsonData"] == {"httpHeaderValue1": "Token ${INFLUX_TOKEN}"}
    provider = yaml.safe_load((tmp_path / "provisioning/dashboards/riverwatch.yaml").read_text())["providers"][0]
    assert provider["type"] == "file" and provider["options"]["foldersFromFilesStructure"] is True


@needs_schemas
def test_alert_rules_mirror_levels_and_are_schema_valid(tmp_path):
    rules = alert_rules("rw-shared")
    assert [r["labels"].get("state") for r in rules[:-3]] == [str(s) for s, _, _ in STATION_STATES if s]
    for rule in rules:
        assert alert_rule_errors(rule) == [], rule["uid"]
    write_all(SETTINGS, tmp_path, CATALOG)
    doc = yaml.safe_load((tmp_path / "provisioning/alerting/riverwatch-rules.yaml").read_text())
    group = doc["groups"][0]
    assert doc["apiVersion"] == 1 and group["folder"] == "Riverwatch"
    assert [r["uid"] for r in group["rules"]] == [r["uid"] for r in rules]
    assert all("folderUID" not in r and "$" not in str(r.get("labels")) for r in group["rules"])


@needs_schemas
def test_publish_payloads_are_valid_and_idempotent():
    steps = plan(SETTINGS, CATALOG)
    assert plan(SETTINGS, CATALOG) == steps
    kinds = [s.kind for s in steps]
    assert kinds.count("folder") == 1 + len(CATALOG.partners)
    assert kinds.count("dashboard") == len(boards(SETTINGS, CATALOG))
    for step in steps:
        if step.kind == "dashboard":
            assert step.payload["overwrite"] is True and step.payload["dashboard"]["uid"] == step.uid
            assert dashboard_errors(step.payload["dashboard"], "v12") == []
            assert dashboard_errors(step.payload["dashboard"], "v11.6") == []
        if step.kind == "alert_rule":
            assert alert_rule_errors(step.payload) == []
    folders = {s.uid for s in steps if s.kind == "folder"}
    assert {s.payload["folderUid"] for s in steps if s.kind == "dashboard"} <= folders


def test_datasource_payload_carries_the_real_token_only_when_set():
    assert "secureJsonData" not in datasource_payload(SETTINGS)
    with_token = datasource_payload(Settings(influx={"token": "s3cret"}))
    assert with_token["secureJsonData"] == {"httpHeaderValue1": "Token s3cret"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_publish_to_nothing_listening_is_a_clear_error():
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(PublishError, match="unreachable"):
        connect(url, "token", timeout=2)


def test_cli_build_and_publish_error(tmp_path, capsys):
    assert main(["dashboards", "build", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "dashboards/Riverwatch/rw-station.json").is_file()
    assert main(["dashboards", "publish", "--url", f"http://127.0.0.1:{_closed_port()}", "--token", "t"]) == 2
    assert "unreachable" in capsys.readouterr().err


def test_built_json_is_the_sdk_json(tmp_path):
    write_all(SETTINGS, tmp_path, CATALOG)
    for board in boards(SETTINGS, CATALOG):
        path = tmp_path / "dashboards" / board.folder.title / f"{board.uid}.json"
        assert path.read_text(encoding="utf-8") == to_json(board.model)


def test_no_rule_treats_silence_as_ok():
    rules = {r["uid"]: r for r in alert_rules("rw-shared")}
    # no reminder is the normal case for the acknowledgement rule; every other rule treats silence as news
    assert rules.pop("rw-unacknowledged")["noDataState"] == "OK"
    assert all(r["noDataState"] != "OK" for r in rules.values())
    # the silence rules fire on no data; a level rule's no data is Grafana's NoData alert (notified, not resolved)
    assert rules["rw-heartbeat"]["noDataState"] == rules["rw-stale"]["noDataState"] == "Alerting"
    assert {r["noDataState"] for uid, r in rules.items() if uid.startswith("rw-state-")} == {"NoData"}
    # the partner label the notification policy routes on is in every station rule's series
    for uid, rule in rules.items():
        if uid != "rw-heartbeat":
            assert '"partner", "station"' in rule["data"][0]["model"]["query"], uid


def test_contact_points_per_partner_from_the_catalog(tmp_path):
    partners = [p.model_copy(update={"alert_emails": ["a@rivertown.example", "b@rivertown.example"],
                                     "alert_webhook": "https://ops.rivertown.example/hook"})
                if p.id == "rivertown" else p for p in CATALOG.partners]
    catalog = CATALOG.model_copy(update={"partners": partners})
    write_all(SETTINGS, tmp_path, catalog)
    doc = yaml.safe_load((tmp_path / "provisioning/alerting/riverwatch-contacts.yaml").read_text())
    points = {c["name"]: c for c in doc["contactPoints"]}
    assert set(points) == {"riverwatch-operators", "riverwatch-rivertown"}  # the others have no contacts
    receivers = {r["type"]: r["settings"] for r in points["riverwatch-rivertown"]["receivers"]}
    assert receivers == {"email": {"addresses": "a@rivertown.example;b@rivertown.example", "singleEmail": True},
                         "webhook": {"url": "https://ops.rivertown.example/hook", "httpMethod": "POST"}}
    assert points["riverwatch-operators"]["receivers"][0]["settings"]["addresses"] == "${OPERATOR_EMAIL}"
    policy = doc["policies"][0]
    assert policy["receiver"] == "riverwatch-operators"
    assert policy["routes"] == [{"receiver": "riverwatch-operators", "continue": True},
                                {"receiver": "riverwatch-rivertown", "continue": True,
                                 "object_matchers": [["partner", "=", "rivertown"]]}]


def test_folder_permissions_per_partner_are_published_after_the_folders():
    steps = plan(SETTINGS, CATALOG)
    kinds = [s.kind for s in steps]
    perms = {s.uid: s.payload["items"] for s in steps if s.kind == "folder_permissions"}
    assert max(i for i, k in enumerate(kinds) if k == "folder") < kinds.index("folder_permissions")
    assert set(perms) == {s.uid for s in steps if s.kind == "folder"}
    teams = {f"riverwatch-{p.id}" for p in CATALOG.partners}
    assert {item["team"] for item in perms["rw-shared"]} == teams
    for partner in CATALOG.partners:
        assert [item["team"] for item in perms[f"rw-{partner.id}"]] == [f"riverwatch-{partner.id}"]
