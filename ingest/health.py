"""Liveness and readiness of one ingest worker, served as ``/healthz`` and ``/readyz`` beside ``/metrics``.

- **live** (``/healthz``): the processing thread still ticks (its last tick is younger than
  :data:`LIVE_LIMIT_S`). A worker that is not live should be restarted.
- **ready** (``/readyz``): live, connected and subscribed to MQTT, InfluxDB answers its ping, the
  backlog is below ``ingest.max_queue`` and the spool below :data:`SPOOL_READY_FRACTION` of
  ``ingest.spool_max_bytes``. A worker that is not ready still runs (it spools, it holds reads)
  but is not doing its job: the compose healthcheck and a load balancer look here.

Both answer ``200`` or ``503`` with a JSON body naming every check::

    {"status": "ready", "checks": {"live": {"ok": true, "tick_age_s": 0.4}, "mqtt": {"ok": true, ...}, ...}}

Examples
--------
>>> from ingest.stats import StatsSnapshot
>>> health = Health(lambda: StatsSnapshot(mqtt_connected=True, max_queue=10), lambda: True, 1 << 20, lambda: 0.5)
>>> status, body = health.ready()
>>> status, body["status"], sorted(body["checks"])
(200, 'ready', ['backlog', 'influxdb', 'live', 'mqtt', 'spool'])
>>> Health(lambda: StatsSnapshot(max_queue=10), lambda: True, 1 << 20, lambda: 0.5).ready()[1]["checks"]["mqtt"]
{'ok': False, 'connected': False, 'last_failure': None}
"""

from __future__ import annotations

from collections.abc import Callable

from ingest.stats import StatsSnapshot

#: The processing thread ticks every second; this long without a tick and the worker is not live.
LIVE_LIMIT_S = 60.0
#: Not ready once the spool holds this share of ``ingest.spool_max_bytes`` (it is about to hold acks back).
SPOOL_READY_FRACTION = 0.9


class Health:
    """The worker's liveness and readiness, computed on each request (any thread).

    Parameters
    ----------
    snapshot
        Builds the worker's :class:`~ingest.stats.StatsSnapshot`.
    ping_influx
        True when InfluxDB answers now (a short ``/ping``; not the writer's connection).
    spool_max_bytes
        ``ingest.spool_max_bytes``.
    tick_age_s
        Seconds since the processing thread's last tick.
    mqtt_failure
        Why the last MQTT connection attempt failed (None once connected).
    """

    def __init__(self, snapshot: Callable[[], StatsSnapshot], ping_influx: Callable[[], bool], spool_max_bytes: int,
                 tick_age_s: Callable[[], float], mqtt_failure: Callable[[], str | None] = lambda: None) -> None:
        self.snapshot = snapshot
        self.ping_influx = ping_influx
        self.spool_max_bytes = spool_max_bytes
        self.tick_age_s = tick_age_s
        self.mqtt_failure = mqtt_failure

    def live_check(self) -> dict:
        """``{"ok": …, "tick_age_s": …}``: the processing thread ticked within :data:`LIVE_LIMIT_S`."""
        age = float(self.tick_age_s())
        return {"ok": age < LIVE_LIMIT_S, "tick_age_s": round(age, 3)}

    def live(self) -> tuple[int, dict]:
        """HTTP status and body of ``/healthz``."""
        check = self.live_check()
        return _answer({"live": check}, "live", "not live")

    def ready(self) -> tuple[int, dict]:
        """HTTP status and body of ``/readyz``: every dependency, the backlog and the spool."""
        snap = self.snapshot()
        spool_limit = int(self.spool_max_bytes * SPOOL_READY_FRACTION)
        checks = {
            "live": self.live_check(),
            "mqtt": {"ok": bool(snap.mqtt_connected), "connected": bool(snap.mqtt_connected),
                     "last_failure": None if snap.mqtt_connected else self.mqtt_failure()},
            "influxdb": {"ok": bool(self.ping_influx()), "writer_down": bool(snap.influx_down)},
            "backlog": {"ok": snap.backlog < snap.max_queue, "messages": snap.backlog, "limit": snap.max_queue},
            "spool": {"ok": snap.spool_bytes < spool_limit, "bytes": snap.spool_bytes, "limit": spool_limit},
        }
        return _answer(checks, "ready", "not ready")


def _answer(checks: dict[str, dict], good: str, bad: str) -> tuple[int, dict]:
    ok = all(check["ok"] for check in checks.values())
    return (200 if ok else 503), {"status": good if ok else bad, "checks": checks}
