"""``riverwatch run``: the ingest service from the command line.

``riverwatch run [--config FILE] [--duration S]`` runs until SIGINT/SIGTERM (or ``--duration``
seconds). ``<state_dir>/services.env``, written by ``riverwatch services up``, is loaded into the
environment first (variables already set win), so ``services up`` then ``run`` just works.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_commands(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["run", "--duration", "5"])
>>> args.duration, args.func is run_command
(5.0, True)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from application.config_cli import load_checked_catalog
from application.services_cli import use_local_services
from riverwatch.settings import Settings


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` sub-command."""
    from devices.cli import DURATION_HELP, parse_duration

    parser = subparsers.add_parser(
        "run", help="run the ingest service (MQTT -> checks -> InfluxDB, warnings)",
        description="Run the ingest worker: subscribe to the stations' readings on the broker, check each "
        "message against the contract and the catalog (refusals go to the station's rejected topic), store "
        "readings in InfluxDB, run the detectors and publish warnings (MQTT, CAP, the feed), until SIGINT or "
        "SIGTERM. Settings come from --config (or RIVERWATCH_CONFIG, or ./riverwatch.toml) and RIVERWATCH_* "
        "variables; <state_dir>/services.env from `riverwatch services up` is read first.")
    parser.add_argument("--config", type=Path, default=None,
                        help="settings TOML file (default $RIVERWATCH_CONFIG, else riverwatch.toml)")
    parser.add_argument("--duration", type=parse_duration, default=None,
                        help=f"{DURATION_HELP} (default: until SIGINT/SIGTERM)")
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Load settings (after ``services.env``), the catalog, and run the service."""
    from ingest.service import Service

    settings = Settings.load(args.config)
    if use_local_services(settings.state_dir):
        settings = Settings.load(args.config)
    catalog = load_checked_catalog(settings)
    Service(settings, catalog).run(args.duration)
    return 0
