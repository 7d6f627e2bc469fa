"""``riverwatch demo`` (= ``make demo``): a two-city shared river comes to life.

Starts the local Mosquitto and InfluxDB unless URLs are configured, runs the ingest service and the
simulated stations of the catalog, plays the storm, the plume and a few sensor faults accelerated,
sends a handful of malformed messages, prints warnings as they happen (in the partner's languages,
with their lead time before the scripted peak), writes the CAP files and dashboards, and ends with
a summary: readings published vs stored, rejects by reason, warnings.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from application import services
from riverwatch.catalog import Catalog, load_catalog
from riverwatch.contract import format_time
from riverwatch.errors import ServiceError
from riverwatch.influx import InfluxClient, quote_ident
from riverwatch.sharing import partner_database
from riverwatch.model import WarningEvent
from riverwatch.settings import Settings
from riverwatch.storage import READING

log = logging.getLogger(__name__)

DEMO_DETECTORS = ["level_threshold", "rate_of_rise", "time_to_threshold", "rainfall", "sensor_fault",
                  "water_quality_event"]
DEFAULT_WALL_S = 75.0

#: Malformed messages the demo slips between good ones: (topic, payload, expected reason).
BAD_MESSAGES = (
    ("rw/v1/rivertown/gauge-hochtal/data", b'{"ts": "2026-11-22T12:00:00Z", "seq": 1, "readings": {',
     "bad_json"),
    ("rw/v1/rivertown/no-such-gauge/data",
     b'{"ts": 1.7e9, "seq": 1, "readings": {"water_level": {"value": 1.0, "unit": "m"}}}', "unknown_station"),
    ("rw/v1/lacville/gauge-lacville/data",
     b'{"ts": 1.7e9, "seq": 1, "readings": {"water_level": {"value": 1.0, "unit": "furlong"}}}', "unknown_unit"),
    ("rw/v1/lacville/wq-lacville/data",
     b'{"ts": 1.7e9, "seq": 1, "readings": {"ph": {"value": "NaN", "unit": "pH"}}}', "not_finite"),
    ("rw/v1/rivertown/wx-rivertown/data", b"\x00\x01binary garbage\xff", "bad_encoding"),
)


@dataclass
class WarningLog:
    """Warnings seen during the demo, printed as they happen."""

    catalog: Catalog
    peaks: dict = field(default_factory=dict)
    events: list[WarningEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cap_dir: Path | None = None

    def __call__(self, event: WarningEvent) -> None:
        with self.lock:
            self.events.append(event)
            self._print(event)
            self._write_cap(event)

    def lead_minutes(self, event: WarningEvent) -> float | None:
        """Minutes between the event and the scripted peak at its station (None without a peak)."""
        peak = self.peaks.get(event.station)
        if peak is None or event.hazard not in ("flood", "water_quality"):
            return None
        return (peak.time_s - event.time_ns / 1e9) / 60.0

    def _print(self, event: WarningEvent) -> None:
        station = self.catalog.station(event.partner, event.station)
        partner = self.catalog.partner(event.partner)
        texts = _texts(self.catalog, event, station, partner)
        lead = self.lead_minutes(event)
        lead_text = f" | lead {lead:+.0f} min before scripted peak" if lead is not None and event.state == "raised" else ""
        kind = "public" if event.public else "maintenance"
        print(f"  {format_time(event.time_ns / 1e9)[:16]}  {event.level.name:9s} {event.state:11s} "
              f"{event.partner}/{event.station} [{event.hazard}, {kind}]{lead_text}")
        for lang, text in texts.items():
            print(f"      {lang}: {text.headline}")

    def _write_cap(self, event: WarningEvent) -> None:
        if self.cap_dir is None:
            return
        from early_warning.cap import to_cap

        station = self.catalog.station(event.partner, event.station)
        partner = self.catalog.partner(event.partner)
        xml = to_cap(event, station, partner, _texts(self.catalog, event, station, partner))
        (self.cap_dir / f"{event.id}.{event.time_ns}.xml").write_bytes(xml)


def _texts(catalog, event, station, partner) -> dict:
    """The event in the languages of its partner and of every partner it shares warnings with."""
    from early_warning.messages import texts

    readers = [catalog.partner(pid) for pid in partner.shares_with if pid != partner.id]
    return texts(event, station, partner, shared_with=readers)


def _publish_bad_messages(settings: Settings) -> None:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"rw-demo-bad-{os.getpid()}",
                         protocol=mqtt.MQTTv5)
    client.connect(settings.mqtt.host, settings.mqtt.port)
    client.loop_start()
    try:
        for topic, payload, _ in BAD_MESSAGES:
            client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def _local_settings(args: argparse.Namespace) -> tuple[Settings, bool]:
    """Settings for the demo, starting local services unless URLs are configured."""
    configured = args.config or any(os.environ.get(k) for k in ("RIVERWATCH_MQTT__HOST", "RIVERWATCH_INFLUX__URL"))
    base = Settings.load(args.config)
    state = Path(args.state_dir or base.state_dir) / "demo"
    overrides: dict = {"state_dir": state,
                       "ingest": {**base.ingest.model_dump(), "detectors": DEMO_DETECTORS,
                                  "spool_dir": state / "spool", "summary_interval_s": 10.0},
                       # a client id of its own: never inherit a persistent session's backlog
                       "mqtt": {**base.mqtt.model_dump(), "client_id": f"rw-demo-ingest-{os.getpid()}",
                                "session_expiry_s": 60}}
    if not configured:
        urls = services.services_up(Path(args.state_dir or base.state_dir))
        overrides["mqtt"].update(host=urls.mqtt_host, port=urls.mqtt_port)
        overrides["influx"] = {**base.influx.model_dump(), "url": urls.influx_url, "database": "riverwatch"}
    return Settings.load(args.config, **overrides), not configured


@dataclass
class DemoResult:
    """What a demo run did: the warnings seen (with the scripted peaks) and whether all was stored."""

    warnings: WarningLog
    stored: int
    accepted: int

    @property
    def ok(self) -> bool:
        """Every reading ingest accepted is stored, exactly once."""
        return self.stored == self.accepted


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo (the ``demo`` command); returns 0 when every accepted reading was stored."""
    return 0 if play(args).ok else 1


