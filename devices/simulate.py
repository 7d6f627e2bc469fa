"""Run a scenario: simulated stations of the catalog produce readings, a publisher sends them.

Two entry points:

- :func:`scenario_messages` is pure: it yields ``(topic, payload, reading)`` in time order, with no
  broker involved (tests, benchmarks, replay files);
- :func:`run_scenario` publishes them to the broker of the settings, paced by the simulated clock
  (``speed`` simulated seconds per wall second), and reports what the broker acknowledged.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.contract import decode_payload, parse_topic
>>> from riverwatch.settings import REPO_ROOT
>>> catalog = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
>>> msgs = list(scenario_messages(catalog, "calm", start_s=1.8e9, duration_s=600, interval_s=60, seed=1))
>>> len(msgs)  # 7 stations, 10 readings each
70
>>> topic, payload, reading = msgs[0]
>>> parse_topic(topic)[2], decode_payload(payload).seq
('data', 1)
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

from devices.kinds import SensorKind, kinds
from devices.publisher import MultiStationPublisher, StationCounts
from devices.scenarios import FaultInjector, Peak, ScenarioPlan, build_scenario
from riverwatch.catalog import Catalog, Station
from riverwatch.contract import data_topic, encode_json, encode_senml
from riverwatch.errors import ConfigError
from riverwatch.settings import Settings
from riverwatch.units import to_canonical

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SimReading:
    """One simulated reading set of one station.

    ``time_s`` is the true simulated time, ``sent_time_s`` the timestamp the device puts in the
    payload (they differ under a clock-skew fault); ``device_values`` is what goes on the wire and
    ``values`` the same in canonical units (what ingest stores, faults included); ``faults`` names
    the faults active on it.
    """

    partner: str
    station: str
    kind: str
    time_s: float
    sent_time_s: float
    values: Mapping[str, float]
    device_values: Mapping[str, tuple[float, str]]
    faults: tuple[str, ...] = ()
    seq: int = 0


def _interval_for(station: Station, interval_s: float | Mapping[str, float]) -> float:
    value = interval_s.get(station.id, 60.0) if isinstance(interval_s, Mapping) else interval_s
    if not value > 0:
        raise ConfigError(f"interval of station {station.id}: {value} is not a positive number of seconds")
    return float(value)


def _station_stream(station: Station, kind: SensorKind, plan: ScenarioPlan, interval: float, seed: int,
                    end_s: float) -> Iterator[SimReading]:
    simulator = kind.build(station, seed=seed, interval_s=interval, drivers=plan.drivers_for(station.id))
    injector = FaultInjector(plan.faults_for(station.id), seed)
    wanted = [q for q in station.quantities if q in kind.sends]
    phase = (zlib.crc32(station.id.encode()) % 1000) / 1000.0 * interval
    t = plan.start_s + phase
    while t <= end_s:
        sample = simulator.sample(t)
        faulted = injector.apply(t, {q: sample[q] for q in wanted})
        if faulted is not None:
            sent, values, active = faulted
            device = kind.to_device_units(values)
            canonical = {q: to_canonical(q, v, unit) for q, (v, unit) in device.items()}
            yield SimReading(station.partner, station.id, kind.name, t, sent, canonical, device, active)
        t += interval


def scenario_readings(catalog: Catalog, scenario: str | ScenarioPlan, start_s: float, duration_s: float,
                      interval_s: float | Mapping[str, float] = 60.0, seed: int = 0) -> Iterator[SimReading]:
    """Every station's readings from ``start_s`` to ``start_s + duration_s``, in time order.

    ``interval_s`` is simulated seconds between readings, one number or per station id (60 s for
    stations not listed). Stations of unknown kinds are skipped with a warning.
    """
    plan = scenario if isinstance(scenario, ScenarioPlan) else build_scenario(
        scenario, catalog, start_s, duration_s, seed)
    registered = kinds()
    streams = []
    for station in catalog.stations:
        kind = registered.get(station.kind)
        if kind is None:
            log.warning("station %s: no simulator for kind %r, skipped", station.id, station.kind)
            continue
        missing = [q for q in station.quantities if q not in kind.sends]
        if missing:
            log.warning("station %s: kind %s does not simulate %s", station.id, kind.name, ", ".join(missing))
        streams.append(_station_stream(station, kind, plan, _interval_for(station, interval_s), seed,
                                       plan.start_s + duration_s))
    heap = []
    for index, stream in enumerate(streams):
        first = next(stream, None)
        if first is not None:
            heap.append((first.time_s, index, first))
    heapq.heapify(heap)
    while heap:
        _, index, reading = heapq.heappop(heap)
        yield reading
        following = next(streams[index], None)
        if following is not None:
            heapq.heappush(heap, (following.time_s, index, following))


def encode_reading(reading: SimReading, seq: int, fmt: str = "json") -> bytes:
    """The payload of ``reading`` with sequence number ``seq``, as JSON or SenML."""
    if fmt == "senml":
        return encode_senml(reading.partner, reading.station, reading.sent_time_s, seq, dict(reading.device_values))
    return encode_json(reading.sent_time_s, seq, dict(reading.device_values))


def scenario_messages(catalog: Catalog, scenario: str | ScenarioPlan, start_s: float, duration_s: float,
                      interval_s: float | Mapping[str, float] = 60.0, seed: int = 0, fmt: str = "json",
                      first_seq: int = 1) -> Iterator[tuple[str, bytes, SimReading]]:
    """Encoded messages ``(topic, payload, reading)`` in time order, no broker involved.

    Sequence numbers count per station from ``first_seq``; ``reading.seq`` carries it.
    """
    seqs: dict[str, int] = {}
    for reading in scenario_readings(catalog, scenario, start_s, duration_s, interval_s, seed):
        seq = seqs.get(reading.station, first_seq)
        seqs[reading.station] = seq + 1
        yield (data_topic(reading.partner, reading.station), encode_reading(reading, seq, fmt),
               SimReading(reading.partner, reading.station, reading.kind, reading.time_s, reading.sent_time_s,
                          reading.values, reading.device_values, reading.faults, seq))


@dataclass(frozen=True)
class PublishReport:
    """What :func:`run_scenario` published and what the broker acknowledged (PUBACK).

    Counts are messages unless named ``readings_…`` (one reading = one quantity's value).
    ``per_station`` is keyed by ``partner/station``; ``peaks`` by station id.
    """

    scenario: str
    published: int
    acknowledged: int
    dropped: int
    readings_published: int
    readings_acknowledged: int
    per_station: Mapping[str, StationCounts]
    peaks: Mapping[str, Peak]
    start_s: float
    duration_s: float
    wall_s: float
    faults: tuple = field(default=())

    @property
    def unacknowledged(self) -> int:
        """Messages neither acknowledged nor dropped (saved for the next run, if a state dir is set)."""
        return self.published - self.acknowledged - self.dropped

    @property
    def messages_per_s(self) -> float:
        """Acknowledged messages per wall second."""
        return self.acknowledged / self.wall_s if self.wall_s > 0 else 0.0


def interval_from_rate(n_stations: int, speed: float, rate: float) -> float:
    """Simulated seconds between a station's readings so all stations send ``rate`` messages/s.

    >>> interval_from_rate(7, 60.0, 7.0)
    60.0
    """
    if not rate > 0:
        raise ConfigError(f"--rate: {rate} is not a positive number of messages per second")
    return n_stations * speed / rate


#: The simulator fsyncs its outbox every 100 messages (and every 0.2 s), not per message as a device
#: does: fast-forward runs publish thousands per second, and simulated readings can be made again.
SIMULATOR_SYNC_EVERY = 100


def _publisher(settings: Settings, catalog: Catalog, state_dir: Path | None, client_id: str | None,
               window: int) -> MultiStationPublisher:
    mqtt = settings.mqtt
    password = mqtt.password.get_secret_value() if mqtt.password is not None else None
    return MultiStationPublisher(
        mqtt.host, mqtt.port, [st.key for st in catalog.stations],
        client_id=client_id or f"rw-sim-{os.getpid()}", state_dir=state_dir, username=mqtt.username,
        password=password, window=window, tls_ca=mqtt.ca_file if mqtt.tls else None,
        keepalive_s=mqtt.keepalive_s, sync_every=SIMULATOR_SYNC_EVERY)


def run_scenario(settings: Settings, catalog: Catalog, scenario: str, speed: float, duration_s: float,
                 rate: float | None = None, *, interval_s: float | Mapping[str, float] | None = None,
                 fmt: str = "json", start_s: float | None = None, seed: int = 0,
                 state_dir: str | os.PathLike | None = None, client_id: str | None = None,
                 flush_timeout: float = 30.0, window: int = 100, connect_timeout: float = 10.0
                 ) -> PublishReport:
    """Simulate ``scenario`` and publish it to the broker of ``settings``.

    Parameters
    ----------
    speed
        Simulated seconds per wall second; ``math.inf`` (or <= 0) publishes as fast as possible.
    duration_s
        Simulated seconds to cover.
    rate
        Messages per wall second over all stations: sets the reading interval (finite speed), or
        caps the pace (infinite speed). Ignored when ``interval_s`` is given.
    interval_s
        Simulated seconds between readings of a station, one number or per station id (default 60).
    start_s
        Simulated start (epoch s); default ``now - duration_s``, so no timestamp is in the future.
    state_dir
        Where the publisher keeps sequence numbers and unsent messages (default
        ``settings.state_dir / "devices"``; None-like ``""`` keeps them in memory).
    flush_timeout
        Seconds to wait at the end for outstanding acknowledgements.
    """
    speed = math.inf if speed is None or speed <= 0 else float(speed)
    if fmt not in ("json", "senml"):
        raise ConfigError(f"--format: {fmt!r} is not json or senml")
    if not duration_s > 0:
        raise ConfigError(f"--duration: {duration_s} is not a positive number of seconds")
    start_s = time.time() - duration_s if start_s is None else float(start_s)
    if interval_s is None:
        interval_s = interval_from_rate(len(catalog.stations), speed, rate) if rate and math.isfinite(speed) else 60.0
    pace = rate if (rate and not math.isfinite(speed)) else None
    plan = build_scenario(scenario, catalog, start_s, duration_s, seed)
    if plan.needed_s > duration_s:
        log.warning("scenario %s needs %.1f h of simulated time for all its events; --duration is %.1f h",
                    scenario, plan.needed_s / 3600, duration_s / 3600)
    if state_dir is None:
        directory: Path | None = settings.state_dir / "devices"
    else:
        directory = Path(state_dir) if str(state_dir) else None
    publisher = _publisher(settings, catalog, directory, client_id, window).start()
    if not publisher.wait_connected(connect_timeout):
        log.warning("broker %s:%s not reachable yet: readings are queued until it is",
                    settings.mqtt.host, settings.mqtt.port)
    wall0 = time.monotonic()
    last_log = wall0
    try:
        for count, reading in enumerate(scenario_readings(catalog, plan, start_s, duration_s, interval_s, seed)):
            target = (wall0 + (reading.time_s - start_s) / speed if math.isfinite(speed)
                      else wall0 + count / pace if pace else None)
            delay = 0.0 if target is None else target - time.monotonic()
            if delay > 0:  # computed once: a second clock read could make it negative
                time.sleep(delay)
            publisher.publish(reading.partner, reading.station, reading.sent_time_s, reading.device_values, fmt)
            if time.monotonic() - last_log > 5.0:
                last_log = time.monotonic()
                log.info("simulated %s, %d messages published", _hours(reading.time_s - start_s), count + 1)
        publisher.flush(flush_timeout)
    finally:
        stats = publisher.close(timeout=1.0)
    wall = time.monotonic() - wall0
    return PublishReport(scenario, stats.published, stats.acknowledged, stats.dropped, stats.readings_published,
                         stats.readings_acknowledged, stats.per_station, dict(plan.peaks), start_s, duration_s,
                         wall, plan.faults)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h"
