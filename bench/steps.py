"""One offered-load step against a target, and the ladder of rising steps.

A step: the load generator (separate process) publishes ``rate`` readings/s for ``window_s``
seconds; afterwards the harness waits for the backlog to drain (the last probe stored), counts the
stored readings of the step's device-time range in the target's database, and reads CPU and memory
of the target's processes from /proc. The target *keeps up* when every sent reading is stored and
the backlog drained within ``lag_bound_s`` of the end of sending.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from riverwatch.influx import InfluxClient
from application.services import ServiceUrls

from bench.measure import (ProbePoller, WarningListener, count_readings, cpu_seconds, machine_cpu_seconds,
                           match_latencies, memory_kib, percentiles)
from bench.targets import REPO

LAG_BOUND_S = 2.0


class StepCounter:
    """Hands out step numbers (sequence bases) and fresh alarm stations across a whole run."""

    def __init__(self, n_alarm: int) -> None:
        self.step = 0
        self.n_alarm = n_alarm
        self.next_alarm = 0

    def next_step(self) -> int:
        """A new step number (its seq base is ``step * 10_000_000 + 1``)."""
        self.step += 1
        return self.step

    def alarms(self, n: int) -> list[int]:
        """``n`` alarm stations never used before (fewer when the pool is exhausted)."""
        start, self.next_alarm = self.next_alarm, min(self.n_alarm, self.next_alarm + n)
        return list(range(start, self.next_alarm))


def _read_event(proc: subprocess.Popen, timeout: float) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None and not select.select([proc.stdout], [], [], 0)[0]:
            return None
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line:
                try:
                    return json.loads(line)
                except ValueError:
                    continue
    return None


def run_step(target, urls: ServiceUrls, counter: StepCounter, *, rate_readings: float, window_s: float,
             n_stations: int, n_alarm: int, rpm: float, n_triggers: int = 0,
             warnings: WarningListener | None = None, drain_timeout_s: float = 30.0,
             lag_bound_s: float = LAG_BOUND_S, probe_interval_s: float = 0.05,
             aux_pids: dict[str, int] | None = None, label: str = "") -> dict:
    """Offer ``rate_readings`` readings/s to ``target`` for ``window_s`` s and measure (see module doc)."""
    step = counter.next_step()
    rate_msgs = rate_readings / rpm
    ts_base = time.time()
    triggers = [{"alarm": a, "at_s": window_s * (0.2 + 0.6 * k / max(1, n_triggers))}
                for k, a in enumerate(counter.alarms(n_triggers))]
    spec = dict(host=urls.mqtt_host, port=urls.mqtt_port, client_id=f"bench-loadgen-{step}",
                n_stations=n_stations, n_alarm=n_alarm, rate_msgs=rate_msgs, duration_s=window_s,
                seq_base=step * 10_000_000 + 1, ts_base=ts_base, probe_interval_s=probe_interval_s,
                triggers=triggers, ack_timeout_s=max(60.0, drain_timeout_s))
    influx = InfluxClient(urls.influx_url, target.database, timeout=60.0)
    poller = ProbePoller(urls.influx_url, target.database, "probe-0").start()
    with tempfile.TemporaryDirectory(prefix="rw-step-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec))
        gen = subprocess.Popen([sys.executable, "-m", "bench.loadgen", str(spec_path), str(out_path)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            started = _read_event(gen, 180.0)
            if started is None:
                raise RuntimeError(f"load generator did not start: {gen.stderr.read().decode()[-1500:]}")
            pids = {f"worker-{i}": pid for i, pid in enumerate(target.pids())}
            watched = {**pids, **(aux_pids or {}), "loadgen": gen.pid}
            cpu0 = {name: cpu_seconds(pid) for name, pid in watched.items()}
            mach0 = machine_cpu_seconds()
            cpu_gen = _wait_child_cpu(gen, 3 * window_s + 120)
            mach1 = machine_cpu_seconds()
            sent = json.loads(out_path.read_text())
        finally:
            if gen.poll() is None:
                gen.kill()
                gen.wait(5)
    send_end = sent["t_start"] + sent["send_s"]
    last_probe = max((int(s) for s in sent["probe_sent"]), default=None)
    deadline = time.monotonic() + drain_timeout_s
    while last_probe is not None and time.monotonic() < deadline:
        if (poller.last_seq() or 0) >= last_probe:
            break
        time.sleep(0.05)
    drained_at = next((t for t, s in poller.seen if last_probe is not None and s >= last_probe), None)
    # device times are whole milliseconds (format_time truncates): start the range a little early
    stored, stable, t_count = _count_until_complete(influx, ts_base - 0.5, ts_base + window_s + 1,
                                                    sent["readings_sent"] - _extra_readings(sent, rpm),
                                                    time.monotonic() + max(5.0, deadline - time.monotonic()))
    poller.stop()
    cpu1 = {name: cpu_seconds(pid) for name, pid in watched.items()}
    memory = {name: memory_kib(pid) for name, pid in pids.items()}
    influx.close()
    load_sent = sent["load_readings"] if sent["packets_sent"] == sent["packets_planned"] else None
    latencies = match_latencies(sent["probe_sent"], poller.seen)
    drain_s = None if drained_at is None else max(0.0, drained_at - send_end)
    cpu = {name: round(cpu1[name] - cpu0[name], 3) for name in watched}
    cpu["loadgen"] = None if cpu_gen is None else round(cpu_gen, 3)
    worker_cpu = sum(cpu[name] for name in pids)
    span = max(1e-9, sent["send_s"])
    result = {
        "label": label, "target": target.name, "step": step,
        "offered_readings_per_s": round(rate_readings, 1), "offered_msgs_per_s": round(rate_msgs, 1),
        "window_s": window_s, "sent_readings": sent["load_readings"] if load_sent is not None else None,
        "sent_messages": sent["load_messages"], "acked_packets": sent["packets_acked"],
        "packets_sent": sent["packets_sent"], "packets_planned": sent["packets_planned"],
        "achieved_send_readings_per_s": round(sent["readings_sent"] / span, 1),
        "send_behind_max_s": round(sent["behind_max_s"], 3),
        "stored_readings": stored, "stored_count_stable": stable,
        "lost_readings": None if load_sent is None else load_sent - stored,
        "drain_s": None if drain_s is None else round(drain_s, 3),
        "throughput_readings_per_s": round(stored / (span + (drain_s if drain_s is not None else
                                                             max(0.0, t_count - send_end))), 1),
        "latency_stored_s": percentiles(latencies),
        "probe_query_s": percentiles(poller.query_s),
        "cpu_s": cpu, "worker_cpu_s": round(worker_cpu, 3),
        "worker_cpu_us_per_reading": round(worker_cpu / stored * 1e6, 2) if stored else None,
        "machine_busy_fraction": round((mach1[0] - mach0[0]) / max(1e-9, mach1[1] - mach0[1]), 3),
        "worker_memory_kib": memory,
    }
    result["kept_up"] = bool(load_sent is not None and stored >= load_sent and drain_s is not None
                             and drain_s <= lag_bound_s and sent["behind_max_s"] < 1.0)
    if triggers and warnings is not None:
        time.sleep(0.5)
        lat = [warnings.first[st] - t for st, t in sent["trigger_sent"].items() if st in warnings.first]
        result["latency_warning_s"] = percentiles(lat)
        result["warnings_missing"] = len(sent["trigger_sent"]) - len(lat)
    return result


def _wait_child_cpu(proc: subprocess.Popen, timeout: float) -> float | None:
    """Reap ``proc`` with ``wait4`` (its rusage survives its exit); CPU seconds, None on timeout."""
    import os

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.05)
    return None


def _extra_readings(sent: dict, rpm: float) -> int:
    """Readings of probe and alarm packets (not counted in the load-station count)."""
    return sent["readings_sent"] - sent["load_readings"] if sent["packets_sent"] == sent["packets_planned"] else 0


def _count_until_complete(influx: InfluxClient, t_from: float, t_to: float, expected: int,
                          deadline: float) -> tuple[int, bool, float]:
    """Count stored load readings until ``expected`` or the count stops moving (3 equal polls)."""
    last, same = -1, 0
    while True:
        try:
            n = count_readings(influx, t_from, t_to)
        except Exception:
            n = last
        now = time.monotonic()
        if n >= expected:
            return n, True, time.time()
        same = same + 1 if n == last else 0
        if same >= 3 or now >= deadline:
            return max(n, 0), same >= 3, time.time()
        last = n
        time.sleep(1.0)


def ladder(target, urls: ServiceUrls, counter: StepCounter, rates: list[float], *, window_s: float,
           log=print, stop_after_failures: int = 1, **step_kwargs) -> list[dict]:
    """Run rising ``rates`` until ``stop_after_failures`` steps in a row did not keep up."""
    results, failures = [], 0
    for rate in rates:
        log(f"bench:   {target.name}: offering {rate:,.0f} readings/s for {window_s:.0f} s ...")
        res = run_step(target, urls, counter, rate_readings=rate, window_s=window_s, **step_kwargs)
        lat = res["latency_stored_s"]
        log(f"bench:     stored {res['stored_readings']:,} of {res['sent_readings'] or 0:,}, "
            f"drain {res['drain_s']} s, p50/p99 {lat['p50']}/{lat['p99']} s, "
            f"{res['worker_cpu_us_per_reading']} us CPU/reading, "
            f"{'kept up' if res['kept_up'] else 'DID NOT keep up'}")
        results.append(res)
        failures = 0 if res["kept_up"] else failures + 1
        if failures >= stop_after_failures:
            break
        # let the last step's tail (checkpoints, compaction) settle before the next one
        time.sleep(1.0)
    return results


def sustained(results: list[dict]) -> dict | None:
    """The highest step that kept up (None when none did)."""
    ok = [r for r in results if r["kept_up"]]
    return max(ok, key=lambda r: r["offered_readings_per_s"]) if ok else None
