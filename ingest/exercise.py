"""Joint drills inside a running worker: a lane of its own per drill, never touching the real one.

Readings published under the exercise root (:mod:`riverwatch.exercise_contract`) are validated,
scored and turned into warnings by a separate validator, pipeline (detectors, quality checks and
warning book) and renderer per drill. What a lane writes goes to ``exercise_*`` measurements tagged
with the drill; what it publishes goes under the exercise root; its warnings carry CAP status
``Exercise``, ids starting ``exercise.<drill>.`` and texts marked EXERCISE in every language; the
feed server shows them under ``/exercise/`` only. The real validator, pipeline, checkpoint, feed
and acknowledgement desk never see any of it. A lane
lives in memory only (a restart ends the drill's detector state) and closes after an idle hour.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from riverwatch.catalog import Catalog
from riverwatch.errors import DecodeError
from riverwatch.exercise_contract import exercise_line, exercise_topic, parse_exercise_topic
from riverwatch.model import WarningEvent
from riverwatch.settings import Settings

from ingest.alerts import AlertRenderer
from ingest.feed import EXERCISE_FEED_ID, AlertFeed
from ingest.influx_sink import InfluxSink
from ingest.mqtt_publisher import MqttPublisher
from ingest.outbox import Outbox
from ingest.pipeline import Pipeline
from ingest.stats import Stats
from ingest.validate import Validator

log = logging.getLogger(__name__)

#: Drills a worker runs at once; messages of one more are acknowledged and dropped (logged).
MAX_DRILLS = 4
#: A drill whose lane received nothing for this long is closed.
IDLE_CLOSE_S = 3600.0


class ExerciseSink:
    """The worker's sink, with every line moved to its ``exercise_`` measurement and tagged."""

    def __init__(self, sink: InfluxSink, drill: str) -> None:
        self.sink, self.drill = sink, drill

    def add(self, lines: list[str], token: object = None) -> None:
        """Like :meth:`InfluxSink.add`."""
        self.sink.add([exercise_line(line, self.drill) for line in lines], token)


class ExercisePublisher(MqttPublisher):
    """The worker's publisher, with every topic moved under the exercise root."""

    def __init__(self, client: object, drill: str) -> None:
        super().__init__(client)
        self.drill = drill

    def _publish(self, topic: str, body: bytes, retain: bool, counter: str, mime: str,
                 expires_at: float | None = None) -> bool:
        return super()._publish(exercise_topic(self.drill, topic), body, retain, counter, mime, expires_at)


class Lane:
    """One drill's validator, pipeline and outbox."""

    def __init__(self, drill: str, catalog: Catalog, settings: Settings, sink: InfluxSink, client: object,
                 specs=None, feed: AlertFeed | None = None) -> None:
        self.drill = drill
        self.stats = Stats()
        self.validator = Validator(catalog, settings.ingest, settings.mqtt.max_payload_bytes)
        self.pipeline = Pipeline(catalog, settings, specs=specs)
        self.sink = ExerciseSink(sink, drill)
        self.outbox = Outbox(catalog, self.stats, self.sink, ExercisePublisher(client, drill),
                             AlertRenderer(catalog, feed, exercise=True))
        self.last_message = time.monotonic()

    def handle(self, topic: str, payload: bytes, arrival: float, token: tuple) -> None:
        """One message of the drill, on its real topic."""
        self.last_message = time.monotonic()
        self.stats.received += 1
        try:
            obs = self.validator.validate(topic, payload, arrival)
        except DecodeError as exc:
            self.outbox.reject(exc, topic, payload, arrival, token)
            return
        if obs is None:
            self.sink.add([], token)
            return
        self.stats.accepted += 1
        lines: list[str] = []
        events = self.pipeline.process(obs, lines)
        self.sink.add(lines, token)
        self.outbox.warnings(self.marked(events))

    def tick(self) -> None:
        """Advance the drill's warning book."""
        self.outbox.warnings(self.marked(self.pipeline.tick()))

    def marked(self, events: list[WarningEvent]) -> list[WarningEvent]:
        """The events with exercise ids (``exercise.<drill>.<id>``): no CAP identifier of a real warning."""
        return [dataclasses.replace(e, id=f"exercise.{self.drill}.{e.id}") for e in events]


class Exercises:
    """The drills a worker is running (processing thread only)."""

    def __init__(self, catalog: Catalog, settings: Settings, sink: InfluxSink, client: object, specs=None) -> None:
        self.catalog, self.settings, self.sink, self.client, self.specs = catalog, settings, sink, client, specs
        self.lanes: dict[str, Lane] = {}
        self.dropped = 0
        #: Every drill's alerts, for the feed server's ``/exercise/`` pages and feeds.
        self.feed = AlertFeed(feed_id=EXERCISE_FEED_ID)

    def handle(self, topic: str, payload: bytes, arrival: float, token: tuple) -> None:
        """One message under the exercise root; always acknowledged once its lines are durable."""
        parsed = parse_exercise_topic(topic)
        lane = self._lane(parsed[0]) if parsed else None
        if lane is None:
            self.dropped += 1
            self.sink.add([], token)
            return
        lane.handle(parsed[1], payload, arrival, token)

    def tick(self) -> None:
        """Advance every drill's warnings; close idle drills."""
        now = time.monotonic()
        for drill, lane in list(self.lanes.items()):
            lane.tick()
            if now - lane.last_message > IDLE_CLOSE_S:
                log.info("drill %s: idle for %.0f s, lane closed", drill, IDLE_CLOSE_S)
                del self.lanes[drill]

    def _lane(self, drill: str) -> Lane | None:
        lane = self.lanes.get(drill)
        if lane is None and len(self.lanes) < MAX_DRILLS:
            lane = self.lanes[drill] = Lane(drill, self.catalog, self.settings, self.sink, self.client, self.specs,
                                            self.feed)
            log.info("drill %s: exercise lane opened", drill)
        elif lane is None:
            log.warning("drill %s: %d drills already running; its messages are dropped", drill, MAX_DRILLS)
        return lane
