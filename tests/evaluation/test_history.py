"""``evaluate --format influx``: a station's own history, replayed from the real InfluxDB, against the
warnings a real pipeline stored there."""

import json

import numpy as np
import pytest

from evaluation.history_query import Chunk
from evaluation.history_replay import HistoryReplay, LevelSteps, Thinned
from evaluation.history_report import warning_spans
from evaluation.history_span import NS, Span, parse_duration, resolve_stations
from ingest.alerts import AlertRenderer
from ingest.pipeline import Pipeline
from riverwatch.storage import warning_line
from riverwatch.catalog import load_catalog
from application.cli import main
from riverwatch.errors import ConfigError
from riverwatch.model import Observation
from riverwatch.settings import REPO_ROOT, Settings

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
T0 = 1_800_000_000  # 2027-01-15 08:00 UTC
SPAN = ["--since", "2027-01-15T08:00:00Z", "--until", "2027-01-17T08:00:00Z"]
HOCHTAL = "rivertown/gauge-hochtal"
DETECTORS = ["level_threshold", "rate_of_rise"]
#: Two implausible readings in a row: production flags them QC FAIL; fed to level_threshold they
#: would raise a flood warning of their own.
FAILED_AT = (40, 41)


def wave_levels(n: int = 288) -> np.ndarray:
    """Two days of 10-minute stage at Hochtal: quiet, a flood wave peaking near 3.4 m, quiet again."""
    rng = np.random.default_rng(7)
    i = np.arange(n)
    levels = 1.0 + 2.4 * np.exp(-((i - 160) / 40.0) ** 2) + rng.normal(0, 0.005, n)
    levels[list(FAILED_AT)] = 9999.0              # a logger's "no data" code
    return levels


def write_config(path, influx, database=None) -> str:
    path.write_text(f'[influx]\nurl = "{influx.url}"\ndatabase = "{database or influx.database}"\n'
                    f"[ingest]\ndetectors = {json.dumps(DETECTORS)}\n")
    return str(path)


def record_production(influx, settings: Settings) -> list:
    """Run the production pipeline over the wave as the service does and store what it writes."""
    pipe, alerts = Pipeline(CATALOG, settings), AlertRenderer(CATALOG)
    lines, events = [], []
    for i, level in enumerate(wave_levels().tolist()):
        obs = Observation("rivertown", "gauge-hochtal", (T0 + 600 * i) * 10**9, i,
                          (("water_level", level), ("discharge", 10.0 + min(level, 5.0)),
                           ("water_temperature", 11.0 + 0.01 * (i % 7))))
        new = pipe.process(obs, lines) + pipe.tick()
        lines += [warning_line(ev, CATALOG, alerts.line_time(ev)) for ev in new]
        events += new
    influx.write("\n".join(lines))
    return events


@pytest.fixture
def history(influx, tmp_path):
    """The config of a database holding Hochtal's flood wave and the warnings production raised."""
    config = write_config(tmp_path / "riverwatch.toml", influx)
    events = record_production(influx, Settings.load(config))
    raised = [e for e in events if e.station == "gauge-hochtal" and e.state == "raised"]
    assert len(raised) == 1 and raised[0].hazard == "flood" and raised[0].public
    return config


def evaluate(capsys, config, out, data, *options):
    code = main(["evaluate", data, "--format", "influx", "--config", config, "--out", str(out), *SPAN,
                 "--no-progress", *options])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_default_settings_reproduce_production(history, tmp_path, capsys):
    code, out, _ = evaluate(capsys, history, tmp_path / "o", HOCHTAL)
    assert code == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    h = summary["history"]
    assert (h["production_warnings"], h["candidate_warnings"], h["matched"], h["extra"], h["missed"]) == (1, 1, 1, 0, 0)
    assert h["earlier_minutes_median"] == 0.0 and h["candidate_public"] == 1
    [row] = summary["per_series"]
    assert row["readings"] == 288 and row["values_failed_qc"] >= len(FAILED_AT)
    [pair] = row["warnings"]
    assert pair["production_id"] == pair["candidate_id"] and pair["earlier_minutes"] == 0.0
    assert summary["detectors"] == DETECTORS and summary["production_detectors"] == DETECTORS
    assert "would have warned at the same time" in out and "matched=1" in out
    csv_rows = (tmp_path / "o" / "rivertown" / "gauge-hochtal.csv").read_text().splitlines()
    assert csv_rows[0] == ("timestamp,water_level,discharge,water_temperature,anomaly_score,level,warning_level,"
                           "production_level") and len(csv_rows) == 289
    assert csv_rows[1 + FAILED_AT[0]].split(",")[1] == ""           # the FAILed value is left out
    warned, produced = csv_rows[1 + 150].split(",")[-2:]               # at the crest: the level production had
    assert warned == produced == "3"
    assert (tmp_path / "o" / "rivertown" / "gauge-hochtal_warnings.csv").read_text().count("\n") == 2
    assert summary["plots"] == ["plots/rivertown__gauge-hochtal.png"]
    assert (tmp_path / "o" / summary["plots"][0]).stat().st_size > 0


