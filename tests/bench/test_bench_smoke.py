"""Smoke test of the benchmark harness at a trivially small size: it runs, nothing is timed."""

from __future__ import annotations

import doctest
import importlib
import json

import pytest

from bench import loadgen, measure, mqttraw, profiling, report, state_memory, targets, workload
from bench.workload import make_workload, write_catalog
from riverwatch.catalog import load_catalog
from riverwatch.contract import decode_payload

BENCH_MODULES = ["bench.workload", "bench.mqttraw", "bench.loadgen", "bench.measure", "bench.profiling",
                 "bench.report"]


@pytest.mark.parametrize("name", BENCH_MODULES)
def test_bench_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_generated_catalog_loads_and_payloads_decode(tmp_path):
    wl = make_workload(6, n_alarm=2)
    catalog = load_catalog(write_catalog(wl, tmp_path / "catalog.toml"))
    assert len(catalog.stations) == 6 + 1 + 2
    for st in wl.all_stations:
        raw = decode_payload(workload.payload(st, 1.8e9, 3))
        assert [q for q, _v, _u in raw.values] == [q for q, _u, _b in st.quantities]
        spec = catalog.station(st.partner, st.id).quantities
        assert all(spec[q].level_for(v).name == "NONE" for q, v, _u in raw.values)
    alarm = decode_payload(workload.alarm_payload(wl.alarms[0], 1.8e9, 1))
    assert dict((q, v) for q, v, _u in alarm.values)["water_level"] == workload.ALARM_LEVEL


def test_plan_orders_packets_and_counts_readings():
    plan = loadgen.build_plan(dict(n_stations=4, n_alarm=2, rate_msgs=200.0, duration_s=0.1, seq_base=1,
                                   ts_base=1.8e9, probe_interval_s=0.05, triggers=[{"alarm": 0, "at_s": 0.02}]))
    assert plan.schedule == sorted(plan.schedule)
    assert len(plan.offsets) == len(plan.schedule) + 1 == len(plan.cumulative_readings)
    assert plan.cumulative_readings[-1] == plan.load_readings + 3 * 3 + 2 * 3


def test_loadgen_publishes_and_broker_acknowledges(services):
    spec = dict(host=services.mqtt_host, port=services.mqtt_port, client_id="bench-smoke", n_stations=4,
                n_alarm=1, rate_msgs=200.0, duration_s=0.1, seq_base=1, ts_base=1.8e9, probe_interval_s=0.05,
                triggers=[{"alarm": 0, "at_s": 0.05}], ack_timeout_s=10.0)
    result = loadgen.run(spec)
    assert result["packets_sent"] == result["packets_planned"] == result["packets_acked"]
    assert set(result["probe_sent"]) == {"1", "2", "3"}
    assert list(result["trigger_sent"]) == ["basin-a/alarm-000"]


def test_raw_publisher_rejects_nothing_it_sends(services):
    pub = mqttraw.RawPublisher(services.mqtt_host, services.mqtt_port, "bench-smoke-raw")
    try:
        pub.send(b"".join(mqttraw.encode_publish("bench/smoke", b"x", k) for k in range(1, 6)))
        assert pub.wait_acks(5, 10.0)
    finally:
        pub.close()


def test_state_memory_and_hot_path_run_tiny():
    mem = state_memory.measure_state(n_stations=4, readings_each=2, alarm_every=2)
    assert mem["station_quantities"] == 14 and mem["pickle_bytes"] > 0
    hot = profiling.hot_path(n_messages=12, n_stations=4, profile=False)
    assert hot["messages"] == 8 and hot["readings"] > 0


def test_node_red_flows_are_wired():
    for variant in ("plain", "batch"):
        flow = targets.node_red_flow(variant, 1883, 8086, "db")
        ids = {node["id"] for node in flow}
        for node in flow:
            for outputs in node.get("wires", []):
                assert set(outputs) <= ids
        assert any(node["type"] == ("influxdb batch" if variant == "batch" else "influxdb out") for node in flow)


def test_report_renders_a_minimal_result(tmp_path):
    step = {"label": "", "offered_readings_per_s": 5000.0, "offered_msgs_per_s": 1428.6, "sent_readings": 10,
            "stored_readings": 10, "lost_readings": 0, "drain_s": 0.1, "throughput_readings_per_s": 9.0,
            "latency_stored_s": measure.percentiles([0.1, 0.2]), "worker_cpu_us_per_reading": 50.0,
            "machine_busy_fraction": 0.5, "kept_up": True, "worker_memory_kib": {"worker-0": {"hwm_kib": 2048}}}
    res = {"name": "smoke", "machine": {}, "workload": {}, "ceiling": {"c_client": {"readings_per_s": 10000.0}},
           "targets": [{"name": "riverwatch, 1 worker", "kind": "riverwatch", "steps": [step], "sustained": step}]}
    doc = tmp_path / "performance.md"
    report.write_report(json.loads(json.dumps(res)), doc, tmp_path / "img" / "perf_latency.png")
    text = doc.read_text()
    assert report.BEGIN in text and "riverwatch, 1 worker" in text
    report.write_report(res, doc, tmp_path / "img" / "perf_latency.png")  # rewrites only the block
    assert doc.read_text().count(report.BEGIN) == 1
