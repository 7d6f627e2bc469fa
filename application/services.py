"""Start and stop the embedded local services: Mosquitto and InfluxDB 1.x, without systemd.

Each service lives in its own folder of a state dir, with its generated config, its data, its log
and its pid file::

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

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from riverwatch.errors import ConfigError, ServiceError

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

LOOPBACK = "127.0.0.1"
#: Outgoing QoS 1/2 messages the broker keeps in flight per client before it waits for acks.
MOSQUITTO_MAX_INFLIGHT = 1000
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0

_FALLBACKS = {"mosquitto": "/usr/sbin/mosquitto", "influxd": "/usr/bin/influxd"}
# Popen objects of the services this process started: kept so they are reaped (no zombies).
_CHILDREN: dict[int, subprocess.Popen] = {}


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


# --------------------------------------------------------------------------- small helpers


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Like the servers themselves: TIME_WAIT leftovers of a stopped server do not count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _port_accepts(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout):
            return True
    except OSError:
        return False


def _influx_pings(port: int, timeout: float = 1.0) -> bool:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("GET", "/ping")
        return conn.getresponse().status == 204
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def find_binary(name: str) -> str:
    """Locate a service binary on ``PATH`` or at its Debian location.

    Raises
    ------
    ServiceError
        When the binary is missing; the message says to run ``make bootstrap``.
    """
    found = shutil.which(name)
    if found:
        return found
    fallback = _FALLBACKS.get(name)
    if fallback and os.access(fallback, os.X_OK):
        return fallback
    raise ServiceError(f"{name} not found on PATH or at {fallback or 'its usual place'}: run `make bootstrap`")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(Path(pid_file).read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name.
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _owned_by(pid: int, service_dir: Path) -> bool:
    """True when ``pid`` is a live process started with a config from ``service_dir``."""
    if not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    prefix = os.fsencode(str(service_dir) + os.sep)
    return any(arg.startswith(prefix) for arg in cmdline)


def _running_pid(service_dir: Path, pid_name: str) -> int | None:
    pid = _read_pid(service_dir / pid_name)
    return pid if pid is not None and _owned_by(pid, service_dir) else None


def _read_port(service_dir: Path) -> int | None:
    try:
        return int((service_dir / "port").read_text().strip())
    except (OSError, ValueError):
        return None


def _check_port(port: int | None, option: str) -> None:
    if port is not None and not (0 < port < 65536):
        raise ConfigError(f"{option}: {port} is not a TCP port")


def _wait(pid: int, timeout: float) -> bool:
    """Wait for ``pid`` to exit; True when it did."""
    child = _CHILDREN.get(pid)
    if child is not None:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        _CHILDREN.pop(pid, None)
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return not _pid_alive(pid)


def stop_process(pid_file: str | os.PathLike, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the service whose pid is in ``pid_file``: SIGTERM, wait, SIGKILL after ``timeout``.

    Only a process started with a config from the pid file's folder is signalled, so a stale pid
    file never kills an unrelated process that reused the pid. The pid file is removed.

    Returns
    -------
    bool
        True when a running process was stopped.
    """
    pid_file = Path(pid_file).absolute()
    pid = _read_pid(pid_file)
    stopped = False
    if pid is not None and _owned_by(pid, pid_file.parent):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not _wait(pid, timeout):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if not _wait(pid, 5.0):
                raise ServiceError(f"process {pid} from {pid_file} survived SIGKILL")
        stopped = True
    elif pid is not None:
        _CHILDREN.pop(pid, None)
    pid_file.unlink(missing_ok=True)
    return stopped


