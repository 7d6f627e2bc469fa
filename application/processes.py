"""Detached service processes on loopback: ports, pid files, start-up probes and a safe stop.

The building blocks of :mod:`application.services`: a service process is started detached in its
own folder (``console.log`` and a pid file there), waited for until it answers on its port, and
stopped only when its command line points into that folder, so a stale pid file never kills an
unrelated process that reused the pid.

Examples
--------
>>> 0 < free_port() < 65536
True
>>> check_port(70000, "mqtt port")
Traceback (most recent call last):
...
riverwatch.errors.ConfigError: mqtt port: 70000 is not a TCP port
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable

from riverwatch.errors import ConfigError, ServiceError

__all__ = [
    "LOOPBACK",
    "START_TIMEOUT",
    "STOP_TIMEOUT",
    "check_port",
    "find_binary",
    "free_port",
    "launch",
    "port_accepts",
    "port_for",
    "port_is_free",
    "read_port",
    "refuse_if_running",
    "running_pid",
    "stop_process",
]

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0

_FALLBACKS = {"mosquitto": "/usr/sbin/mosquitto", "influxd": "/usr/bin/influxd"}
# Popen objects of the services this process started: kept so they are reaped (no zombies).
_CHILDREN: dict[int, subprocess.Popen] = {}


# --------------------------------------------------------------------------- ports


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when a server could bind ``port`` on loopback now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Like the servers themselves: TIME_WAIT leftovers of a stopped server do not count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def port_accepts(port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``port`` on loopback."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout):
            return True
    except OSError:
        return False


def check_port(port: int | None, option: str) -> None:
    """Raise :class:`ConfigError` naming ``option`` when ``port`` is not a TCP port (None passes)."""
    if port is not None and not (0 < port < 65536):
        raise ConfigError(f"{option}: {port} is not a TCP port")


def read_port(service_dir: Path) -> int | None:
    """The port a service of ``service_dir`` used last time, or None."""
    try:
        return int((service_dir / "port").read_text().strip())
    except (OSError, ValueError):
        return None


def port_for(service_dir: Path, port: int | None) -> int:
    """``port`` if given, else the port used last time in ``service_dir`` when it is free, else a free one."""
    if port is not None:
        return port
    last = read_port(service_dir)
    return last if last is not None and port_is_free(last) else free_port()


# --------------------------------------------------------------------------- binaries and pids


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


def running_pid(service_dir: Path, pid_name: str) -> int | None:
    """The pid in ``service_dir/pid_name`` when that process runs from ``service_dir``, else None."""
    pid = _read_pid(service_dir / pid_name)
    return pid if pid is not None and _owned_by(pid, service_dir) else None


def refuse_if_running(service_dir: Path, pid_name: str, name: str) -> None:
    """Raise :class:`ServiceError` when ``name`` already runs from ``service_dir``."""
    running = running_pid(service_dir, pid_name)
    if running is not None:
        raise ServiceError(f"{name} already runs from {service_dir} (pid {running}); stop it first")


# --------------------------------------------------------------------------- start and stop


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


def launch(
    argv: list[str],
    service_dir: Path,
    pid_name: str,
    port: int,
    ready: Callable[[int], bool],
    logs: list[Path],
    name: str,
) -> int:
    """Start ``argv`` detached, write its pid file, and wait until ``ready(port)`` holds.

    Raises
    ------
    ServiceError
        The port is taken, the process exited at start-up, or it did not answer within
        :data:`START_TIMEOUT` (the message carries the tails of ``logs``).
    """
    if not port_is_free(port):
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
