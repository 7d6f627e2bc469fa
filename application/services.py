"""Start and stop the embedded local services: Mosquitto and InfluxDB 1.x, without systemd.

Each service lives in its own folder of a state dir, with its generated config, its data, its log
and its pid file (:mod:`application.local_mosquitto`, :mod:`application.local_influxdb`, both
built on :mod:`application.processes`)::

    <state_dir>/mosquitto/   mosquitto.conf  mosquitto.pid  mosquitto.log  console.log  data/  port
    <state_dir>/influxdb/    influxdb.conf   influxd.pid    console.log    meta/ data/ wal/   port
    <state_dir>/services.env services.json

Services listen on loopback only, on free ports. A service that is stopped and started again with
:func:`restart_mosquitto` or :func:`restart_influxdb` reuses its config verbatim: same port, same
data dir, same password and ACL files, so tests can take the broker or the database away mid-stream
and prove that nothing is lost.

Examples
--------
>>> urls = ServiceUrls("127.0.0.1", 1883, "http://127.0.0.1:8086", Path(".riverwatch"))
>>> urls.as_env()["RIVERWATCH_MQTT__PORT"]
'1883'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from riverwatch.errors import ServiceError

from application.local_influxdb import influxdb_state, restart_influxdb, start_influxdb, stop_influxdb
from application.local_mosquitto import (MOSQUITTO_MAX_INFLIGHT, mosquitto_state, restart_mosquitto, start_mosquitto,
                                         stop_mosquitto)
from application.processes import LOOPBACK, find_binary, free_port, stop_process

__all__ = [
    "MOSQUITTO_MAX_INFLIGHT",
    "ServiceUrls",
    "find_binary",
    "free_port",
    "load_service_env",
    "restart_influxdb",
    "restart_mosquitto",
    "services_down",
    "services_status",
    "services_up",
    "start_influxdb",
    "start_mosquitto",
    "stop_influxdb",
    "stop_mosquitto",
    "stop_process",
]


@dataclass(frozen=True)
class ServiceUrls:
    """Where the local services answer.

    Parameters
    ----------
    mqtt_host, mqtt_port
        The Mosquitto listener.
    influx_url
        Base URL of InfluxDB's HTTP API, e.g. ``http://127.0.0.1:8086``.
    state_dir
        The state dir holding configs, data, logs and pid files.
    """

    mqtt_host: str
    mqtt_port: int
    influx_url: str
    state_dir: Path

    def as_env(self) -> dict[str, str]:
        """Environment overrides that point riverwatch's settings at these services."""
        return {
            "RIVERWATCH_MQTT__HOST": self.mqtt_host,
            "RIVERWATCH_MQTT__PORT": str(self.mqtt_port),
            "RIVERWATCH_INFLUX__URL": self.influx_url,
        }


# --------------------------------------------------------------------------- both at once


def _ensure(state: Path, probe, stop, start) -> tuple[int, int]:
    """``(pid, port)`` of a service that answers: the running one, else a fresh start (stopping a mute one)."""
    pid, port, answers = probe(state)
    if answers:
        return pid, port
    if pid is not None:
        stop(state)
    return start(state)


def services_up(state_dir: str | os.PathLike = ".riverwatch") -> ServiceUrls:
    """Make sure Mosquitto and InfluxDB run from ``state_dir``, and say where they answer.

    Idempotent: a service whose pid file points at a live process that answers on its port is
    reused. Writes ``services.env`` (``KEY=VALUE`` lines) and ``services.json`` into the state dir.
    """
    state = Path(state_dir).absolute()
    state.mkdir(parents=True, exist_ok=True)
    mpid, mport = _ensure(state, mosquitto_state, stop_mosquitto, start_mosquitto)
    ipid, iport = _ensure(state, influxdb_state, stop_influxdb, start_influxdb)
    urls = ServiceUrls(LOOPBACK, mport, f"http://{LOOPBACK}:{iport}", state)
    env = "".join(f"{k}={v}\n" for k, v in urls.as_env().items())
    (state / "services.env").write_text(env)
    info = {
        "state_dir": str(state),
        "mosquitto": {"pid": mpid, "host": LOOPBACK, "port": mport, "url": f"mqtt://{LOOPBACK}:{mport}"},
        "influxdb": {"pid": ipid, "port": iport, "url": urls.influx_url},
    }
    (state / "services.json").write_text(json.dumps(info, indent=2) + "\n")
    return urls


def services_down(state_dir: str | os.PathLike = ".riverwatch") -> dict[str, bool]:
    """Stop both services of ``state_dir``; says which ones were running."""
    return {"mosquitto": stop_mosquitto(state_dir), "influxdb": stop_influxdb(state_dir)}


def services_status(state_dir: str | os.PathLike = ".riverwatch") -> dict[str, dict]:
    """Report each service of ``state_dir``: ``running``, ``pid`` and ``url``.

    ``running`` means the process is alive *and* answers (a TCP connect for Mosquitto, a 204 on
    ``/ping`` for InfluxDB).
    """
    mpid, mport, manswers = mosquitto_state(state_dir)
    ipid, iport, ianswers = influxdb_state(state_dir)
    return {
        "mosquitto": {
            "running": manswers,
            "pid": mpid,
            "url": f"mqtt://{LOOPBACK}:{mport}" if mport else None,
        },
        "influxdb": {
            "running": ianswers,
            "pid": ipid,
            "url": f"http://{LOOPBACK}:{iport}" if iport else None,
        },
    }


def load_service_env(state_dir: str | os.PathLike = ".riverwatch") -> dict[str, str]:
    """Read ``state_dir/services.env`` written by :func:`services_up`.

    Raises
    ------
    ServiceError
        When the file is missing: the services were never brought up there.
    """
    path = Path(state_dir) / "services.env"
    try:
        return read_env_file(path)
    except FileNotFoundError:
        raise ServiceError(f"{path} not found: bring the services up first (services_up)") from None


def read_env_file(path: str | os.PathLike) -> dict[str, str]:
    """``KEY=value`` lines of an env file (blank lines and ``#`` comments skipped).

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "x.env"
    >>> _ = path.write_text("# a comment\\nA = 1\\n\\nB=x=y\\n")
    >>> read_env_file(path)
    {'A': '1', 'B': 'x=y'}
    """
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    return env
