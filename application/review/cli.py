"""``riverwatch review``: the after-action review of an incident, read from InfluxDB.

``riverwatch review --from 2026-11-22T06:00Z --to 2026-11-22T18:00Z [--partner lacville]
[--notes lessons.md] --out DIR`` writes ``DIR/report.html``, ``DIR/report.json`` and
``DIR/timeline.csv``. A notes file is archived as ``DIR/notes/<UTC time>-<name>``; every note
archived there is merged into the render, so a second review into the same folder keeps the
first city's findings beside the next one's.

Examples
--------
>>> parse_when("2026-11-22T12:00Z", now_s=0.0)
1795348800000000000
>>> parse_when("now-2h", now_s=7200.0), parse_when("-30m", now_s=7200.0), parse_when("now", now_s=5.0)
(0, 5400000000000, 5000000000)
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from riverwatch.catalog import Catalog, load_catalog
from riverwatch.exercise_contract import drill_id
from riverwatch.errors import ConfigError
from riverwatch.influx import InfluxClient
from riverwatch.settings import Settings
from riverwatch.storage import review_line

from application.review.i18n import label
from application.review.indicators import all_indicators
from application.review.query import read_timeline
from application.review.render import HtmlReport, iso, report_json, timeline_csv
from application.review.timeline import NS

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_when(text: str, now_s: float | None = None) -> int:
    """Nanoseconds since the epoch from ISO 8601 with an offset, ``now``, or ``now-9h`` / ``-9h``."""
    now_s = time.time() if now_s is None else now_s
    relative = re.fullmatch(r"\s*(?:now)?\s*(?:-\s*([0-9]*\.?[0-9]+)\s*([smhd]))?\s*", text)
    if relative is not None and text.strip():
        back = float(relative.group(1)) * _UNITS[relative.group(2)] if relative.group(1) else 0.0
        return int(round((now_s - back) * NS))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time such as 2026-11-22T12:00Z, now or now-6h") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (add Z)")
    return int(parsed.timestamp()) * NS + parsed.microsecond * 1000


def readers(catalog: Catalog, partner: str | None) -> list[tuple[str, str]]:
    """``(partner, language)`` of every section: the partner's languages, or every partner's."""
    partners = [catalog.partner(partner)] if partner else list(catalog.partners)
    return [(p.id, lang) for p in partners for lang in p.languages]


def archive_notes(out: Path, notes: Path | None, now_s: float | None = None) -> list[tuple[str, str]]:
    """Copy ``notes`` into ``out/notes/`` (stamped with the UTC time) and return every archived note,
    oldest first, as ``(file name, text)``."""
    folder = out / "notes"
    if notes is not None:
        if not notes.is_file():
            raise ConfigError(f"--notes: {notes} is not a file")
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(time.time() if now_s is None else now_s, timezone.utc)
        shutil.copyfile(notes, folder / f"{stamp:%Y%m%dT%H%M%SZ}-{notes.name}")
    if not folder.is_dir():
        return []
    return [(p.name, p.read_text(encoding="utf-8", errors="replace")) for p in sorted(folder.iterdir()) if p.is_file()]


def write_review(client: InfluxClient, catalog: Catalog, from_ns: int, to_ns: int, out: Path,
                 partner: str | None = None, notes: Path | None = None, drill: str | None = None) -> dict:
    """Read the incident, write ``report.html``, ``report.json`` and ``timeline.csv`` into ``out``;
    return the indicators."""
    if to_ns <= from_ns:
        raise ConfigError("--to must be after --from")
    if partner is not None and partner not in {p.id for p in catalog.partners}:
        raise ConfigError(f"--partner: unknown partner {partner!r} (known: "
                          f"{', '.join(p.id for p in catalog.partners)})")
    out.mkdir(parents=True, exist_ok=True)
    timeline = read_timeline(client, catalog, from_ns, to_ns, partner, drill)
    indicators = all_indicators(timeline)
    archived = archive_notes(out, notes)
    meta = {"from": iso(from_ns), "to": iso(to_ns), "from_ns": from_ns, "to_ns": to_ns, "partner": partner, "drill": drill,
            "database": client.database, "generated": iso(time.time_ns())}
    (out / "timeline.csv").write_text(timeline_csv(timeline), encoding="utf-8")
    (out / "report.json").write_bytes(report_json(timeline, indicators, meta, archived))
    page = HtmlReport(catalog, timeline, indicators, archived, meta).render(readers(catalog, partner))
    (out / "report.html").write_text(page, encoding="utf-8")
    title = f"{label('title', 'en')}: {meta['from']} – {meta['to']}" + (f" (EXERCISE {drill})" if drill else "")
    client.write(review_line(partner, str((out / "report.html").absolute()), from_ns, to_ns, title, drill))
    return indicators


def run_review(args: argparse.Namespace) -> int:
    """The ``review`` command: write the report and print where it is, with the main indicators."""
    settings = Settings.load(args.config)
    catalog = load_catalog(settings.catalog)
    client = settings.influx.client()
    try:
        indicators = write_review(client, catalog, args.from_ns, args.to_ns, args.out, args.partner, args.notes,
                                  args.drill)
    finally:
        client.close()
    d = indicators["delivery"]
    print(f"review {iso(args.from_ns)} – {iso(args.to_ns)}: {d['warning_events']} warning events, "
          f"{d['acknowledgements']} acknowledgements, {d['reminders']} reminders, "
          f"{d['received_across_borders']} receptions across borders")
    for x in indicators["lead_times"]:
        lead = "no warning" if x["lead_crossing_s"] is None else f"{x['lead_crossing_s'] / 60:+.0f} min"
        print(f"  {x['partner']}/{x['station']} {x['quantity']} {x['level']}: lead before the crossing {lead}")
    print(f"  {args.out / 'report.html'}, report.json, timeline.csv")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``review``."""
    parser = subparsers.add_parser(
        "review", help="after-action review of an incident: report.html, report.json, timeline.csv",
        description="Read an incident from InfluxDB and write its after-action review: the timeline, the "
        "indicators (lead times, time to acknowledge, warnings without events and events without warnings, "
        "data availability, delivery) and the operators' notes, in each partner's languages and time zone.")
    parser.add_argument("--from", dest="from_ns", metavar="TIME", type=parse_when, required=True,
                        help="start: ISO 8601 with offset (2026-11-22T06:00Z), now, or now-12h")
    parser.add_argument("--to", dest="to_ns", metavar="TIME", type=parse_when, default="now", help="end (default now)")
    parser.add_argument("--partner", help="only what concerns this partner, in its languages (default: every partner)")
    parser.add_argument("--notes", type=Path, help="operators' notes (markdown or text), archived with the report")
    parser.add_argument("--out", type=Path, required=True, help="folder of the report")
    parser.add_argument("--drill", type=drill_id, help="review joint drill ID (its exercise records) instead of the real incident")
    parser.add_argument("--config", type=Path, help="settings file")
    parser.set_defaults(func=run_review)
