"""The load generator: a separate process publishing a paced stream of pre-encoded QoS 1 messages.

Run as ``python -m bench.loadgen SPEC.json RESULT.json``. It builds every packet first (load
stations round-robin at ``rate_msgs`` messages/s for ``duration_s``, plus probe messages every
``probe_interval_s`` and the alarm messages of ``triggers``), prints one JSON line
``{"event": "start", "t": <wall time>}`` when sending begins, sends on schedule in ticks, waits for
the broker's PUBACKs and writes the result (what was sent and acknowledged, the wall send time of
every probe and trigger) to ``RESULT.json``.

Examples
--------
>>> plan = build_plan(dict(n_stations=4, n_alarm=2, rate_msgs=100.0, duration_s=0.1, seq_base=1,
...                        ts_base=1.8e9, probe_interval_s=0.05, triggers=[{"alarm": 1, "at_s": 0.05}]))
>>> plan.n_load, plan.load_readings, sorted(kind for kind, _ in plan.markers.values())
(10, 35, ['probe', 'probe', 'probe', 'trigger'])
"""

from __future__ import annotations

import bisect
import json
import sys
import time
from dataclasses import dataclass

from bench.mqttraw import RawPublisher, encode_publish
from bench.workload import alarm_payload, make_workload, payload

#: Seconds before ``ts_base`` of an alarm station's first (priming) reading: with the default
#: ``level_threshold`` persistence (two readings spanning 600 s) the second one raises the warning.
PRIME_BEFORE_S = 700.0


@dataclass
class Plan:
    """Every packet of a run, in order, with its scheduled send offset (seconds from start)."""

    buffer: bytes
    offsets: list[int]          # packet k is buffer[offsets[k]:offsets[k + 1]]
    schedule: list[float]
    cumulative_readings: list[int]  # readings in packets [0, k)
    markers: dict[int, tuple[str, object]]  # packet index -> ("probe", seq) | ("trigger", station)
    n_load: int
    load_readings: int


def build_plan(spec: dict) -> Plan:
    """Encode all packets of ``spec`` (see the module docstring)."""
    wl = make_workload(spec["n_stations"], spec["n_alarm"])
    rate, duration = float(spec["rate_msgs"]), float(spec["duration_s"])
    seq_base, ts_base = int(spec["seq_base"]), float(spec["ts_base"])
    items: list[tuple[float, int, str, bytes, int, tuple | None]] = []  # (t, order, topic, payload, n, marker)
    n_load = int(rate * duration)
    load, n_st = wl.load, len(wl.load)
    for i in range(n_load):
        st = load[i % n_st]
        t = i / rate
        items.append((t, 1, st.topic, payload(st, ts_base + t, seq_base + i // n_st), len(st.quantities), None))
    interval = float(spec.get("probe_interval_s") or 0.0)
    if interval > 0:
        probe = wl.probe
        for k in range(int(duration / interval) + 1):
            t = k * interval
            items.append((t, 2, probe.topic, payload(probe, ts_base + t, seq_base + k), len(probe.quantities),
                          ("probe", seq_base + k)))
    for trig in spec.get("triggers") or []:
        st = wl.alarms[trig["alarm"]]
        items.append((0.0, 0, st.topic, alarm_payload(st, ts_base - PRIME_BEFORE_S, seq_base), len(st.quantities),
                      None))
        items.append((float(trig["at_s"]), 3, st.topic, alarm_payload(st, ts_base + float(trig["at_s"]), seq_base + 1),
                      len(st.quantities), ("trigger", f"{st.partner}/{st.id}")))
    items.sort(key=lambda item: (item[0], item[1]))
    chunks, offsets, schedule, cumulative, markers = [], [0], [], [0], {}
    pos = 0
    for k, (t, _order, topic, body, n, marker) in enumerate(items):
        packet = encode_publish(topic, body, k % 65535 + 1)
        chunks.append(packet)
        pos += len(packet)
        offsets.append(pos)
        schedule.append(t)
        cumulative.append(cumulative[-1] + n)
        if marker is not None:
            markers[k] = marker
    load_readings = sum(len(load[i % n_st].quantities) for i in range(n_load))
    return Plan(b"".join(chunks), offsets, schedule, cumulative, markers, n_load, load_readings)


def send_plan(plan: Plan, publisher: RawPublisher, tick_s: float = 0.005, max_s: float = 600.0,
              on_start=None) -> dict:
    """Send ``plan`` on schedule; return send statistics and marker send times (wall clock)."""
    view = memoryview(plan.buffer)
    n = len(plan.schedule)
    marker_idx = sorted(plan.markers)
    sent_at: list[tuple[str, object, float]] = []
    m = 0
    i = 0
    behind = 0.0
    t0 = time.monotonic()
    wall0 = time.time()
    if on_start is not None:
        on_start(wall0)
    while i < n:
        now = time.monotonic() - t0
        if now > max_s:
            break
        j = bisect.bisect_right(plan.schedule, now, lo=i)
        if j <= i:
            time.sleep(min(tick_s, max(0.0, plan.schedule[i] - now)))
            continue
        behind = max(behind, now - plan.schedule[i])
        wall = time.time()
        while m < len(marker_idx) and marker_idx[m] < j:
            kind, ref = plan.markers[marker_idx[m]]
            sent_at.append((kind, ref, wall))
            m += 1
        publisher.send(view[plan.offsets[i]:plan.offsets[j]])
        i = j
    t_end = time.monotonic() - t0
    return {"t_start": wall0, "send_s": t_end, "packets_sent": i, "behind_max_s": behind,
            "readings_sent": plan.cumulative_readings[i], "marker_times": sent_at}


def run(spec: dict, on_start=None) -> dict:
    """Build, connect, send, wait for acknowledgements; the result dict of a run."""
    plan = build_plan(spec)
    publisher = RawPublisher(spec["host"], int(spec["port"]), spec.get("client_id", "bench-loadgen"))
    try:
        sent = send_plan(plan, publisher, float(spec.get("tick_s", 0.005)),
                         float(spec.get("max_s", 3 * float(spec["duration_s"]) + 30)), on_start)
        publisher.wait_acks(sent["packets_sent"], float(spec.get("ack_timeout_s", 60.0)))
        acks = min(publisher.acks, sent["packets_sent"])
    finally:
        publisher.close()
    probes = {str(ref): t for kind, ref, t in sent["marker_times"] if kind == "probe"}
    triggers = {str(ref): t for kind, ref, t in sent["marker_times"] if kind == "trigger"}
    return {
        "offered_msgs_per_s": float(spec["rate_msgs"]), "duration_s": float(spec["duration_s"]),
        "load_messages": plan.n_load, "load_readings": plan.load_readings,
        "packets_planned": len(plan.schedule), "packets_sent": sent["packets_sent"],
        "readings_sent": sent["readings_sent"], "packets_acked": acks,
        "readings_acked": plan.cumulative_readings[acks], "t_start": sent["t_start"],
        "send_s": sent["send_s"], "behind_max_s": sent["behind_max_s"],
        "probe_sent": probes, "trigger_sent": triggers,
    }


def main(argv: list[str]) -> int:
    """``python -m bench.loadgen SPEC.json RESULT.json``."""
    spec = json.loads(open(argv[0]).read())

    def announce(wall: float) -> None:
        print(json.dumps({"event": "start", "t": wall}), flush=True)

    result = run(spec, announce)
    with open(argv[1], "w") as f:
        json.dump(result, f)
    print(json.dumps({"event": "done"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
