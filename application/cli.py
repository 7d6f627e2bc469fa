"""The ``riverwatch`` command: one sub-command per job, each defined beside the code it runs.

``-v``/``--verbose`` is accepted before or after the sub-command; ``--version`` prints the
installed version.

Examples
--------
>>> parser = build_parser()
>>> parser.parse_args(["services", "status"]).command
'services'
>>> parser.parse_args(["config", "check", "-v"]).verbose, parser.parse_args(["-v", "run"]).verbose
(True, True)
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from importlib.metadata import PackageNotFoundError, version

from riverwatch.errors import RiverwatchError

#: Modules that each add their sub-commands with ``add_commands(subparsers)``.
COMMAND_MODULES = (
    "application.services_cli",
    "application.ingest_cli",
    "devices.cli",
    "application.demo",
    "evaluation.cli",
    "evaluation.tune",
    "dashboards.cli",
    "application.config_cli",
    "application.review.cli",
    "application.drill_cli",
)


VERBOSE_HELP = "debug logging (before or after the sub-command)"


def installed_version() -> str:
    """The installed riverwatch version (``unknown`` when run from a checkout that is not installed)."""
    try:
        return version("riverwatch")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(prog="riverwatch", description="Streaming sensor monitoring and early "
                                     "warning for cities that share a river.")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    parser.add_argument("--version", action="version", version=f"riverwatch {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    for command in leaf_parsers(parser):
        # SUPPRESS: absent after the sub-command, the value parsed before it stays
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers of every sub-command that has no sub-commands of its own (``run``, ``config check``)."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [parser]
    unique = {id(p): p for group in groups for p in group.choices.values()}
    return [leaf for child in unique.values() for leaf in leaf_parsers(child)]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except RiverwatchError as exc:
        print(f"riverwatch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
