"""``riverwatch config render|check``: broker accounts and ACLs from the catalog; config check.

:func:`load_checked_catalog` is how the application reads the catalog: the kernel's checks plus
the one it cannot make, that every partner language has a message catalog.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from application import broker_auth
from riverwatch.catalog import Catalog, load_catalog
from riverwatch.settings import Settings


def load_checked_catalog(settings: Settings) -> Catalog:
    """The settings' catalog, every partner language checked against the message catalogs.

    >>> load_checked_catalog(Settings()).partner("lacville").languages
    ['fr', 'en']
    """
    from early_warning.messages import languages

    return load_catalog(settings.catalog, languages=languages())


def _render(args: argparse.Namespace) -> int:
    settings = Settings.load(args.config)
    catalog = load_checked_catalog(settings)
    out = args.out or settings.state_dir / "broker"
    password = settings.mqtt.password.get_secret_value() if settings.mqtt.password else None
    services = args.service_account or []
    files = broker_auth.render(catalog, Path(out), service_password=password, services=services)
    for name, path in files.items():
        print(f"{name:12s} {path}")
    print(f"accounts     {len(broker_auth.accounts(catalog, services))} "
          f"({1 + len(services)} service, {len(catalog.partners)} partners, {len(catalog.stations)} devices, "
          f"{len(catalog.gateways)} gateways)")
    return 0


def _check(args: argparse.Namespace) -> int:
    settings = Settings.load(args.config)
    catalog = load_checked_catalog(settings)
    from detectors.base import get

    for name in settings.ingest.detectors:
        get(name).parse_params(settings.ingest.detector_params.get(name))
    print(f"ok: {len(catalog.partners)} partners, {len(catalog.stations)} stations, "
          f"detectors {', '.join(settings.ingest.detectors)}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``config render`` and ``config check``."""
    parser = subparsers.add_parser("config", help="render broker credentials/ACLs, check the config")
    actions = parser.add_subparsers(dest="action", required=True)
    render = actions.add_parser("render", help="write mosquitto passwd + ACL files from the catalog")
    render.add_argument("--out", type=Path, help="output folder (default <state_dir>/broker)")
    render.add_argument("--service-account", action="append", metavar="NAME",
                        help="one more pipeline account riverwatch.NAME (a worker, shard or tool; the broker "
                             "binds client ids to accounts, so each connection needs its own); repeatable")
    render.set_defaults(func=_render)
    check = actions.add_parser("check", help="load settings, catalog and detector options; report")
    check.set_defaults(func=_check)
    for action in (render, check):
        action.add_argument("--config", type=Path, help="settings file (default riverwatch.toml)")