def play(args: argparse.Namespace) -> DemoResult:
    """Run the demo and return what happened."""
    from devices.scenarios import scenario_duration
    from devices.simulate import run_scenario
    from ingest.service import Service

    settings, local = _local_settings(args)
    catalog = load_catalog(settings.catalog)
    state = settings.state_dir
    shutil.rmtree(state, ignore_errors=True)  # a fresh run: no old checkpoints, spool or sequence numbers
    (state / "cap").mkdir(parents=True)
    influx = InfluxClient(settings.influx.url, settings.influx.database,
                          token=settings.influx.token.get_secret_value() if settings.influx.token else None)
    if local:
        influx.drop_database()
        for partner in catalog.partners:  # the partners' views (ingest/share_sink.py) start afresh too
            influx.query(f"DROP DATABASE {quote_ident(partner_database(influx.database, partner.id))}", epoch=None)
    influx.create_database()

    sim_s = scenario_duration(args.scenario, catalog)
    wall_s = float(args.duration or DEFAULT_WALL_S)
    speed = sim_s / wall_s
    warnings = WarningLog(catalog, cap_dir=state / "cap")
    print(f"riverwatch demo: {len(catalog.partners)} partners, {len(catalog.stations)} stations, "
          f"scenario {args.scenario!r}: {sim_s / 3600:.1f} h of river time in ~{wall_s:.0f} s")
    print(f"  broker mqtt://{settings.mqtt.host}:{settings.mqtt.port}   database {settings.influx.url} "
          f"db={settings.influx.database}")
    print("warnings as they happen (time is river time, UTC):")

    service = Service(settings, catalog, on_warning=warnings)
    service.start()
    try:
        if not service.wait_connected(15):
            raise ServiceError(f"the ingest service could not connect to the broker at "
                               f"{settings.mqtt.host}:{settings.mqtt.port}")
        start_s = time.time() - sim_s
        from devices.scenarios import build_scenario

        warnings.peaks = {k: v for k, v in build_scenario(args.scenario, catalog, start_s, sim_s, args.seed).peaks.items()}
        _publish_bad_messages(settings)
        report = run_scenario(settings, catalog, args.scenario, speed, sim_s, interval_s=args.interval,
                              start_s=start_s, seed=args.seed, state_dir=state / "devices",
                              client_id=f"rw-demo-sim-{os.getpid()}")
        service.wait_idle(timeout=60)
        acknowledge_open_warnings(settings, service)
    finally:
        service.stop()
    stored = _count_stored(influx)
    _write_dashboards(settings, catalog, state / "dashboards")
    _summary(report, service, stored, warnings, state)
    _shared(influx)
    _review(influx, catalog, start_s, state / "review")
    influx.close()
    if local and not args.keep_services:
        services.services_down(Path(args.state_dir or Settings.load(args.config).state_dir))
        print("local services stopped (use --keep-services to query them afterwards)")
    return DemoResult(warnings, stored, service.stats.readings_in)


