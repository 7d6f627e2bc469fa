"""The ceiling: how fast the broker delivers the same payloads to a C client (mosquitto-clients).

``c_client_ceiling``: N payload lines in a file, ``mosquitto_pub -l -q 1`` feeding one topic,
``mosquitto_sub -C N -q 1 -F %U`` timestamping each delivery; rate = (N - 1) / (last - first).

``multi_topic_ceiling``: the same broker fed by the pre-encoded raw publisher with the real
per-station topics (``rw/v1/<partner>/<station>/data``) as fast as it can, counted by
``mosquitto_sub -t rw/v1/+/+/data``: the delivery rate of the actual workload.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

from bench.loadgen import build_plan
from bench.mqttraw import RawPublisher
from bench.workload import make_workload, payload


def _wait_subscribed(proc: subprocess.Popen, seconds: float = 1.0) -> None:
    time.sleep(seconds)
    if proc.poll() is not None:
        raise RuntimeError(f"mosquitto_sub exited early: {proc.stderr.read().decode()[-400:]}")


def _rate_from_stamps(path: Path, n: int) -> dict:
    lines = path.read_text().split()
    if len(lines) < 2:
        return {"received": len(lines), "msgs_per_s": None}
    first, last = float(lines[0]), float(lines[-1])
    return {"received": len(lines), "first_to_last_s": round(last - first, 4),
            "msgs_per_s": round((len(lines) - 1) / max(1e-9, last - first), 1)}


def _run_sub(host: str, port: int, topic: str, n: int, out: Path, timeout: float) -> subprocess.Popen:
    return subprocess.Popen(
        ["mosquitto_sub", "-h", host, "-p", str(port), "-q", "1", "-t", topic, "-C", str(n), "-F", "%U"],
        stdout=open(out, "wb"), stderr=subprocess.PIPE, start_new_session=True)


def _finish(proc: subprocess.Popen, timeout: float) -> bool:
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        return False


def c_client_ceiling(host: str, port: int, n: int, n_stations: int = 2000, inflight: int = 1000,
                     timeout: float = 120.0) -> dict:
    """Broker -> C client delivery rate of ``n`` workload payloads on one topic (QoS 1 both ways)."""
    wl = make_workload(n_stations, 0)
    with tempfile.TemporaryDirectory(prefix="rw-ceiling-") as tmp:
        lines = Path(tmp) / "payloads.txt"
        t_base = time.time()
        with open(lines, "wb") as f:
            for i in range(n):
                st = wl.load[i % len(wl.load)]
                f.write(payload(st, t_base + i * 1e-3, 1 + i // len(wl.load)) + b"\n")
        stamps = Path(tmp) / "stamps.txt"
        sub = _run_sub(host, port, "bench/ceiling", n, stamps, timeout)
        pub = None
        try:
            _wait_subscribed(sub)
            t0 = time.monotonic()
            # stdin stays open until the subscriber has everything: mosquitto_pub 2.0.11 drops the
            # messages still queued in libmosquitto when -l reaches end of file
            pub = subprocess.Popen(
                ["mosquitto_pub", "-h", host, "-p", str(port), "-q", "1", "-M", str(inflight), "-l",
                 "-t", "bench/ceiling"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
            pub.stdin.write(lines.read_bytes())
            pub.stdin.flush()
            complete = _finish(sub, timeout)
            pub_s = time.monotonic() - t0
        finally:
            for proc in (sub, pub):
                if proc is not None and proc.poll() is None:
                    if proc is pub:
                        proc.stdin.close()
                        try:
                            proc.wait(5)
                            continue
                        except subprocess.TimeoutExpired:
                            pass
                    proc.kill()
                    proc.wait(5)
        result = _rate_from_stamps(stamps, n)
    rpm = wl.readings_per_message
    result.update({"method": "mosquitto_pub -l -q 1 -M %d | broker | mosquitto_sub -q 1 -C N -F %%U" % inflight,
                   "messages": n, "complete": complete, "wall_s": round(pub_s, 3),
                   "readings_per_message": rpm,
                   "readings_per_s": round(result["msgs_per_s"] * rpm, 1) if result.get("msgs_per_s") else None})
    return result


def multi_topic_ceiling(host: str, port: int, n: int, n_stations: int = 2000, timeout: float = 120.0) -> dict:
    """Broker -> ``mosquitto_sub`` rate of the workload's per-station topics, fed unpaced by the raw
    publisher (all ``n`` packets pre-encoded)."""
    spec = dict(n_stations=n_stations, n_alarm=0, rate_msgs=1e7, duration_s=n / 1e7, seq_base=1,
                ts_base=time.time(), probe_interval_s=0, triggers=[])
    plan = build_plan(spec)
    with tempfile.TemporaryDirectory(prefix="rw-ceiling-") as tmp:
        stamps = Path(tmp) / "stamps.txt"
        sub = _run_sub(host, port, "rw/v1/+/+/data", plan.n_load, stamps, timeout)
        try:
            _wait_subscribed(sub)
            pub = RawPublisher(host, port, "bench-ceiling-raw")
            try:
                pub.send(plan.buffer)
                pub.wait_acks(len(plan.schedule), timeout)
            finally:
                pub.close()
            complete = _finish(sub, timeout)
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.wait(5)
        result = _rate_from_stamps(stamps, plan.n_load)
    rpm = plan.load_readings / plan.n_load
    result.update({"method": "pre-encoded raw QoS 1 publisher, 2,000 topics | broker | mosquitto_sub -q 1",
                   "messages": plan.n_load, "complete": complete, "readings_per_message": rpm,
                   "readings_per_s": round(result["msgs_per_s"] * rpm, 1) if result.get("msgs_per_s") else None})
    return result


if __name__ == "__main__":  # pragma: no cover - manual use
    import sys

    print(json.dumps(c_client_ceiling(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])), indent=2))
