"""``riverwatch services up|down|status``: the embedded Mosquitto and InfluxDB.

Other commands find the services through ``<state dir>/services.env``
(:func:`use_local_services`), so ``riverwatch services up`` then ``riverwatch run`` just works.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from application import services

DEFAULT_STATE_DIR = Path(".riverwatch")


def use_local_services(state_dir: str | os.PathLike = DEFAULT_STATE_DIR) -> bool:
    """Put the URLs of running local services into the environment, unless already set.

    Returns True when a ``services.env`` was found. Variables already in the environment win,
    so a configured production broker or database is never overridden.
    """
    env_file = Path(state_dir) / "services.env"
    if not env_file.is_file():
        return False
    for key, value in services.load_service_env(state_dir).items():
        os.environ.setdefault(key, value)
    return True


def _up(args: argparse.Namespace) -> int:
    urls = services.services_up(args.state_dir)
    print(f"mosquitto  mqtt://{urls.mqtt_host}:{urls.mqtt_port}")
    print(f"influxdb   {urls.influx_url}")
    print(f"env file   {Path(args.state_dir) / 'services.env'}")
    return 0


def _down(args: argparse.Namespace) -> int:
    for name, was_running in services.services_down(args.state_dir).items():
        print(f"{name:10s} {'stopped' if was_running else 'was not running'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = services.services_status(args.state_dir)
    print(json.dumps(status, indent=2, default=str))
    return 0 if all(s.get("running") for s in status.values()) else 1


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``services up|down|status``."""
    parser = subparsers.add_parser("services", help="start/stop the local Mosquitto and InfluxDB")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, func, text in (("up", _up, "start both (idempotent) and write services.env"),
                             ("down", _down, "stop both"),
                             ("status", _status, "show what runs where")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--state-dir", default=DEFAULT_STATE_DIR, type=Path,
                            help="where configs, data, logs and services.env live (default .riverwatch)")
        action.set_defaults(func=func)
