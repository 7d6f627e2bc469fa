"""``riverwatch dashboards build|publish``: write the dashboards and provisioning, or publish them.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_commands(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["dashboards", "build", "--out", "grafana"])
>>> args.out, args.func.__name__
('grafana', 'run_build')
"""

from __future__ import annotations

import argparse

from riverwatch.settings import Settings


def run_build(args: argparse.Namespace) -> int:
    """Write dashboards JSON and provisioning YAML under ``--out``."""
    from dashboards.provisioning import write_all

    paths = write_all(Settings.load(args.config), args.out)
    for path in paths:
        print(path)
    return 0


def run_publish(args: argparse.Namespace) -> int:
    """Publish folders, datasource, dashboards and alert rules to the Grafana at ``--url``."""
    from dashboards.publish import publish

    steps = publish(args.url, args.token, Settings.load(args.config))
    print(f"published {len(steps)} objects to {args.url}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dashboards build`` and ``dashboards publish``."""
    parser = subparsers.add_parser("dashboards", help="Grafana dashboards: build files or publish")
    sub = parser.add_subparsers(dest="dashboards_command", required=True)
    build = sub.add_parser("build", help="write dashboards JSON and Grafana provisioning files")
    build.add_argument("--out", required=True, help="output directory")
    build.add_argument("--config", help="riverwatch TOML config (influx url/database, catalog, detectors)")
    build.set_defaults(func=run_build)
    publish = sub.add_parser("publish", help="publish to a running Grafana through its HTTP API")
    publish.add_argument("--url", required=True, help="Grafana base URL")
    publish.add_argument("--token", required=True, help="Grafana service-account token")
    publish.add_argument("--config", help="riverwatch TOML config")
    publish.set_defaults(func=run_publish)
