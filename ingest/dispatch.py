"""One message off the processing queue, handled in its lane (processing thread).

A reading is validated, runs through the pipeline and goes to the sink, with its warnings to the
outbox and a commit (:mod:`ingest.commit`); a status message is only acknowledged. An operator's
acknowledgement goes to the desk (:mod:`ingest.acks`), unless it is another shard's warning, and
a drill's reading to the exercises (:mod:`ingest.exercise`), never the real pipeline. A message
that does not decode is rejected (:mod:`ingest.outbox`); any other failure is logged, counted in
``errors`` and acknowledged all the same: a poison message never wedges the worker.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> from riverwatch.contract import data_topic
>>> from riverwatch.settings import Settings
>>> from ingest.service import Service
>>> svc = Service(Settings(ingest={"detectors": []}), load_catalog("catalog/demo.toml"))
>>> svc.dispatcher.handle((data_topic("rivertown", "gauge-hochtal"), b"not json", 1, 1, 0.0, 0))
>>> svc.stats.received, svc.stats.rejected_by_reason, svc.flow.handled
(1, {'bad_json': 1}, 1)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from riverwatch.ack_contract import is_ack_topic, warning_station
from riverwatch.errors import DecodeError
from riverwatch.exercise_contract import is_exercise_topic

from ingest.acks import AckDesk
from ingest.commit import CommitProtocol
from ingest.consumer import Item
from ingest.exercise import Exercises
from ingest.flow import FlowControl
from ingest.influx_sink import InfluxSink
from ingest.outbox import Outbox
from ingest.pipeline import Pipeline
from ingest.share_sink import ShareSink
from ingest.stats import Stats
from ingest.validate import Validator

log = logging.getLogger(__name__)


class Dispatcher:
    """Handles each message a worker takes off its processing queue (:meth:`handle`).

    Parameters
    ----------
    stats
        The worker's counters (``received``, ``accepted``, ``status_messages``, ``readings_in``, ``errors``).
    flow
        Its flow control; ``flow.handled`` counts each message once handled.
    validator, pipeline
        Decode a reading, then score it (its lines and warning events).
    sink
        Where the lines and each message's acknowledgement token go.
    outbox
        Publishes warnings and rejects.
    commits
        Commits after a reading that raised warnings.
    share
        The sharing sink, told of each reading once its lines are in the sink.
    acks, exercises
        The acknowledgement desk and the drills.
    shard_stations
        The ``(partner, station)`` pairs of this worker's shard (None: all).
    last_seen
        ``(partner, station)`` -> arrival of its last accepted reading (the summary's).
    """

    def __init__(self, stats: Stats, flow: FlowControl, validator: Validator, pipeline: Pipeline, sink: InfluxSink,
                 outbox: Outbox, commits: CommitProtocol, share: ShareSink, acks: AckDesk, exercises: Exercises,
                 shard_stations: list[tuple[str, str]] | None, last_seen: dict[tuple[str, str], float]) -> None:
        self.stats, self.flow, self.validator, self.pipeline = stats, flow, validator, pipeline
        self.sink, self.outbox, self.commits, self.share = sink, outbox, commits, share
        self.acks, self.exercises = acks, exercises
        self.shard_stations = shard_stations
        self._last_seen = last_seen

    def handle(self, item: Item) -> None:
        """Handle one queued message; never raises."""
        topic, payload, mid, qos, arrival, generation = item
        stats = self.stats
        stats.received += 1
        if topic[-5:] != "/data" and is_ack_topic(topic):
            token = (mid, qos, 0, generation)
            self._handle_aside(topic, token, lambda: self._acknowledgement(topic, payload, token))
            return
        if is_exercise_topic(topic):  # a drill: its own lane, never the real pipeline
            token = (mid, qos, 0, generation)
            self._handle_aside(topic, token, lambda: self.exercises.handle(topic, payload, arrival, token))
            return
        try:
            obs = self.validator.validate(topic, payload, arrival)
            if obs is None:
                stats.status_messages += 1
                self.sink.add([], (mid, qos, 0, generation))
            else:
                stats.accepted += 1
                stats.readings_in += len(obs.values)
                self._last_seen[(obs.partner, obs.station)] = arrival
                lines: list[str] = []
                events = self.pipeline.process(obs, lines)
                token = (mid, qos, len(obs.values), generation)
                if events:
                    self.sink.add(lines)
                    self.outbox.warnings(events)
                    self.commits.commit(token)
                else:
                    self.sink.add(lines, token)
                self.share.note_readings(obs.partner, obs.station, obs.time_ns)  # after its lines
        except DecodeError as exc:
            try:
                self.outbox.reject(exc, topic, payload, arrival, (mid, qos, 0, generation))
            except Exception:  # publishing or recording the reject failed: still never stop
                stats.errors += 1
                log.exception("recording the reject of a message from %.200s failed", topic)
        except Exception:  # a poison message must not wedge the worker: count, ack, go on
            stats.errors += 1
            log.exception("internal error on a message from %.200s", topic)
            self.sink.add([], (mid, qos, 0, generation))
        finally:
            self.flow.handled += 1

    def _handle_aside(self, topic: str, token: tuple, handle: Callable[[], None]) -> None:
        """A message beside the readings (an acknowledgement, a drill's reading): ``handle()`` adds its
        token to the sink; a failure before that is logged, counted and acknowledged all the same."""
        try:
            handle()
        except Exception:  # never stop ingesting over an acknowledgement or a drill
            self.stats.errors += 1
            log.exception("handling a message from %.200s failed", topic)
            self.sink.add([], token)
        finally:
            self.flow.handled += 1

    def _acknowledgement(self, topic: str, payload: bytes, token: tuple) -> None:
        """An operator's acknowledgement to the desk (unless it is another shard's warning)."""
        if self.shard_stations is None or warning_station(topic) in self.shard_stations:
            self.acks.on_message(topic, payload, time.time())
        self.sink.add([], token)
