"""Flow control of one ingest worker: the processing queue, the backlog's bound, and the QoS 0
messages dropped at it, reported as ``overloaded`` rejects.

The worker's in-memory *backlog* is bounded by ``ingest.max_queue`` messages: those waiting for the
processing thread plus those the :class:`~ingest.influx_sink.InfluxSink` holds (open batch, batches
handed to the writer, the one being written) until they are durable. Counting the writer's share
matters: the processing thread hands a batch over without waiting, so with InfluxDB slow (but up),
or down with the spool full, a bound on the first queue alone only moves the pile one hop
downstream. Room for ``mqtt.receive_maximum`` messages is kept for QoS 1, which is never dropped: it
is acknowledged only once durable, the broker should send no more unacknowledged ones than that, and
should it send more anyway (Mosquitto 2.0.11 does, after PUBACKs, while it has a backlog for us)
the consumer stops reading at the bound (:meth:`FlowControl.full`: TCP backpressure, with the fast
client of :mod:`ingest.fastmqtt`; the plain paho client cannot hold its reads, see
:mod:`ingest.consumer`). A QoS 0 message (which nothing flow-controls) that finds the rest of the
backlog full is dropped on the network thread at the cost of one counter increment; once per tick
the processing thread records everything dropped since the last tick as *one* ``overloaded``
reject (published on ``rw/v1/_system/_unknown/rejected`` and written with ``count`` = the number
dropped). Nothing here blocks the processing thread or the writer, so no wait can close a cycle:
the network thread waits for the writer, the writer for InfluxDB or the spool, never for either
thread.

Bytes are counted too, as a check on memory: :attr:`FlowControl.backlog_bytes` is the payload
bytes in the processing queue plus the line-protocol bytes the writer holds, and
:attr:`FlowControl.backlog_bytes_max` the most it has been. Each message's payload is at most
``mqtt.max_payload_bytes`` (larger ones are rejected as ``oversize`` once read) and its lines are
a few hundred bytes per reading, so the message bound is also a memory bound.

Lines without a message behind them (the periodic ``pipeline``/``station_state`` points and the
``overloaded`` reject lines) are added only while the writer makes progress
(:meth:`FlowControl.writer_moved`): while it has batches in hand and has finished none since the
last such write (InfluxDB down and the spool full), the points are skipped (counted) and the
overload count is carried to the next line, so a stalled writer's backlog stays bounded too.

Examples
--------
>>> import tempfile
>>> from ingest.spool import Spool
>>> sink = InfluxSink(Settings().influx, Spool(tempfile.mkdtemp(), 1 << 20))
>>> flow = FlowControl(Settings(ingest={"max_queue": 3}, mqtt={"receive_maximum": 1}), sink)
>>> for qos in (0, 0, 0, 1):
...     flow.enqueue(("rw/v1/p/s/data", b"{}", 0, qos, 0.0, 1))
>>> flow.depth, flow.backlog, flow.overload_dropped, flow.full()
(3, 3, 1, True)
>>> flow.backlog_bytes, flow.backlog_bytes_max
(6, 6)
"""

from __future__ import annotations

import logging
import queue
import time

from riverwatch.errors import ConfigError
from riverwatch.settings import Settings

from ingest.consumer import Item
from ingest.influx_sink import InfluxSink
from ingest.outbox import Outbox
from ingest.stats import Stats

log = logging.getLogger(__name__)


class PayloadQueue(queue.SimpleQueue):
    """The processing queue, counting the payload bytes it holds (items are :data:`~ingest.consumer.Item`).

    ``put_bytes`` is written by the network thread, ``taken_bytes`` by the processing thread.

    >>> q = PayloadQueue()
    >>> q.put(("t", b"12345", 0, 1, 0.0, 1)); q.bytes
    5
    >>> _ = q.get_nowait(); q.bytes
    0
    """

    def __init__(self) -> None:
        self.put_bytes = 0
        self.taken_bytes = 0

    def put(self, item: Item, block: bool = True, timeout: float | None = None) -> None:
        """Queue ``item`` and count its payload."""
        self.put_bytes += len(item[1])
        super().put(item)

    def get(self, block: bool = True, timeout: float | None = None) -> Item:
        """Take the oldest item (waiting up to ``timeout`` s) and count its payload out."""
        item = super().get(block, timeout)
        self.taken_bytes += len(item[1])
        return item

    def get_nowait(self) -> Item:
        """Take the oldest item or raise :class:`queue.Empty`."""
        return self.get(False)

    @property
    def bytes(self) -> int:
        """Payload bytes queued and not yet taken (may lag by the item being taken, never run ahead)."""
        return self.put_bytes - self.taken_bytes


