"""``riverwatch drill start|stop|status|run``: joint drills injected into the running system.

``drill start`` launches ``drill run`` detached (its log and state in ``<state_dir>/drills/``) and
prints the drill id; ``drill status`` lists the drills with what they published; ``drill stop``
ends one (or all). The worker handles a drill's readings apart from the real ones
(:mod:`ingest.exercise`); the review of a drill reads its ``exercise_*`` measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from riverwatch.errors import ConfigError
from riverwatch.exercise_contract import drill_id
from riverwatch.settings import Settings

STOP_WAIT_S = 10.0


def drills_dir(settings: Settings) -> Path:
    """Where drills keep their state and logs."""
    return Path(settings.state_dir) / "drills"


def _state_path(settings: Settings, drill: str) -> Path:
    return drills_dir(settings) / f"{drill}.json"


def _write_state(settings: Settings, drill: str, **update) -> dict:
    path = _state_path(settings, drill)
    state = json.loads(path.read_text()) if path.is_file() else {"id": drill}
    state.update(update)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(path)
    return state


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def start(args: argparse.Namespace) -> int:
    """Launch ``drill run`` detached with the same options; print the drill id."""
    settings = Settings.load(args.config)
    drill = args.id or datetime.now(timezone.utc).strftime("drill-%Y%m%dT%H%M%S")
    if _alive(_read(settings, drill).get("pid")):
        raise ConfigError(f"drill {drill} is already running")
    log = drills_dir(settings) / f"{drill}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "application.cli", "drill", "run", "--id", drill, "--scenario", args.scenario,
               "--speed", str(args.speed), "--span", str(args.span), "--partners", ",".join(args.partners)]
    command += ["--config", args.config] if args.config else []
    command += ["--at", str(args.at)] if args.at else []
    with open(log, "ab") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _write_state(settings, drill, pid=child.pid, scenario=args.scenario, partners=args.partners, speed=args.speed,
                 span_s=args.span, state="starting", log=str(log))
    print(drill)
    return 0


def run(args: argparse.Namespace) -> int:
    """Play the drill in the foreground (what ``drill start`` runs detached)."""
    from devices.drill import drill_partners, play_drill
    from riverwatch.catalog import load_catalog

    settings = Settings.load(args.config)
    catalog = load_catalog(settings.catalog)
    drill, partners = args.id, sorted(drill_partners(catalog, args.partners))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.at and stop.wait(max(0.0, args.at - time.time())):
        _write_state(settings, drill, state="stopped", published=0)
        return 0
    _write_state(settings, drill, pid=os.getpid(), state="running", partners=partners, started=time.time())

    def progress(published: int, fraction: float) -> None:
        print(f"drill {drill}: {published} messages, {100 * min(fraction, 1):.0f} % of the scenario", flush=True)
        _write_state(settings, drill, published=published, progress=round(min(fraction, 1.0), 3))

    acked = play_drill(settings, catalog, drill, args.scenario, partners, args.span, args.speed, stop=stop,
                       progress=progress)
    _write_state(settings, drill, state="stopped" if stop.is_set() else "finished", published=acked,
                 ended=time.time())
    return 0


def status(args: argparse.Namespace) -> int:
    """Print every drill of the state dir: id, state, scenario, partners, messages published."""
    settings = Settings.load(args.config)
    states = [json.loads(p.read_text()) for p in sorted(drills_dir(settings).glob("*.json"))]
    width = max((len(state["id"]) for state in states), default=0)
    for state in states:
        running = state.get("state") in ("starting", "running")
        shown = state.get("state") if not running or _alive(state.get("pid")) else "died"
        print(f"{state['id']:{width}}  {shown:9}  {state.get('scenario')}  {','.join(state.get('partners', []))}  "
              f"{state.get('published', 0)} messages")
    if not states:
        print("no drills")
    return 0


def stop(args: argparse.Namespace) -> int:
    """Stop drill ``--id`` (default: every running one); waits until it has ended."""
    settings = Settings.load(args.config)
    chosen = [_read(settings, args.id)] if args.id else [
        json.loads(p.read_text()) for p in drills_dir(settings).glob("*.json")]
    for state in chosen:
        pid = state.get("pid")
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_WAIT_S
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            print(f"{state['id']} stopped")
    return 0


def _read(settings: Settings, drill: str) -> dict:
    path = _state_path(settings, drill)
    return json.loads(path.read_text()) if path.is_file() else {}


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``drill start|stop|status|run``."""
    from devices.cli import parse_duration, parse_start
    from devices.scenarios import scenarios

    drill = subparsers.add_parser("drill", help="joint drills: a scenario injected into the running system "
                                  "as an exercise").add_subparsers(dest="drill_command", required=True)
    for name, func, text in (("start", start, "start a drill (detached); prints its id"),
                             ("run", run, "play a drill in the foreground")):
        p = drill.add_parser(name, help=text)
        p.add_argument("--scenario", required=True, choices=sorted(scenarios()), help="what happens")
        p.add_argument("--partners", type=lambda t: [x for x in t.split(",") if x], default=[],
                       help="comma-separated partner ids whose stations take part (default: all)")
        p.add_argument("--speed", type=float, default=60.0, help="simulated seconds per wall second (default 60)")
        p.add_argument("--span", type=parse_duration, default=6 * 3600.0,
                       help="simulated time the scenario covers, e.g. 6h (default 6h)")
        p.add_argument("--at", type=parse_start, default=None, help="begin at this time, ISO 8601 (default now)")
        p.add_argument("--id", type=drill_id, default=None, help="drill id (default drill-<UTC time>)")
        p.add_argument("--config", default=None, help="settings file (default riverwatch.toml)")
        p.set_defaults(func=func)
    for name, func, text in (("status", status, "list drills"), ("stop", stop, "stop a drill (default: all)")):
        p = drill.add_parser(name, help=text)
        p.add_argument("--id", type=drill_id, default=None, help="drill id")
        p.add_argument("--config", default=None, help="settings file (default riverwatch.toml)")
        p.set_defaults(func=func)