def _launch(
    argv: list[str], service_dir: Path, pid_name: str, port: int, ready, logs: list[Path], name: str
) -> int:
    """Start ``argv`` detached, write its pid file, and wait until ``ready(port)`` holds."""
    if not _port_is_free(port):
        raise ServiceError(f"{name}: port {port} on {LOOPBACK} is already in use")
    console = service_dir / "console.log"
    with open(console, "ab") as out:
        child = subprocess.Popen(
            argv,
            cwd=service_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _CHILDREN[child.pid] = child
    (service_dir / pid_name).write_text(f"{child.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            _CHILDREN.pop(child.pid, None)
            (service_dir / pid_name).unlink(missing_ok=True)
            raise ServiceError(
                f"{name} exited with code {child.returncode} at start-up; log tail:\n"
                + "\n".join(_tail(p) for p in logs)
            )
        if ready(port):
            return child.pid
        time.sleep(0.05)
    stop_process(service_dir / pid_name, timeout=5.0)
    raise ServiceError(
        f"{name} did not answer on {LOOPBACK}:{port} within {START_TIMEOUT:.0f} s; log tail:\n"
        + "\n".join(_tail(p) for p in logs)
    )


# --------------------------------------------------------------------------- Mosquitto


def _mosquitto_dir(state_dir) -> Path:
    return Path(state_dir).absolute() / "mosquitto"


def start_mosquitto(
    state_dir: str | os.PathLike,
    port: int | None = None,
    password_file: str | os.PathLike | None = None,
    acl_file: str | os.PathLike | None = None,
    extra_conf: str = "",
) -> tuple[int, int]:
    """Write ``mosquitto.conf`` into ``state_dir/mosquitto/`` and start the broker detached.

    Parameters
    ----------
    state_dir
        The state dir; the broker's persistence file and log live in its ``mosquitto/`` folder.
    port
        Listener port on 127.0.0.1; by default the port used last time in this state dir when it is
        free, else a free one.
    password_file, acl_file
        Mosquitto password and ACL files. With a password file, anonymous clients are refused.
    extra_conf
        Lines appended verbatim to the generated config.

    Returns
    -------
    tuple of int
        ``(pid, port)``.

    Raises
    ------
    ServiceError
        The binary is missing, the broker is already running here, or it did not start (the
        message carries the log tail).
    ConfigError
        A password or ACL file does not exist.
    """
    binary = find_binary("mosquitto")
    _check_port(port, "mqtt port")
    sdir = _mosquitto_dir(state_dir)
    (sdir / "data").mkdir(parents=True, exist_ok=True)
    running = _running_pid(sdir, "mosquitto.pid")
    if running is not None:
        raise ServiceError(f"mosquitto already runs from {sdir} (pid {running}); stop it first")
    if port is None:
        last = _read_port(sdir)
        port = last if last is not None and _port_is_free(last) else free_port()
    lines = [
        "# Generated by application.services; edits are overwritten by the next start.",
        f"listener {port} {LOOPBACK}",
        "persistence true",
        f"persistence_location {sdir / 'data'}/",
        "autosave_interval 30",
        f"log_dest file {sdir / 'mosquitto.log'}",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        "set_tcp_nodelay true",
        f"max_inflight_messages {MOSQUITTO_MAX_INFLIGHT}",
        "max_queued_messages 1000000",
        "max_queued_bytes 0",
    ]
    if os.geteuid() == 0:
        # As root, mosquitto 2 drops to the `mosquitto` user and then cannot open files in our dir.
        lines.append("user root")
    for option, path in (("password_file", password_file), ("acl_file", acl_file)):
        if path is not None:
            path = Path(path).absolute()
            if not path.is_file():
                raise ConfigError(f"{option}: {path} does not exist")
            lines.append(f"{option} {path}")
    lines.append(f"allow_anonymous {'false' if password_file is not None else 'true'}")
    if extra_conf:
        lines.append(extra_conf.rstrip("\n"))
    (sdir / "mosquitto.conf").write_text("\n".join(lines) + "\n")
    (sdir / "port").write_text(f"{port}\n")
    return _launch_mosquitto(binary, sdir, port)


def _launch_mosquitto(binary: str, sdir: Path, port: int) -> tuple[int, int]:
    pid = _launch(
        [binary, "-c", str(sdir / "mosquitto.conf")],
        sdir,
        "mosquitto.pid",
        port,
        _port_accepts,
        [sdir / "console.log", sdir / "mosquitto.log"],
        "mosquitto",
    )
    return pid, port


def stop_mosquitto(state_dir: str | os.PathLike, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the broker of ``state_dir`` (it saves its persistence file); True when it was running."""
    return stop_process(_mosquitto_dir(state_dir) / "mosquitto.pid", timeout)


def restart_mosquitto(state_dir: str | os.PathLike) -> tuple[int, int]:
    """Stop the broker if it runs, then start it again with the same config, port and data.

    Returns
    -------
    tuple of int
        ``(pid, port)``.
    """
    sdir = _mosquitto_dir(state_dir)
    port = _read_port(sdir)
    if port is None or not (sdir / "mosquitto.conf").is_file():
        raise ServiceError(f"no mosquitto config in {sdir}: start it once with start_mosquitto")
    stop_mosquitto(state_dir)
    return _launch_mosquitto(find_binary("mosquitto"), sdir, port)


# --------------------------------------------------------------------------- InfluxDB


def _influx_dir(state_dir) -> Path:
    return Path(state_dir).absolute() / "influxdb"


def start_influxdb(state_dir: str | os.PathLike, port: int | None = None) -> tuple[int, int]:
    """Write ``influxdb.conf`` into ``state_dir/influxdb/`` and start ``influxd`` detached.

    Parameters
    ----------
    state_dir
        The state dir; meta, data and WAL dirs live in its ``influxdb/`` folder.
    port
        HTTP port on 127.0.0.1; by default the port used last time in this state dir when it is
        free, else a free one. The RPC (backup) port is always a fresh free port.

    Returns
    -------
    tuple of int
        ``(pid, port)``, once ``GET /ping`` answers 204.
    """
    binary = find_binary("influxd")
    _check_port(port, "influx port")
    sdir = _influx_dir(state_dir)
    sdir.mkdir(parents=True, exist_ok=True)
    running = _running_pid(sdir, "influxd.pid")
    if running is not None:
        raise ServiceError(f"influxd already runs from {sdir} (pid {running}); stop it first")
    if port is None:
        last = _read_port(sdir)
        port = last if last is not None and _port_is_free(last) else free_port()
    _write_influx_conf(sdir, port)
    (sdir / "port").write_text(f"{port}\n")
    return _launch_influxdb(binary, sdir, port)


def _write_influx_conf(sdir: Path, port: int) -> None:
    rpc_port = free_port()
    while rpc_port == port:
        rpc_port = free_port()
    conf = f"""\
# Generated by application.services; edits are overwritten by the next start.
reporting-disabled = true
bind-address = "{LOOPBACK}:{rpc_port}"

[meta]
  dir = "{sdir / 'meta'}"

[data]
  dir = "{sdir / 'data'}"
  wal-dir = "{sdir / 'wal'}"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"

[http]
  enabled = true
  bind-address = "{LOOPBACK}:{port}"
  log-enabled = false

[monitor]
  store-enabled = false

[logging]
  level = "warn"
"""
    (sdir / "influxdb.conf").write_text(conf)


def _launch_influxdb(binary: str, sdir: Path, port: int) -> tuple[int, int]:
    pid = _launch(
        [binary, "-config", str(sdir / "influxdb.conf")],
        sdir,
        "influxd.pid",
        port,
        _influx_pings,
        [sdir / "console.log"],
        "influxd",
    )
    return pid, port


def stop_influxdb(state_dir: str | os.PathLike, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop ``influxd`` of ``state_dir``; True when it was running."""
    return stop_process(_influx_dir(state_dir) / "influxd.pid", timeout)


def restart_influxdb(state_dir: str | os.PathLike) -> tuple[int, int]:
    """Stop ``influxd`` if it runs, then start it again on the same HTTP port and data dirs.

    The RPC port is picked afresh when the old one has been taken meanwhile.

    Returns
    -------
    tuple of int
        ``(pid, port)``.
    """
    sdir = _influx_dir(state_dir)
    port = _read_port(sdir)
    if port is None or not (sdir / "influxdb.conf").is_file():
        raise ServiceError(f"no influxdb config in {sdir}: start it once with start_influxdb")
    stop_influxdb(state_dir)
    _write_influx_conf(sdir, port)
    return _launch_influxdb(find_binary("influxd"), sdir, port)


# --------------------------------------------------------------------------- both at once


def services_up(state_dir: str | os.PathLike = ".riverwatch") -> ServiceUrls:
    """Make sure Mosquitto and InfluxDB run from ``state_dir``, and say where they answer.

    Idempotent: a service whose pid file points at a live process that answers on its port is
    reused. Writes ``services.env`` (``KEY=VALUE`` lines) and ``services.json`` into the state dir.
    """
    state = Path(state_dir).absolute()
    state.mkdir(parents=True, exist_ok=True)

    mdir = _mosquitto_dir(state)
    mpid, mport = _running_pid(mdir, "mosquitto.pid"), _read_port(mdir)
    if mpid is None or mport is None or not _port_accepts(mport):
        if mpid is not None:
            stop_mosquitto(state)
        mpid, mport = start_mosquitto(state)

    idir = _influx_dir(state)
    ipid, iport = _running_pid(idir, "influxd.pid"), _read_port(idir)
    if ipid is None or iport is None or not _influx_pings(iport):
        if ipid is not None:
            stop_influxdb(state)
        ipid, iport = start_influxdb(state)

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
    mdir, idir = _mosquitto_dir(state_dir), _influx_dir(state_dir)
    mpid, mport = _running_pid(mdir, "mosquitto.pid"), _read_port(mdir)
    ipid, iport = _running_pid(idir, "influxd.pid"), _read_port(idir)
    return {
        "mosquitto": {
            "running": bool(mpid and mport and _port_accepts(mport)),
            "pid": mpid,
            "url": f"mqtt://{LOOPBACK}:{mport}" if mport else None,
        },
        "influxdb": {
            "running": bool(ipid and iport and _influx_pings(iport)),
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
        text = path.read_text()
    except FileNotFoundError:
        raise ServiceError(f"{path} not found: bring the services up first (services_up)") from None
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    return env
