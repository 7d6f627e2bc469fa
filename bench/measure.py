"""Measuring instruments: latency probes, the warning listener, stored counts, /proc CPU and memory.

Latency publish -> stored
    The load generator publishes a *probe* message every 50 ms (station ``probe-0``, increasing
    ``seq``) in the same stream as the load and notes the wall time it sent each one. A poller
    asks InfluxDB every ``interval_s`` for ``last(seq)`` of the probe's water_level series; a probe
    is stored at the first poll that sees its seq (or a later one). Resolution: the poll interval
    plus the query time (a few ms); probes share the connection, broker queue and worker with the
    load, so they wait exactly as long as the load does.

Latency publish -> warning
    Alarm stations are primed with a reading 700 s in the past and then, at a known time inside the
    window, send a second reading above their ``watch`` threshold (``level_threshold`` persistence:
    two readings spanning 600 s). A paho subscriber on ``rw/v1/+/+/warning/+`` notes when each
    station's (non-retained) warning message arrives.

Examples
--------
>>> percentiles([0.1, 0.2, 0.3, 0.4])["p50"]
0.25
>>> match_latencies({"1": 10.0, "2": 10.1}, [(10.06, 1), (10.3, 2)])
[0.06..., 0.2...]
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from riverwatch.influx import InfluxClient, quote_ident
from riverwatch.storage import READING

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentiles(samples: list[float]) -> dict[str, float | int | None]:
    """p50/p90/p99/max and count of ``samples`` (None when empty)."""
    if not samples:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None}
    arr = np.asarray(samples, dtype=float)
    return {"n": int(arr.size), "p50": round(float(np.percentile(arr, 50)), 4),
            "p90": round(float(np.percentile(arr, 90)), 4), "p99": round(float(np.percentile(arr, 99)), 4),
            "max": round(float(arr.max()), 4)}


def match_latencies(sent: dict[str, float], seen: list[tuple[float, int]]) -> list[float]:
    """Latency of each sent probe: first observation time with ``last(seq) >= seq`` minus send time."""
    out = []
    seen = sorted(seen)
    for seq_text, t_sent in sorted(sent.items(), key=lambda kv: int(kv[0])):
        seq = int(seq_text)
        for t_seen, last_seq in seen:
            if last_seq >= seq and t_seen >= t_sent:
                out.append(t_seen - t_sent)
                break
    return out


# --------------------------------------------------------------------------- /proc


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads) in seconds; 0.0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of ``pid`` in KiB."""
    out = {"rss_kib": 0, "hwm_kib": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_kib"] = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                out["hwm_kib"] = int(line.split()[1])
    except OSError:
        pass
    return out


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return (total - idle) / _CLK_TCK, total / _CLK_TCK


# --------------------------------------------------------------------------- InfluxDB


class ProbePoller:
    """Thread polling ``last(seq)`` of the probe series; keeps ``(wall time, last seq)`` changes."""

    def __init__(self, influx_url: str, database: str, station: str, quantity: str = "water_level",
                 measurement: str = READING, interval_s: float = 0.05) -> None:
        self.client = InfluxClient(influx_url, database, timeout=5.0)
        self.query = (f"SELECT last(\"seq\") FROM {quote_ident(measurement)} WHERE \"station\" = '{station}' "
                      f"AND \"quantity\" = '{quantity}' AND time > now() - 2h")
        self.interval_s = interval_s
        self.seen: list[tuple[float, int]] = []
        self.errors = 0
        self.query_s: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="probe-poller", daemon=True)

    def _loop(self) -> None:
        last = None
        while not self._stop.is_set():
            t0 = time.time()
            try:
                rows = self.client.query_rows(self.query)
            except Exception:
                self.errors += 1
                rows = []
            t1 = time.time()
            self.query_s.append(t1 - t0)
            if rows and rows[0].get("last") is not None:
                seq = int(rows[0]["last"])
                if seq != last:
                    # stored no later than the end of the query that first saw it
                    self.seen.append((t1, seq))
                    last = seq
            self._stop.wait(max(0.0, self.interval_s - (time.time() - t0)))

    def start(self) -> "ProbePoller":
        """Start polling."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling and close the client."""
        self._stop.set()
        self._thread.join(5.0)
        self.client.close()

    def last_seq(self) -> int | None:
        """The latest probe seq seen so far."""
        return self.seen[-1][1] if self.seen else None


def count_readings(client: InfluxClient, t_from: float, t_to: float, measurement: str = READING,
                   exclude_prefix: tuple[str, ...] = ("probe-", "alarm-")) -> int:
    """Readings of load stations stored with a device time in ``[t_from, t_to)`` (epoch seconds)."""
    where = " AND ".join(f"\"station\" !~ /^{p}/" for p in exclude_prefix)
    q = (f"SELECT count(\"value\") FROM {quote_ident(measurement)} WHERE time >= {int(t_from * 1e9)} "
         f"AND time < {int(t_to * 1e9)}" + (f" AND {where}" if where else ""))
    rows = client.query_rows(q)
    return int(rows[0]["count"]) if rows else 0


# --------------------------------------------------------------------------- warnings


class WarningListener:
    """paho subscriber noting the first live (non-retained) warning message per station."""

    def __init__(self, host: str, port: int, topic: str = "rw/v1/+/+/warning/+") -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.first: dict[str, float] = {}
        self.messages = 0
        self._ready = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-warnings-{os.getpid()}")
        client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        client.on_subscribe = lambda *args: self._ready.set()
        client.on_message = self._on_message
        self.client = client
        client.connect(host, port, keepalive=30)
        client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        now = time.time()
        self.messages += 1
        if message.retain:
            return
        parts = message.topic.split("/")
        key = f"{parts[2]}/{parts[3]}"
        self.first.setdefault(key, now)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once subscribed."""
        return self._ready.wait(timeout)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()
