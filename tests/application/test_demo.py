"""The demo end to end on the real broker and database: the flood wave is warned before its peak."""

import argparse
import json

import pytest

from application import demo


@pytest.fixture
def demo_env(services, influx, monkeypatch):
    monkeypatch.setenv("RIVERWATCH_MQTT__HOST", services.mqtt_host)
    monkeypatch.setenv("RIVERWATCH_MQTT__PORT", str(services.mqtt_port))
    monkeypatch.setenv("RIVERWATCH_INFLUX__URL", services.influx_url)
    monkeypatch.setenv("RIVERWATCH_INFLUX__DATABASE", influx.database)
    return influx


def test_storm_is_warned_downstream_before_the_scripted_peak(demo_env, tmp_path, capsys):
    args = argparse.Namespace(duration=8.0, scenario="storm", interval=300.0, seed=3, config=None,
                              state_dir=tmp_path, keep_services=True)
    result = demo.play(args)
    assert result.ok and result.accepted > 0
    out = capsys.readouterr().out
    assert "every accepted reading is stored exactly once" in out
    assert f"rivertown's view ({demo_env.database}_rivertown): points by agreement: own " in out
    assert "shares_with" in out  # the demo catalog's partners share everything raw with each other
    downstream = [ev for ev in result.warnings.events
                  if ev.station == "gauge-lacville" and ev.hazard == "flood" and ev.public]
    assert downstream, "no public flood warning at the downstream gauge"
    first = min(downstream, key=lambda ev: ev.time_ns)
    assert first.time_ns / 1e9 < result.warnings.peaks["gauge-lacville"].time_s
    assert list((tmp_path / "demo" / "cap").glob("*.xml"))
    stored = demo_env.query_rows('SELECT COUNT("value") AS n FROM "reading" WHERE "station" = \'gauge-lacville\'')
    assert stored[0]["n"] > 0
    # the demo ends with the after-action review of its own storm, acknowledgements included
    review = json.loads((tmp_path / "demo" / "review" / "report.json").read_text())
    leads = {lead["station"]: lead for lead in review["indicators"]["lead_times"]}
    assert leads["gauge-lacville"]["lead_crossing_s"] > 0
    assert sum(a["acknowledged"] for a in review["indicators"]["ack_times"]) > 0
    assert (tmp_path / "demo" / "review" / "report.html").stat().st_size > 10_000
