"""``riverwatch run``: services.env is loaded (without overriding), the service runs for --duration."""

from __future__ import annotations

import os

from application.cli import main

from application.services_cli import use_local_services


def test_env_file_does_not_override(tmp_path, monkeypatch):
    (tmp_path / "services.env").write_text("# comment\nRIVERWATCH_MQTT__HOST=10.0.0.1\nRIVERWATCH_MQTT__PORT=2\n")
    monkeypatch.setenv("RIVERWATCH_MQTT__HOST", "kept")
    monkeypatch.delenv("RIVERWATCH_MQTT__PORT", raising=False)
    try:
        assert use_local_services(tmp_path)
        assert os.environ["RIVERWATCH_MQTT__HOST"] == "kept"
        assert os.environ["RIVERWATCH_MQTT__PORT"] == "2"
    finally:
        os.environ.pop("RIVERWATCH_MQTT__PORT", None)
    assert not use_local_services(tmp_path / "missing")


def test_run_for_a_duration_with_services_env(services, influx, tmp_path, monkeypatch):
    state = tmp_path / "state"
    state.mkdir()
    (state / "services.env").write_text("".join(f"{k}={v}\n" for k, v in services.as_env().items()))
    for key in services.as_env():
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RIVERWATCH_STATE_DIR", str(state))
    monkeypatch.setenv("RIVERWATCH_INFLUX__DATABASE", influx.database)
    monkeypatch.setenv("RIVERWATCH_INGEST__SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("RIVERWATCH_INGEST__SUMMARY_INTERVAL_S", "0.2")
    monkeypatch.setenv("RIVERWATCH_MQTT__CLIENT_ID", "cli-test")
    monkeypatch.setenv("RIVERWATCH_MQTT__SESSION_EXPIRY_S", "5")
    try:
        assert main(["run", "--duration", "1"]) == 0
    finally:
        for key in services.as_env():
            os.environ.pop(key, None)  # undo what services.env put into os.environ
    rows = influx.query_rows('SELECT last("mqtt_connected") FROM "pipeline" WHERE "worker" = \'cli-test\'')
    assert rows and rows[0]["last"] == 1
    assert (state / "checkpoint" / "ingest.pkl").is_file()