class FlowControl:
    """The processing queue and the backlog's accounting.

    :meth:`enqueue` and :meth:`full` run on the network thread; :attr:`handled`,
    :meth:`report_overload` and the other methods belong to the processing thread. Each counter is written by
    one thread only; a reader may see another thread's counter lag, never run ahead.

    Parameters
    ----------
    settings
        ``ingest.max_queue`` and ``mqtt.receive_maximum`` (see :func:`queue_bounds`).
    sink
        The InfluxDB sink: what its writer holds is part of the backlog.
    """

    def __init__(self, settings: Settings, sink: InfluxSink) -> None:
        self.max_queue, self.qos0_room = queue_bounds(settings)
        self.queue = PayloadQueue()
        self.sink = sink
        self._counters = sink.counters
        self.enqueued = 0  # network thread
        self.handled = 0  # processing thread
        self.queue_max_depth = 0  # deepest the processing queue has been (network thread)
        self.backlog_max = 0  # deepest the backlog (queue + writer) has been (network thread)
        self.interval_backlog_max = 0  # the same since the last pipeline point (reset by the processing thread)
        self.backlog_bytes_max = 0  # most bytes the backlog (payloads queued + lines in the writer) held
        self.overload_dropped = 0  # QoS 0 messages dropped by the network thread (its counter)
        self.overload_reported = 0  # of those, recorded as rejects (the processing thread's counter)
        self.overload_unwritten = 0  # of those, not yet in a reject line (writer stalled)
        self.overload_topic = ""
        self._progress_mark = {"summary": -1, "overload": -1}  # writer's batches_done at the last such write

    @property
    def depth(self) -> int:
        """Messages received from the broker and not yet processed."""
        return self.enqueued - self.handled

    @property
    def backlog(self) -> int:
        """Messages received and not yet durable: the processing queue plus the writer's backlog.

        Never smaller than the truth when it returns (a message moving from the queue to the writer
        may be counted twice for a moment); ``ingest.max_queue`` bounds it.
        """
        handled = self.handled  # before the sink's counters: a message is added there before it is handled
        counters = self._counters
        done = counters.messages_done
        return self.enqueued - handled + counters.messages_added - done

    @property
    def backlog_bytes(self) -> int:
        """Payload bytes in the processing queue plus line-protocol bytes the writer holds."""
        counters = self._counters
        return self.queue.bytes + counters.bytes_added - counters.bytes_done

    def full(self) -> bool:
        """Network thread: True while the backlog holds ``ingest.max_queue`` messages (the consumer stops reading)."""
        return self.backlog >= self.max_queue

    def enqueue(self, item: Item) -> None:
        """Network thread: queue a message, or drop a QoS 0 one when the backlog is full (counted)."""
        handled = self.handled  # may lag the other threads: never too small
        counters = self._counters
        done = counters.messages_done
        depth = self.enqueued - handled
        backlog = depth + counters.messages_added - done
        if backlog >= self.qos0_room and not item[3]:
            self.overload_dropped += 1
            self.overload_topic = item[0]
            return
        self.enqueued += 1
        self.queue.put(item)
        if depth >= self.queue_max_depth:
            self.queue_max_depth = depth + 1
        if backlog >= self.backlog_max:
            self.backlog_max = backlog + 1
        if backlog >= self.interval_backlog_max:
            self.interval_backlog_max = backlog + 1
        held = self.backlog_bytes
        if held > self.backlog_bytes_max:
            self.backlog_bytes_max = held

    def report_overload(self, outbox: Outbox, stats: Stats, final: bool = False) -> None:
        """Record the QoS 0 messages dropped since the last call as one ``overloaded`` reject.

        Counted and published on MQTT at once; the ``reject`` line waits (its count growing) while
        the writer is stalled, so that a long stall adds no line per tick, unless ``final`` (on stop).
        """
        dropped = self.overload_dropped - self.overload_reported
        topic = self.overload_topic
        if dropped:
            self.overload_reported += dropped
            self.overload_unwritten += dropped
            stats.received += dropped
            stats.rejected += dropped
            stats.rejected_by_reason["overloaded"] = stats.rejected_by_reason.get("overloaded", 0) + dropped
            detail = overload_detail(dropped, self.qos0_room, self.max_queue, topic)
            log.warning("overloaded: %s (%d so far)", detail, self.overload_reported)
            outbox.publish_overloaded(detail, topic, time.time())
        unwritten = self.overload_unwritten
        if not unwritten or not (self.writer_moved("overload") or final):
            return
        self.overload_unwritten = 0
        outbox.write_overloaded(unwritten, overload_detail(unwritten, self.qos0_room, self.max_queue, topic), topic)

    def take_interval_backlog_max(self, backlog_now: int) -> int:
        """The deepest backlog since the last call, which starts the next interval at ``backlog_now``."""
        interval_max, self.interval_backlog_max = self.interval_backlog_max, backlog_now
        return max(interval_max, backlog_now)

    def writer_moved(self, purpose: str) -> bool:
        """True (and remembered for ``purpose``) unless the writer holds batches and has finished none
        since the last time this returned True for ``purpose``: lines without a message behind them
        are added only then."""
        done = self._counters.batches_done
        if done == self._progress_mark[purpose] and self.sink.pending_batches:
            return False
        self._progress_mark[purpose] = done
        return True


def overload_detail(dropped: int, room: int, bound: int, topic: str) -> str:
    """The ``detail`` of an ``overloaded`` reject.

    >>> overload_detail(3, 40, 60, "rw/v1/p/s/data")[:54]
    '3 QoS 0 messages dropped: the backlog held 40 messages'
    """
    return (f"{dropped} QoS 0 messages dropped: the backlog held {room} messages (ingest.max_queue {bound} "
            f"less mqtt.receive_maximum, kept for QoS 1) waiting to be processed or stored; last from {topic}")


def queue_bounds(settings: Settings) -> tuple[int, int]:
    """``(ingest.max_queue, room for QoS 0)``; the rest is kept for ``mqtt.receive_maximum`` QoS 1 messages.

    >>> queue_bounds(Settings(ingest={"max_queue": 5000}, mqtt={"receive_maximum": 1000}))
    (5000, 4000)
    """
    bound, qos1 = settings.ingest.max_queue, settings.mqtt.receive_maximum
    if bound <= qos1:
        raise ConfigError(f"option ingest.max_queue: {bound} must be larger than mqtt.receive_maximum ({qos1}), "
                          "the room kept for QoS 1 messages")
    return bound, bound - qos1

