"""``riverwatch config render|check|grant-readers``: broker accounts and ACLs from the catalog; config
check; each partner's read-only InfluxDB user.

:func:`load_checked_catalog` is how the application reads the catalog: the kernel's checks plus
the one it cannot make, that every partner language has a message catalog.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from application import broker_auth
from riverwatch.catalog import Catalog, load_catalog
from riverwatch.settings import Settings

READERS_FILE = "influx-readers.env"


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


def _grant_readers(args: argparse.Namespace) -> int:
    from application.partner_access import (grant_partner_reads, influx2_commands, reader_passwords,
                                            write_reader_passwords)

    settings = Settings.load(args.config)
    catalog = load_checked_catalog(settings)
    if args.influx2_org:
        print("\n".join(influx2_commands(catalog, settings.influx.database, args.influx2_org)))
        return 0
    out = args.out or settings.state_dir / "secrets" / READERS_FILE
    passwords = reader_passwords(catalog, out, rotate=args.rotate)
    with settings.influx.client() as admin:
        done = grant_partner_reads(admin, catalog, passwords)
    write_reader_passwords(out, passwords)
    print(f"readers      {', '.join(done)} (read-only, each on <{settings.influx.database}>_<partner>)")
    print(f"passwords    {out} (for Grafana's environment: INFLUX_READER_<PARTNER>_PASSWORD)")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``config render``, ``config check`` and ``config grant-readers``."""
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
    grant = actions.add_parser("grant-readers", help="create each partner's database and read-only InfluxDB user "
                               "(InfluxDB 1.x with auth; the settings' influx account must be an admin)")
    grant.add_argument("--out", type=Path, help=f"the passwords file, kept between runs (default "
                       f"<state_dir>/secrets/{READERS_FILE}; keep it out of version control)")
    grant.add_argument("--rotate", action="store_true", help="give every reader a new password")
    grant.add_argument("--influx2", dest="influx2_org", metavar="ORG", help="InfluxDB 2.x: print the influx CLI "
                       "commands that make each partner's bucket, DBRP mapping and read token instead")
    grant.set_defaults(func=_grant_readers)
    for action in (render, check, grant):
        action.add_argument("--config", type=Path, help="settings file (default riverwatch.toml)")