def test_a_lower_rate_threshold_warns_earlier(history, tmp_path, capsys):
    code, out, _ = evaluate(capsys, history, tmp_path / "o", HOCHTAL, "--param",
                            "rate_of_rise.fractions=0.05,0.1,0.2,0.4")
    assert code == 0
    h = json.loads((tmp_path / "o" / "summary.json").read_text())["history"]
    assert (h["production_warnings"], h["matched"], h["missed"], h["extra"]) == (1, 1, 0, 0)
    assert h["earlier_minutes_median"] > 0
    assert f"would have warned {h['earlier_minutes_median']:g} min earlier" in out


def test_the_downstream_warning_is_reproduced_when_its_upstream_is_replayed(history, tmp_path, capsys):
    code, out, _ = evaluate(capsys, history, tmp_path / "o", "rivertown/*")
    assert code == 0
    rows = {row["series"]: row for row in json.loads((tmp_path / "o" / "summary.json").read_text())["per_series"]}
    border = rows["rivertown/gauge-grenzbruecke"]
    assert border["readings"] == 0                                   # it has no gauge data of its own here
    assert (border["history"]["matched"], border["history"]["earlier_minutes_median"]) == (1, 0.0)
    assert rows["rivertown/wx-rivertown"]["history"]["production_warnings"] == 0
    assert "(no readings of its own)" in out


def strip_timing(summary):
    for key in ("replay_seconds", "readings_per_s", "chunks"):
        summary.pop(key)
    return summary


def test_chunking_gives_the_same_results(history, influx, tmp_path, capsys, monkeypatch):
    # the connection comes from the settings as usual: here the environment overrides the file
    config = write_config(tmp_path / "other.toml", influx, database="not_this_one")
    monkeypatch.setenv("RIVERWATCH_INFLUX__DATABASE", influx.database)
    outputs = {}
    for chunk in ("1h", "30d"):
        assert evaluate(capsys, config, tmp_path / chunk, HOCHTAL, "--chunk", chunk, "--max-plots", "0")[0] == 0
        outputs[chunk] = (strip_timing(json.loads((tmp_path / chunk / "summary.json").read_text())),
                          (tmp_path / chunk / "rivertown" / "gauge-hochtal.csv").read_bytes())
    assert outputs["1h"] == outputs["30d"]
    assert outputs["1h"][0]["history"]["matched"] == 1


def test_an_unknown_station_is_named(history, tmp_path, capsys):
    code, _, err = evaluate(capsys, history, tmp_path / "o", "rivertown/gauge-hochtal,rivertown/gauge-nowhere")
    assert code == 2 and "rivertown/gauge-nowhere" in err and "Traceback" not in err
    code, _, err = evaluate(capsys, history, tmp_path / "o", "atlantis/*")
    assert code == 2 and "'atlantis'" in err