def acknowledge_open_warnings(settings: Settings, service) -> int:
    """Each partner's operator acknowledges the open public warnings that concern it, over MQTT
    (as an operator console would), and waits (at most 10 s) until the worker took them; returns how
    many acknowledgements were sent."""
    import orjson
    import paho.mqtt.client as mqtt

    from riverwatch.ack_contract import ack_topic

    book = service.acks.book
    wanted = [(partner, ev.id) for ev in service.pipeline.open_warnings() if ev.public
              for partner in sorted(book.concerned(ev.partner))]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"rw-demo-op-{os.getpid()}",
                         protocol=mqtt.MQTTv5)
    client.connect(settings.mqtt.host, settings.mqtt.port)
    client.loop_start()
    try:
        for partner, warning_id in wanted:
            body = orjson.dumps({"by": f"duty-officer-{partner}", "role": "operator",
                                 "action": "river watch posted at the bridges"})
            client.publish(ack_topic(partner, warning_id), body, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
    deadline = time.monotonic() + 10
    while service.acks.accepted < len(wanted) and time.monotonic() < deadline:
        time.sleep(0.05)
    service.wait_idle(timeout=30)
    return len(wanted)


def _review(influx: InfluxClient, catalog: Catalog, start_s: float, out: Path) -> dict:
    """The after-action review of the demo's own storm (``riverwatch review`` over its window)."""
    from application.review.cli import write_review

    indicators = write_review(influx, catalog, int(start_s * 1e9), time.time_ns(), out)
    print(f"\nafter-action review  {out / 'report.html'}")
    for lead in indicators["lead_times"]:
        if lead.get("lead_crossing_s") is not None:
            print(f"  {lead['station']:<20} warned {lead['lead_crossing_s'] / 60:.0f} min before the crossing")
    for ack in indicators["ack_times"]:
        print(f"  {ack['partner']:<20} acknowledged {ack['acknowledged']} of {ack['concerned']} warnings")
    return indicators


def _count_stored(influx: InfluxClient) -> int:
    rows = influx.query_rows(f'SELECT COUNT("value") AS n FROM "{READING}"')
    return int(rows[0]["n"]) if rows else 0


def _shared(influx: InfluxClient) -> None:
    """What the sharing sink wrote into each partner's own database, per agreement (its audit)."""
    series = influx.query('SELECT sum("points") AS "points" FROM "sharing_audit" GROUP BY "to", "agreement"')
    per_partner: dict[str, list[str]] = {}
    for s in series:
        tags = s.get("tags", {})
        per_partner.setdefault(tags.get("to", "?"), []).append(f"{tags.get('agreement')} {s['values'][0][1]}")
    for partner, parts in sorted(per_partner.items()):
        print(f"  shared     {partner}'s view ({partner_database(influx.database, partner)}): points by agreement: "
              f"{', '.join(sorted(parts))}")


def _write_dashboards(settings: Settings, catalog: Catalog, out: Path) -> None:
    from dashboards.provisioning import write_all

    write_all(settings, out, catalog)


def _summary(report, service, stored: int, warnings: WarningLog, state: Path) -> None:
    stats = service.stats
    print("\nsummary")
    print(f"  messages   published {report.published}, acknowledged by the broker {report.acknowledged}")
    print(f"  readings   acknowledged {report.readings_acknowledged}, accepted by ingest {stats.readings_in}, "
          f"stored in InfluxDB {stored}")
    reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(stats.rejected_by_reason.items())) or "none"
    print(f"  rejected   {stats.rejected} messages: {reasons}")
    raised = [e for e in warnings.events if e.state == "raised"]
    public = [e for e in raised if e.public]
    print(f"  warnings   {len(warnings.events)} events, {len(raised)} raised "
          f"({len(public)} public, {len(raised) - len(public)} maintenance notices)")
    for event in public:
        lead = warnings.lead_minutes(event)
        if lead is not None:
            print(f"             {event.partner}/{event.station} {event.hazard} {event.level.name.lower()}: "
                  f"raised {lead:.0f} min before the scripted peak")
    print(f"  CAP 1.2    {len(list((state / 'cap').glob('*.xml')))} files in {state / 'cap'}")
    print(f"  dashboards {state / 'dashboards'}")
    print("  result     " + ("every accepted reading is stored exactly once" if stored == stats.readings_in else
                             f"MISMATCH: accepted {stats.readings_in} but stored {stored}"))


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``demo``."""
    from devices.cli import DURATION_HELP, parse_duration
    from devices.scenarios import scenarios

    parser = subparsers.add_parser("demo", help="run the two-city demo end to end",
                                   description="Start local Mosquitto and InfluxDB (unless --config names "
                                   "servers), run the ingest service, publish a scenario from the simulated "
                                   "stations and print the warnings and what was stored.")
    parser.add_argument("--duration", type=parse_duration, default=None,
                        help=f"{DURATION_HELP}; the scenario is played in that time (default {DEFAULT_WALL_S:.0f} s)")
    parser.add_argument("--scenario", default="all", choices=sorted(scenarios()),
                        help="scenario to play (default all: every one in turn)")
    parser.add_argument("--interval", type=float, default=120.0,
                        help="simulated seconds between a station's readings (default 120)")
    parser.add_argument("--seed", type=int, default=7,
                        help="random seed of the simulated stations: the same seed plays the same readings (default 7)")
    parser.add_argument("--config", type=Path, help="settings file; when given, no local services are started")
    parser.add_argument("--state-dir", type=Path, help="local services and demo state (default .riverwatch)")
    parser.add_argument("--keep-services", action="store_true", help="leave Mosquitto and InfluxDB running")
    parser.set_defaults(func=run_demo)
