"""The commit protocol of one ingest worker: durable, then checkpoint, then acknowledge.

Warnings survive a crash exactly once: a message that makes the warning book emit events is
*committed* before it is acknowledged — its lines and the events' lines are made durable, then the
checkpoint (replay clocks, detectors, warning book; :mod:`ingest.checkpoint`) is written, and only
then is the message acknowledged. A crash before the checkpoint makes the broker redeliver the
message and the restored book emits the same events again (same id, same timestamp: they overwrite
themselves in InfluxDB); a crash after it restores a book that already knows the warning, so it is
neither re-raised nor forgotten. Messages without events are acknowledged as soon as they are
durable (:meth:`CommitProtocol.durable`, called by the sink's writer); what the detectors learned
from them since the last periodic checkpoint is the only thing a crash can cost.

A message's *token* is ``(mid, qos, readings, generation)``: what the consumer needs to acknowledge
it, and the readings it stored.
"""

from __future__ import annotations

import logging
import threading
import time

from ingest.checkpoint import Checkpoints
from ingest.consumer import Consumer
from ingest.influx_sink import InfluxSink
from ingest.stats import Stats

log = logging.getLogger(__name__)

#: Seconds a periodic checkpoint waits for the batches before it to become durable.
DRAIN_TIMEOUT_S = 10.0


class CommitProtocol:
    """Acknowledges durable messages, and commits those whose events must survive a crash.

    Parameters
    ----------
    sink
        The InfluxDB sink (its writer calls :meth:`durable`).
    consumer
        Sends the acknowledgements.
    checkpoints
        Saves the worker's state.
    stats
        ``readings_stored`` and ``acked`` are counted here; ``readings_stored`` leaves out the readings
        InfluxDB refused (the sink's ``readings_refused``, counted before their batch is durable).
    stopping
        Set when the worker is stopping: a commit then stops waiting and leaves its ack to :meth:`settle`.
    """

    def __init__(self, sink: InfluxSink, consumer: Consumer, checkpoints: Checkpoints, stats: Stats,
                 stopping: threading.Event) -> None:
        self.sink = sink
        self.consumer = consumer
        self.checkpoints = checkpoints
        self.stats = stats
        self.stopping = stopping
        self.sink_stopping = False  # set by the worker's stop() before the sink's writer may give batches up
        self.deferred: list[tuple] = []  # tokens whose commit a stop cut short
        self._ack_lock = threading.Lock()
        self._refused_counted = 0  # of the sink's readings_refused, how many readings_stored left out

    def reset(self) -> None:
        """Forget an earlier stop (on start)."""
        self.sink_stopping, self.deferred = False, []

    def durable(self, tokens: list) -> None:
        """A batch is durable (writer thread, or :meth:`commit`); acknowledge its messages in order."""
        stored = 0
        for _mid, _qos, n_readings, _generation in tokens:
            stored += n_readings
        with self._ack_lock:
            self.consumer.ack_many([(mid, qos, generation) for mid, qos, _n, generation in tokens])
            refused = self.sink.counters.readings_refused
            self.stats.readings_stored += stored - (refused - self._refused_counted)
            self._refused_counted = refused
            self.stats.acked += len(tokens)

    def commit(self, token: tuple | None = None) -> None:
        """Make everything so far durable, checkpoint, then acknowledge ``token``.

        Called when the warning book emitted events, so that the acknowledged stream and the
        checkpointed book never disagree (see the module docstring). Blocks while InfluxDB is down
        and the spool is full (backpressure); when stopping it leaves ``token`` to :meth:`settle`,
        which acknowledges it after its own checkpoint (or not at all, if that one fails too).
        """
        durable = self.sink.wait_durable(1.0)
        while not durable and not self.stopping.is_set():
            durable = self.sink.wait_durable(1.0)
        if not durable or self.sink_stopping:  # (a stopped writer gives batches up: not durable)
            if token is not None:
                self.deferred.append(token)
            return
        self.checkpoint(flushed=True)
        if token is not None:
            self.durable([token])

    def checkpoint(self, flushed: bool = False) -> None:
        """Save replay clocks, QC, detectors and the warning book, once everything before is durable.

        The replay clocks must never run ahead of what is durable: a message processed but lost
        in a crash is redelivered and must not then be refused as ``replayed``.
        """
        if not flushed and not self.sink.wait_durable(DRAIN_TIMEOUT_S):
            log.warning("checkpoint skipped: batches not yet durable")
            return
        self.checkpoints.save()

    def settle(self, stop_at: float) -> None:
        """On stop, once the last messages are handled: wait (until ``stop_at``, monotonic) for them
        to be durable, checkpoint, and acknowledge what a commit left."""
        if self.sink.wait_durable(max(0.0, stop_at - time.monotonic())) and not self.sink_stopping:
            self.checkpoint(flushed=True)
            deferred, self.deferred = self.deferred, []
            if deferred:
                self.durable(deferred)
        else:
            log.error("stop: not every batch became durable; checkpoint skipped (messages will be redelivered)")
