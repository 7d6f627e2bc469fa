"""Benchmarks of riverwatch, run on demand (``make bench`` / ``python -m bench.run``), never in tests.

Modules
-------
workload    the generated 2,000-station catalog and its v1 JSON payloads
mqttraw     a minimal MQTT 3.1.1 publisher of pre-encoded packets (near-zero client overhead)
loadgen     the load generator process: paced publishing, probes, warning triggers, ack counting
measure     latency probes (InfluxDB polling, warning subscription), /proc CPU and memory
ceiling     the broker's delivery rate to the C client (mosquitto_pub / mosquitto_sub)
targets     the systems under test: riverwatch workers and the Node-RED peer
steps       one offered-load step against a target: publish, drain, count, latency
state_memory  detector and warning state per station-quantity
profiling   pyinstrument / py-spy profiles of the worker's hot path
report      results JSON -> docs/performance.md and docs/img/perf_*.png
run         the entry point
"""
