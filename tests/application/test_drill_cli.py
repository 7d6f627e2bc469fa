"""``riverwatch drill``: started detached, its readings reach a running worker's exercise lane only."""

from __future__ import annotations

import json
import os
import uuid

from riverwatch.catalog import load_catalog
from riverwatch.settings import REPO_ROOT, Settings

from tests.helpers import wait_until

from application.cli import main
from ingest.service import Service

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")


def drill_state(state_dir, drill: str) -> dict:
    path = state_dir / "drills" / f"{drill}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def test_a_detached_drill_reaches_the_exercise_lane_and_stops_on_demand(services, influx, tmp_path, monkeypatch,
                                                                        capsys):
    state = tmp_path / "state"
    monkeypatch.chdir(tmp_path)
    for key, value in {**services.as_env(), "RIVERWATCH_STATE_DIR": str(state)}.items():
        monkeypatch.setenv(key, value)
    worker = Service(Settings(state_dir=state, mqtt={"host": services.mqtt_host, "port": services.mqtt_port,
                                                     "client_id": f"drill-{uuid.uuid4().hex[:6]}",
                                                     "session_expiry_s": 30},
                              influx={"url": services.influx_url, "database": influx.database,
                                      "flush_interval_s": 0.05},
                              ingest={"spool_dir": tmp_path / "spool"}), CATALOG)
    worker.start()
    try:
        assert worker.wait_connected(10)
        assert main(["drill", "start", "--scenario", "calm", "--partners", "rivertown", "--span", "1h",
                     "--speed", "3600", "--id", "quick"]) == 0
        assert capsys.readouterr().out.strip() == "quick"
        assert wait_until(lambda: drill_state(state, "quick").get("state") == "finished", 60)
        published = drill_state(state, "quick")["published"]
        assert published > 0 and wait_until(lambda: worker.exercises.lanes.get("quick") is not None)
        assert wait_until(lambda: worker.exercises.lanes["quick"].stats.received == published) and worker.wait_idle()
        assert worker.stats.accepted == 0  # the real pipeline saw none of it

        assert main(["drill", "start", "--scenario", "storm", "--span", "9h", "--speed", "1", "--id", "long"]) == 0
        assert wait_until(lambda: drill_state(state, "long").get("state") == "running", 60)
        pid = drill_state(state, "long")["pid"]
        capsys.readouterr()
        assert main(["drill", "status"]) == 0
        listed = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}
        assert listed == {"quick": "finished", "long": "running"}
        assert main(["drill", "stop", "--id", "long"]) == 0
        assert wait_until(lambda: drill_state(state, "long").get("state") == "stopped", 15)
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    finally:
        main(["drill", "stop"])
        worker.stop()
    stored = influx.query_rows('SELECT count("value") FROM "exercise_reading" WHERE "drill" = \'quick\'')
    assert stored and stored[0]["count"] >= published
    assert influx.query_rows('SELECT count("value") FROM "reading"') == []
