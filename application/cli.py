"""The ``riverwatch`` command: one sub-command per job, each defined beside the code it runs.

Examples
--------
>>> parser = build_parser()
>>> parser.parse_args(["services", "status"]).command
'services'
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

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
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(prog="riverwatch", description="Streaming sensor monitoring and early "
                                     "warning for cities that share a river.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


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
