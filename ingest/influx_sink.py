"""The InfluxDB sink: batches lines, writes them from its own thread, spools what cannot be written.

Delivery guarantee (docs/operations.md): a message is acknowledged to the broker only once its lines
are *durable*, i.e. InfluxDB answered the write, or the batch sits fsynced in the
:class:`~ingest.spool.Spool`.

- :class:`InfluxSink` batches lines (``influx.batch_lines`` lines, a message-count cap below the
  broker's in-flight window, or ``influx.flush_interval_s``) and writes them from its own thread,
  so the thread reading MQTT never waits for a write. Each batch carries the ack tokens of its
  messages; they are handed to ``on_durable`` in arrival order once the batch is durable.
- A write that fails with a *retryable* error (InfluxDB down, 5xx, ...) spools the batch and the
  sink switches to spooling; a :class:`SpoolReplayer` thread writes the spool back, oldest first,
  while live batches keep flowing, and switches back when the spool is empty. A *non-retryable*
  rejection (HTTP 400) is bisected to isolate the bad lines: dropped, never retried, counted
  (``readings_refused``, never stored) and recorded (:mod:`ingest.refusal`).
- **When the spool is full** nothing is dropped: the batch is held and retried, its messages stay
  unacknowledged (backpressure). The ``spool_full`` counter and an error log every 10 s make this loud.
- **The sink never blocks its producer**: :meth:`InfluxSink.add` only appends. What it holds (open
  batch, batches handed over, the one being written) is counted in messages, lines and bytes, and
  the producer bounds it (:mod:`ingest.flow`: QoS 0 dropped, MQTT reads held once it is full).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from riverwatch.errors import SinkError
from riverwatch.influx import InfluxClient
from riverwatch.settings import InfluxSettings

from ingest.refusal import READING_PREFIX, refusal_line
from ingest.spool import Spool

log = logging.getLogger(__name__)

REPLAY_INTERVAL_S = 0.5
MAX_REPLAY_BACKOFF_S = 5.0


class Batch:
    """Lines and ack tokens handed to the writer thread together."""

    __slots__ = ("lines", "tokens", "created", "bytes")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.tokens: list = []
        self.created = time.monotonic()
        self.bytes = 0  # characters of its lines


class SinkCounters:
    """What the sink counts; each counter is written by one thread only.

    ``messages_added``/``lines_added``/``bytes_added`` (producer) less ``messages_done``/
    ``lines_done``/``bytes_done`` (writer, once a batch is durable or given up) is what the sink
    holds in memory; ``batches_done`` is the writer's progress.
    """

    __slots__ = ("lines_written", "lines_spooled", "lines_replayed", "lines_rejected", "readings_refused",
                 "batches_written", "batches_spooled", "write_errors", "spool_full", "write_lag_s", "messages_added",
                 "lines_added", "bytes_added", "messages_done", "lines_done", "bytes_done", "batches_done")

    def __init__(self) -> None:
        self.lines_written = self.lines_spooled = self.lines_replayed = self.lines_rejected = self.readings_refused = 0
        self.batches_written = self.batches_spooled = self.write_errors = self.spool_full = 0
        self.write_lag_s = 0.0
        self.messages_added = self.lines_added = self.bytes_added = 0
        self.messages_done = self.lines_done = self.bytes_done = self.batches_done = 0


class InfluxSink:
    """Batching InfluxDB writer with a spool, a replayer and ordered durability callbacks.

    Parameters
    ----------
    settings
        ``url``, ``database``, credentials, ``batch_lines``, ``flush_interval_s``, ``timeout_s``.
    spool
        Where batches go while InfluxDB is unavailable.
    on_durable
        Called from the writer thread with each batch's tokens, in order, once it is durable;
        ``counters.readings_refused`` already counts the batch's refused readings by then.
    max_messages
        A batch is handed over once it carries this many tokens (keep it below the broker's
        in-flight window: unacknowledged messages stall delivery).
    on_write
        Called from the writer thread with the duration in seconds of each successful write.

    :meth:`add` and :meth:`poll` belong to one producer thread; the writer and the replayer run
    in their own threads. :meth:`add` never waits: the producer bounds :attr:`backlog_messages`.

    Examples
    --------
    >>> import tempfile
    >>> sink = InfluxSink(InfluxSettings(), Spool(tempfile.mkdtemp(), 1 << 20))
    >>> sink.add(["reading value=1 1", "reading value=2 1"], "token")
    >>> sink.add(["pipeline readings_in=2i 1"])
    >>> sink.backlog_messages, sink.backlog_lines
    (1, 3)
    """

    def __init__(self, settings: InfluxSettings, spool: Spool, on_durable: Callable[[list], None] | None = None,
                 max_messages: int = 500, on_write: Callable[[float], None] | None = None) -> None:
        self.settings, self.spool = settings, spool
        self.on_durable = on_durable or (lambda tokens: None)
        self.on_write = on_write or (lambda seconds: None)
        self.batch_lines, self.flush_interval_s = settings.batch_lines, settings.flush_interval_s
        self.max_messages = max(1, max_messages)
        self.counters = SinkCounters()
        self.client = settings.client()
        self._current = Batch()
        self._queue: queue.Queue[Batch | None] = queue.Queue()
        self._pending = 0          # batches handed over and not yet durable
        self._pending_lock = threading.Lock()
        self._down = spool.bytes > 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_full_log = 0.0
        self._replayer = SpoolReplayer(self)

    # ------------------------------------------------------------------ producer side

    def add(self, lines: list[str], token: object = None) -> None:
        """Add a message's lines (and its ack token) to the open batch; hand it over when full."""
        batch = self._current
        batch.lines.extend(lines)
        counters = self.counters
        counters.lines_added += len(lines)
        size = sum(map(len, lines))
        batch.bytes += size
        counters.bytes_added += size
        if token is not None:
            batch.tokens.append(token)
            counters.messages_added += 1
        if (len(batch.lines) >= self.batch_lines or len(batch.tokens) >= self.max_messages
                or time.monotonic() - batch.created >= self.flush_interval_s):
            self.flush()

    def poll(self) -> None:
        """Hand the open batch over if it is older than ``flush_interval_s`` (call when idle)."""
        batch = self._current
        if (batch.lines or batch.tokens) and time.monotonic() - batch.created >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        """Hand the open batch to the writer thread now."""
        batch = self._current
        if batch.lines or batch.tokens:
            with self._pending_lock:
                self._pending += 1
            self._queue.put(batch)
        self._current = Batch()

    def open_batch_age(self) -> float:
        """Seconds since the open batch was begun (0 when it is empty)."""
        batch = self._current
        return time.monotonic() - batch.created if (batch.lines or batch.tokens) else 0.0

    def idle(self, include_spool: bool = True) -> bool:
        """True when nothing waits: no open lines, no batch in the writer, (and an empty spool)."""
        if self._current.lines or self._current.tokens or self._pending:
            return False
        return not include_spool or self.spool.bytes == 0

    def wait_durable(self, timeout: float) -> bool:
        """Flush, then wait until every handed-over batch is durable (written or spooled)."""
        self.flush()
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._pending

    @property
    def backlog_messages(self) -> int:
        """Messages (ack tokens) added and not yet durable: open batch, handed over, being written.

        Read from any thread; never smaller than the truth at the moment it returns.
        """
        counters = self.counters
        done = counters.messages_done  # read first: a later read could count a message added after this one
        return counters.messages_added - done

    @property
    def backlog_lines(self) -> int:
        """Lines added and not yet durable (what the backlog weighs in memory)."""
        counters = self.counters
        done = counters.lines_done
        return counters.lines_added - done

    @property
    def pending_batches(self) -> int:
        """Batches handed to the writer and not yet durable."""
        return self._pending

    def durable_watermark(self) -> tuple[int, int]:
        """``(lines added, lines in InfluxDB)``: every line added before the first figure was read is
        in InfluxDB once the second reaches it; the second is -1 while the spool holds anything
        (spooled lines are durable but not yet queryable). Any thread."""
        added, done = self.counters.lines_added, self.counters.lines_done
        return added, (done if self.spool.bytes == 0 else -1)

    @property
    def influx_down(self) -> bool:
        """True while batches go to the spool instead of InfluxDB."""
        return self._down

    def start(self) -> None:
        """Start the writer and replayer threads."""
        self._stop.clear()
        self._threads = [threading.Thread(target=self._write_loop, name="influx-writer", daemon=True),
                         threading.Thread(target=self._replayer.run, name="spool-replayer", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Flush the open batch, let the writer finish (or spool) it, and stop both threads."""
        self.flush()
        self._queue.put(None)
        writer, replayer = self._threads or (None, None)
        if writer is not None:
            writer.join(timeout)
        self._stop.set()  # a writer still holding a batch (spool full) gives up: it stays unacked
        if writer is not None:
            writer.join(2.0)
        if replayer is not None:
            replayer.join(timeout)
        self.spool.close()
        self.client.close()
        self._replayer.client.close()

    def _write_loop(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            try:
                durable = self._write_batch(batch)
            except Exception:  # never let the writer die: keep the batch unacknowledged
                log.exception("influx writer: unexpected error")
                durable = False
            if durable:
                self.counters.write_lag_s = time.monotonic() - batch.created
                try:
                    self.on_durable(batch.tokens)
                except Exception:
                    log.exception("influx writer: on_durable failed")
            self._done(batch)

    def _done(self, batch: Batch) -> None:
        """Writer: the batch left memory (durable, or given up unacknowledged when stopping)."""
        counters = self.counters
        counters.messages_done += len(batch.tokens)
        counters.lines_done += len(batch.lines)
        counters.bytes_done += batch.bytes
        counters.batches_done += 1
        with self._pending_lock:
            self._pending -= 1

    def _write_batch(self, batch: Batch) -> bool:
        if not batch.lines:
            return True
        body = "\n".join(batch.lines).encode()
        if not self._down:
            started = time.perf_counter()
            try:
                self.client.write(body)
            except SinkError as exc:
                if not getattr(exc, "retryable", True):
                    self._record_refused(self._bisect(self.client, batch.lines))
                    return True
                self.counters.write_errors += 1
                self._down = True
                log.warning("InfluxDB write failed, spooling until it is back: %s", exc)
            else:
                self.on_write(time.perf_counter() - started)
                self.counters.lines_written += len(batch.lines)
                self.counters.batches_written += 1
                return True
        return self._spool(body, len(batch.lines))

    def _spool(self, body: bytes, n_lines: int) -> bool:
        while True:
            try:
                self.spool.append(body)
            except SinkError as exc:
                if self._stop.is_set():
                    return False
                self.counters.spool_full += 1
                now = time.monotonic()
                if now - self._last_full_log > 10:
                    self._last_full_log = now
                    log.error("%s: holding the batch, MQTT acks stop (backpressure)", exc)
                try:
                    self.client.write(body)
                except SinkError:
                    if self._stop.wait(1.0):
                        return False
                    continue
                self.counters.lines_written += n_lines
                return True
            self.counters.lines_spooled += n_lines
            self.counters.batches_spooled += 1
            return True

    def _bisect(self, client: InfluxClient, lines: list[str]) -> list[tuple[str, str]]:
        """Write ``lines`` in halves until the bad ones are isolated; return them with InfluxDB's reason."""
        mid = len(lines) // 2
        refused: list[tuple[str, str]] = []
        for half in filter(None, (lines[:mid], lines[mid:])):
            body = "\n".join(half).encode()
            try:
                client.write(body)
            except SinkError as exc:
                if getattr(exc, "retryable", True):
                    self._spool(body, len(half))
                elif len(half) == 1:
                    refused.append((half[0], str(exc)))
                else:
                    refused += self._bisect(client, half)
            else:
                self.counters.lines_written += len(half)
        return refused

    def _record_refused(self, refused: list[tuple[str, str]]) -> None:
        """Count the refused lines and readings, and store a ``storage_refused`` reject for each line."""
        counters = self.counters
        for text, _reason in refused[:max(0, 20 - counters.lines_rejected)]:
            log.error("InfluxDB refused a line, dropped: %.300s", text)
        counters.lines_rejected += len(refused)
        counters.readings_refused += sum(text.startswith(READING_PREFIX) for text, _ in refused)
        now_ns = time.time_ns()
        rejects = [refusal_line(text, reason, now_ns + i) for i, (text, reason) in enumerate(refused)]
        try:
            if rejects:
                self.client.write("\n".join(rejects).encode())
                counters.lines_written += len(rejects)
        except SinkError as exc:
            if not getattr(exc, "retryable", True):
                log.error("InfluxDB refused the storage_refused rejects too: %s", exc)
            else:
                self._spool("\n".join(rejects).encode(), len(rejects))


class SpoolReplayer:
    """The replayer thread's work: write the spool back into InfluxDB, oldest first, on its own client.

    Parameters
    ----------
    sink
        The sink whose spool, counters and stop event it shares; it clears the sink's
        ``influx_down`` once the spool is empty.
    """

    def __init__(self, sink: InfluxSink) -> None:
        self.sink = sink
        self.client = sink.settings.client()

    def run(self) -> None:
        """Replay until the sink stops, backing off while InfluxDB refuses."""
        sink, spool = self.sink, self.sink.spool
        backoff = REPLAY_INTERVAL_S
        while not sink._stop.wait(backoff):
            if spool.bytes == 0:
                sink._down = False
                backoff = REPLAY_INTERVAL_S
                continue
            try:
                spool.replay(self._replay_record)
            except SinkError as exc:
                backoff = min(MAX_REPLAY_BACKOFF_S, backoff * 2)
                log.debug("spool replay paused: %s", exc)
                if getattr(exc, "status", None) == 404:
                    self._create_database()
                continue
            except Exception:
                log.exception("spool replay failed")
                backoff = MAX_REPLAY_BACKOFF_S
                continue
            backoff = REPLAY_INTERVAL_S
            if spool.bytes == 0:
                if sink._down:
                    log.warning("InfluxDB is back; spool replayed")
                sink._down = False

    def _replay_record(self, body: bytes) -> None:
        try:
            self.client.write(body)
        except SinkError as exc:
            if getattr(exc, "retryable", True):
                raise
            lines = _split_lines(body.decode())
            self._bisect_replay(lines)
            return
        self.sink.counters.lines_replayed += body.count(b"\n") + 1

    def _bisect_replay(self, lines: list[str]) -> None:
        counters = self.sink.counters
        if len(lines) == 1:
            counters.lines_rejected += 1
            counters.readings_refused += lines[0].startswith(READING_PREFIX)
            return
        mid = len(lines) // 2
        for half in (lines[:mid], lines[mid:]):
            try:
                self.client.write("\n".join(half).encode())
            except SinkError as exc:
                if getattr(exc, "retryable", True):
                    raise
                self._bisect_replay(half)
            else:
                counters.lines_replayed += len(half)

    def _create_database(self) -> None:
        try:
            self.client.create_database()
        except SinkError:
            pass


def _split_lines(text: str) -> list[str]:
    """Split line protocol into its lines; a newline inside a quoted string field ends no line.

    >>> _split_lines('m f="a\\nb" 1\\nm f=2 2')
    ['m f="a\\nb" 1', 'm f=2 2']
    """
    if '"' not in text:
        return text.split("\n")
    lines, start, i, quoted, fields = [], 0, 0, False, False
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2  # an escaped character (\" inside a string, an escaped space or comma outside)
            continue
        if char == " ":
            fields = True
        elif char == '"' and fields:
            quoted = not quoted
        elif char == "\n" and not quoted:
            lines.append(text[start:i])
            start, fields = i + 1, False
        i += 1
    lines.append(text[start:])
    return lines

