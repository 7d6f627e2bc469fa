"""``riverwatch simulate``: publish a scenario from the catalog's simulated stations.

``--duration`` means what it means for every riverwatch command (``run``, ``demo``): how long the
command runs, in wall-clock time (:data:`DURATION_HELP`). The simulated time covered is
``--span``; ``--speed`` (simulated seconds per wall second) links the two, so any two of them
fix the third.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_commands(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["simulate", "--scenario", "storm", "--speed", "600", "--duration", "2m"])
>>> args.duration, args.speed, pace(args.span, args.speed, args.duration, needed_s=86400.0)
(120.0, 600.0, (72000.0, 600.0))
>>> parse_duration("90m")
5400.0
"""

from __future__ import annotations

import argparse
import math
import re
from datetime import datetime

from riverwatch.catalog import load_catalog
from riverwatch.contract import format_time
from riverwatch.errors import ConfigError
from riverwatch.settings import Settings

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
#: ``--duration``'s help, the same for every command that has it.
DURATION_HELP = "how long the command runs, in wall-clock time: 600 (seconds), 90m, 9h or 2d"
#: Simulated seconds per wall second when neither ``--speed`` nor ``--duration`` is given.
DEFAULT_SPEED = 60.0


def parse_duration(text: str) -> float:
    """Seconds from ``"600"``, ``"600s"``, ``"90m"``, ``"9h"`` or ``"2d"``."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", text)
    if match is None or match.group(2) not in _UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 600, 90m, 9h or 2d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_start(text: str) -> float:
    """Epoch seconds from RFC 3339 / ISO 8601 text with an offset (``Z`` for UTC)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time such as 2026-11-22T12:00Z") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (add Z)")
    return parsed.timestamp()


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` sub-command."""
    from devices.scenarios import scenarios

    names = sorted(scenarios())
    p = subparsers.add_parser("simulate", help="publish simulated stations playing a scenario",
                              description="Publish a scenario played by the catalog's simulated stations.")
    p.add_argument("--scenario", default="calm", choices=names, help="what happens (default calm)")
    p.add_argument("--span", type=parse_duration, default=None,
                   help="simulated time to cover, e.g. 9h (default: what the scenario needs)")
    p.add_argument("--speed", type=float, default=None,
                   help=f"simulated seconds per wall second (0 = as fast as possible; default "
                        f"{DEFAULT_SPEED:g}, or span / duration)")
    p.add_argument("--duration", type=parse_duration, default=None,
                   help=DURATION_HELP + "; with --speed it sets the span, else the speed")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, default=None, help="messages per wall second, all stations together")
    pace.add_argument("--interval", type=parse_duration, default=None,
                      help="simulated time between two readings of a station (default 60s)")
    p.add_argument("--format", dest="fmt", choices=("json", "senml"), default="json", help="payload format")
    p.add_argument("--config", default=None, help="settings file (default riverwatch.toml)")
    p.add_argument("--catalog", default=None, help="station catalog (default: the settings' catalog)")
    p.add_argument("--start", type=parse_start, default=None,
                   help="simulated start, ISO 8601 (default: now minus the span)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same readings)")
    p.add_argument("--client-id", default=None, help="MQTT client id (default rw-sim-<pid>)")
    p.set_defaults(func=run)


def pace(span_s: float | None, speed: float | None, duration_s: float | None,
         needed_s: float) -> tuple[float, float]:
    """``(simulated span, speed)`` from any two of ``--span``, ``--speed`` and ``--duration``.

    Missing ones default to the scenario's ``needed_s`` and :data:`DEFAULT_SPEED`; a speed of 0
    or less means as fast as possible (``inf``).

    >>> pace(None, None, 60.0, needed_s=7200.0), pace(3600.0, 0, None, needed_s=7200.0)
    ((7200.0, 120.0), (3600.0, inf))
    """
    if None not in (span_s, speed, duration_s):
        raise ConfigError("--span, --speed, --duration: give at most two (the third follows)")
    if duration_s is not None and duration_s <= 0:
        raise ConfigError(f"--duration: {duration_s:g} s is not a positive time")
    if speed is not None and speed <= 0:
        if duration_s is not None:
            raise ConfigError("--duration: --speed 0 runs as fast as possible, so give --span instead")
        return span_s or needed_s, math.inf
    if span_s is None:
        span_s = speed * duration_s if speed is not None and duration_s is not None else needed_s
    if speed is None:
        speed = span_s / duration_s if duration_s is not None else DEFAULT_SPEED
    return float(span_s), float(speed)


def run(args: argparse.Namespace) -> int:
    """Run ``simulate``; exit code 0 when the broker acknowledged every message, else 1."""
    from devices.scenarios import scenario_duration
    from devices.simulate import run_scenario

    settings = Settings.load(args.config)
    catalog = load_catalog(args.catalog or settings.catalog)
    duration, speed = pace(args.span, args.speed, args.duration, scenario_duration(args.scenario, catalog))
    if args.rate is not None and args.rate <= 0:
        raise ConfigError(f"--rate: {args.rate} is not a positive number of messages per second")
    report = run_scenario(settings, catalog, args.scenario, speed, duration, args.rate, interval_s=args.interval,
                          fmt=args.fmt, start_s=args.start, seed=args.seed, client_id=args.client_id)
    print(render_report(report, f"{settings.mqtt.host}:{settings.mqtt.port}"))
    return 0 if report.unacknowledged == 0 and report.dropped == 0 else 1


def render_report(report, broker: str) -> str:
    """The human summary printed at the end of ``simulate``."""
    lines = [
        f"scenario {report.scenario}: {format_time(report.start_s)} + {report.duration_s / 3600:.2f} h simulated "
        f"in {report.wall_s:.1f} s wall",
        f"published {report.published} messages ({report.readings_published} readings) to {broker}",
        f"broker acknowledged {report.acknowledged} messages ({report.readings_acknowledged} readings), "
        f"{report.unacknowledged} unacknowledged, {report.dropped} dropped "
        f"({report.messages_per_s:.0f} msg/s)",
    ]
    for key, counts in sorted(report.per_station.items()):
        lines.append(f"  {key:32s} {counts.acknowledged:6d}/{counts.published:<6d} acknowledged")
    if report.peaks:
        lines.append("scripted peaks:")
        for station, peak in sorted(report.peaks.items(), key=lambda kv: kv[1].time_s):
            lines.append(f"  {station:24s} {peak.quantity:14s} {peak.value:9.2f} at {format_time(peak.time_s)} "
                         f"(+{(peak.time_s - report.start_s) / 3600:.2f} h) {peak.level}")
    for fault in report.faults:
        begin, end = ((x - report.start_s) / 3600 for x in (fault.start_s, fault.end_s))
        lines.append(f"  fault {fault.kind:12s} at {fault.station} ({fault.quantity or 'all'}) "
                     f"+{begin:.2f} h .. +{end:.2f} h")
    return "\n".join(lines)
