"""The disk spool: where the InfluxDB sink's batches wait while InfluxDB is unavailable.

Append-only segment files ``<number>-<created ms>.seg`` of records ``[length u32][crc32 u32][body]``,
each append fsynced. A record whose CRC does not match (a flipped bit) is skipped and counted and
replay goes on with the next one; a torn tail (a crash mid-append: header or body cut short) is
counted and ends that segment — nothing after it was ever acknowledged, because an append returns
only once it is fsynced. An append that fails (disk full: the part that fitted is cut off again)
leaves no torn tail. **When the spool is full** (``ingest.spool_max_bytes``) :meth:`Spool.append`
refuses: the :class:`~ingest.influx_sink.InfluxSink` holds the batch and retries, its messages stay
unacknowledged, and the broker keeps further messages in the persistent session once the in-flight
window is full (backpressure).

Examples
--------
>>> import tempfile
>>> spool = Spool(tempfile.mkdtemp(), max_bytes=1 << 20)
>>> spool.append(b"reading value=1 1"); spool.append(b"reading value=2 2")
>>> got = []
>>> spool.replay(got.append), got, spool.bytes
(2, [b'reading value=1 1', b'reading value=2 2'], 0)
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from riverwatch.durable import fsync_directory
from riverwatch.errors import SinkError

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")
SEGMENT_BYTES = 8 << 20


class Spool:
    """Append-only, CRC-checked, fsynced segment files; replayed in order, deleted once written.

    Parameters
    ----------
    directory
        Folder of the segment files ``<number>-<created ms>.seg`` (created).
    max_bytes
        :meth:`append` refuses (``SinkError``) a record that would take the spool past this size.
    segment_bytes
        A segment is closed and a new one begun past this size.

    Thread-safe: one thread may append while another replays (replay seals the open segment
    first, so it never reads a file being written).
    """

    def __init__(self, directory: str | os.PathLike, max_bytes: int, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.corrupt_records = 0
        self._lock = threading.Lock()
        self._replay_lock = threading.Lock()
        self._file = None
        self._file_bytes = 0
        self._progress: dict[str, int] = {}
        existing = self._segments()
        self._next = _segment_number(existing[-1]) + 1 if existing else 1
        self._bytes = sum(p.stat().st_size for p in existing)

    @property
    def bytes(self) -> int:
        """Bytes on disk in all segments."""
        return self._bytes

    @property
    def segments(self) -> int:
        """Number of segment files (sealed and open)."""
        return len(self._segments())

    def oldest_age_s(self, now_s: float | None = None) -> float:
        """Seconds since the oldest segment still on disk was begun (0 when the spool is empty)."""
        segments = self._segments()
        if not segments:
            return 0.0
        created = _segment_created_s(segments[0])
        return max(0.0, (time.time() if now_s is None else now_s) - created)

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob("*.seg"), key=_segment_number)

    def append(self, body: bytes) -> None:
        """Append one record and fsync it.

        Raises
        ------
        SinkError
            When the spool is full or the disk refuses the write (nothing was appended).
        """
        record = _HEADER.pack(len(body), zlib.crc32(body)) + body
        with self._lock:
            if self._bytes + len(record) > self.max_bytes:
                raise SinkError(f"spool {self.directory} is full ({self._bytes} of {self.max_bytes} bytes)")
            try:
                if self._file is None or self._file_bytes >= self.segment_bytes:
                    self._open_segment()
                self._file.write(record)
                self._file.flush()
                os.fsync(self._file.fileno())
            except OSError as exc:
                self._discard_segment()
                raise SinkError(f"spool {self.directory}: {exc}") from exc
            self._file_bytes += len(record)
            self._bytes += len(record)

    def _open_segment(self) -> None:
        self._seal()
        path = self.directory / f"{self._next:012d}-{int(time.time() * 1000)}.seg"
        self._next += 1
        self._file = open(path, "ab")
        self._file_bytes = 0
        fsync_directory(self.directory)  # the new segment's name survives a power cut too

    def _discard_segment(self) -> None:
        """After a failed append: close the segment (errors ignored) and cut off the part of the
        record that made it to disk (a full disk takes what fits), so replay never mistakes it for
        corruption; if even that fails, count the torn tail's bytes."""
        file, self._file = self._file, None
        if file is None:
            return
        try:
            file.close()  # flushes what is left of the buffer, which may fail again
        except OSError:
            pass
        try:
            os.truncate(file.name, self._file_bytes)  # shrinking needs no free space
            return
        except OSError:
            pass
        try:
            self._bytes += max(0, os.stat(file.name).st_size - self._file_bytes)
        except OSError:
            pass

    def _seal(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def replay(self, callback: Callable[[bytes], None]) -> int:
        """Hand every record to ``callback`` in append order; delete each segment once done.

        If ``callback`` raises, replay stops there and re-raises; the records already handed over
        are remembered and the rest stay for the next call.

        Returns
        -------
        int
            The number of records handed over.
        """
        with self._replay_lock:
            with self._lock:
                self._seal()
                segments = self._segments()
            done = 0
            for path in segments:
                done += self._replay_segment(path, callback)
                size = path.stat().st_size
                path.unlink()
                self._progress.pop(path.name, None)
                with self._lock:
                    self._bytes -= size
            return done

    def _replay_segment(self, path: Path, callback: Callable[[bytes], None]) -> int:
        data = path.read_bytes()
        offset, done = self._progress.get(path.name, 0), 0
        while offset < len(data):
            if offset + _HEADER.size > len(data):
                self._corrupt(path, offset, "truncated header")
                break
            length, crc = _HEADER.unpack_from(data, offset)
            body = data[offset + _HEADER.size: offset + _HEADER.size + length]
            if len(body) != length:
                self._corrupt(path, offset, "torn record (shorter than its length)")
                break
            offset += _HEADER.size + length
            if zlib.crc32(body) != crc:
                self._corrupt(path, offset - _HEADER.size - length, "CRC mismatch, record skipped", rest=False)
                self._progress[path.name] = offset
                continue
            callback(body)
            self._progress[path.name] = offset
            done += 1
        return done

    def _corrupt(self, path: Path, offset: int, why: str, rest: bool = True) -> None:
        self.corrupt_records += 1
        log.error("spool segment %s: %s at byte %d%s", path, why, offset,
                  "; the rest of the segment is skipped" if rest else "")

    def close(self) -> None:
        """Close the open segment (appending later opens a new one)."""
        with self._lock:
            self._seal()



def _segment_number(path: Path) -> int:
    return int(path.stem.split("-", 1)[0])


def _segment_created_s(path: Path) -> float:
    parts = path.stem.split("-", 1)
    if len(parts) == 2 and parts[1].isdigit():
        return int(parts[1]) / 1000.0
    try:  # a segment of an older spool without its creation time
        return path.stat().st_mtime
    except OSError:
        return time.time()
