"""``riverwatch run``: services.env is loaded (without overriding), the service runs for --duration."""

from __future__ import annotations

import os

from riverwatch.cli import main

from ingest.cli import load_env_file


def test_env_file_does_not_override(tmp_path, monkeypatch):
    env = tmp_path / "services.env"
    env.write_text("# comment\nRW_TEST_A=1\nRW_TEST_B = 2\n")
    monkeypatch.setenv("RW_TEST_A", "kept")
    monkeypatch.delenv("RW_TEST_B", raising=False)
    assert load_env_file(env) == {"RW_TEST_B": "2"}
    assert os.environ["RW_TEST_A"] == "kept"
    monkeypatch.delenv("RW_TEST_B")
    assert load_env_file(tmp_path / "missing.env") == {}


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
    assert main(["run", "--duration", "1"]) == 0
    for key in services.as_env():
        monkeypatch.delenv(key, raising=False)  # undo what load_env_file put into os.environ
    rows = influx.query_rows('SELECT last("mqtt_connected") FROM "pipeline" WHERE "worker" = \'cli-test\'')
    assert rows and rows[0]["last"] == 1
    assert (state / "checkpoint" / "ingest.pkl").is_file()