def test_an_empty_span_is_a_clean_message(history, tmp_path, capsys):
    code = main(["evaluate", HOCHTAL, "--format", "influx", "--config", history, "--out", str(tmp_path / "o"),
                 "--since", "2030-01-01T00:00:00Z", "--until", "2030-01-02T00:00:00Z", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "no readings of rivertown/gauge-hochtal" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "summary.json").exists()


# --- pure parts ----------------------------------------------------------------------------------

def test_span_relative_times_and_chunks():
    span = Span.parse("2d", "now", "12h", now_s=1_000_000.0)
    assert (span.since_ns, span.until_ns, span.start_ns) == (827_200 * 10**9, 10**15, 784_000 * 10**9)
    chunks = span.chunks(86_400 * 10**9)
    assert chunks[0][0] == span.start_ns and chunks[-1][1] == span.until_ns
    assert all(a < b and b == c for (a, b), (c, _) in zip(chunks, chunks[1:]))


@pytest.mark.parametrize("args, option", [(("tomorrow", "now"), "--since"), (("1d", "2d"), "--since"),
                                          (("1d", "now", "x"), "--warmup")])
def test_bad_span_options_are_named(args, option):
    with pytest.raises(ConfigError, match=option):
        Span.parse(*args, now_s=1e9)


def test_durations():
    assert parse_duration("2w", "--chunk") == 14 * 86400.0
    with pytest.raises(ConfigError, match="--chunk"):
        parse_duration("soon", "--chunk")


def test_stations_resolve_once_in_order():
    got = resolve_stations(CATALOG, ["rivertown/gauge-hochtal", "rivertown/*"])
    assert [s.id for s in got][:2] == ["gauge-hochtal", "gauge-grenzbruecke"] and len(got) == len({s.key for s in got})
    with pytest.raises(ConfigError, match="partner/station"):
        resolve_stations(CATALOG, ["gauge-hochtal"])


def test_warning_spans_keep_those_raised_in_the_span():
    ns = 10**9
    rows = [{"time": 5 * ns, "id": "old", "state": "raised", "level": 1, "hazard": "flood", "since": 5 * ns},
            {"time": 20 * ns, "id": "new", "state": "raised", "level": 1, "hazard": "flood", "since": 20 * ns,
             "detector": "propagation", "evidence": '{"upstream": "gauge-hochtal"}'},
            {"time": 30 * ns, "id": "new", "state": "escalated", "level": 3, "public": True, "hazard": "flood"},
            {"time": 40 * ns, "id": "old", "state": "cleared", "level": 0, "hazard": "flood"}]
    [w] = warning_spans(rows, 10 * ns, 100 * ns)
    assert (w.id, w.raised, w.ended, w.level, w.public, w.upstream) == ("new", 20.0, None, 3, True, "gauge-hochtal")


def test_level_steps_leave_out_private_hazards():
    steps = LevelSteps([{"time": 1, "id": "s", "level": 2, "hazard": "sensor"},
                        {"time": 2, "id": "f", "level": 1, "hazard": "flood"}])
    assert (steps.at(1), steps.at(2), steps.current) == (0, 1, 1)


def test_thinned_stays_bounded():
    th = Thinned(cap=100)
    for i in range(100_000):
        th.add([float(i)])
    kept = th.array()[:, 0]
    assert len(kept) < 100 and kept[0] == 0 and np.all(np.diff(kept) == th.stride)


def test_the_history_replay_shows_values_qc_failed_to_the_sensor_checks_as_production_did():
    # production showed the FAILed codes to sensor_fault only (a maintenance notice); the replay of
    # history, which leaves them out of every reading set, must do the same or miss the notice
    station = CATALOG.station("rivertown", "gauge-hochtal")
    key = station.key
    levels = wave_levels().tolist()
    rows = [((T0 + 600 * i) * NS, key, {"t": T0 + 600.0 * i} | ({} if i in FAILED_AT else {"water_level": v}))
            for i, v in enumerate(levels)]
    failed = {((T0 + 600 * i) * NS, *key): {"water_level": levels[i]} for i in FAILED_AT}
    replay = HistoryReplay(CATALOG, [station], ["level_threshold", "sensor_fault"], {})
    replay.feed(Chunk(rows, {key: len(FAILED_AT)}, failed))
    notices = [e for e in replay.runs[key].events if e["hazard"] == "sensor"]
    assert [(e["state"], e["level"], e["value"]) for e in notices][:1] == [("raised", 3, 9999.0)]  # impossible: WARNING
    assert replay.runs[key].failed == len(FAILED_AT)
