"""The spool: CRC, order, bound, torn tails and failing disks."""

from __future__ import annotations

import time

import pytest

from riverwatch.errors import SinkError

from ingest.spool import Spool


def test_spool_replays_in_order_across_segments_and_restarts(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=64)
    bodies = [f"reading value={i} {i}".encode() for i in range(20)]
    for body in bodies:
        spool.append(body)
    assert spool.segments > 1
    spool.close()
    reopened = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=64)
    assert reopened.bytes == spool.bytes
    got = []
    assert reopened.replay(got.append) == 20
    assert got == bodies and reopened.bytes == 0 and reopened.segments == 0


def test_spool_stops_at_a_failing_callback_and_resumes(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    for i in range(5):
        spool.append(str(i).encode())
    seen = []

    def flaky(body):
        if body == b"3" and b"3" not in seen:
            seen.append(body)
            raise SinkError("down")
        seen.append(body)

    with pytest.raises(SinkError):
        spool.replay(flaky)
    assert spool.replay(seen.append) == 2
    assert seen == [b"0", b"1", b"2", b"3", b"3", b"4"]


def test_spool_skips_a_torn_record(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(b"good")
    spool.append(b"torn away")
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    segment.write_bytes(segment.read_bytes()[:-3])
    got = []
    Spool(tmp_path, max_bytes=1 << 20).replay(got.append)
    assert got == [b"good"]


def test_spool_is_bounded(tmp_path):
    spool = Spool(tmp_path, max_bytes=100)
    spool.append(b"x" * 50)
    with pytest.raises(SinkError, match="full"):
        spool.append(b"y" * 50)
    assert spool.bytes == 58



def test_spool_skips_a_corrupt_record_in_the_middle_and_goes_on(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    for body in (b"first", b"second", b"third"):
        spool.append(body)
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[8 + 5 + 8 + 2] ^= 0x40  # flip a bit inside "second"'s body; its length is intact
    segment.write_bytes(bytes(data))
    got = []
    reopened = Spool(tmp_path, max_bytes=1 << 20)
    assert reopened.replay(got.append) == 2
    assert got == [b"first", b"third"] and reopened.corrupt_records == 1 and reopened.bytes == 0


def test_a_torn_tail_after_a_crash_is_counted_and_new_appends_go_to_a_new_segment(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(b"durable")
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    with open(segment, "ab") as f:  # a crash mid-append: a header promising 100 bytes, 3 written
        f.write(b"\x00\x00\x00\x64\x00\x00\x00\x00abc")
    restarted = Spool(tmp_path, max_bytes=1 << 20)
    restarted.append(b"after restart")
    assert restarted.segments == 2
    got = []
    assert restarted.replay(got.append) == 2
    assert got == [b"durable", b"after restart"] and restarted.corrupt_records == 1


def test_oldest_spooled_batch_age(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    assert spool.oldest_age_s() == 0.0
    spool.append(b"x")
    assert 0.0 <= spool.oldest_age_s() < 60
    assert spool.oldest_age_s(now_s=time.time() + 100) >= 100



_DISK_FAILS_SCRIPT = r"""
import resource, signal, sys
from ingest.spool import Spool
from riverwatch.errors import SinkError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG, like a full disk
spool = Spool(sys.argv[1], max_bytes=1 << 20)
spool.append(b"a" * 50)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (100, hard))
try:
    spool.append(b"b" * int(sys.argv[2]))
    failure = "none"
except SinkError:
    failure = "SinkError"
except Exception as exc:
    failure = type(exc).__name__
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
try:
    spool.append(b"c" * 10)
    after = "ok"
except Exception as exc:
    after = type(exc).__name__
got = []
spool.replay(got.append)
print(failure, after, [len(body) for body in got], spool.bytes)
"""


@pytest.mark.parametrize("size", [100, 20_000])  # a record smaller and larger than the write buffer
def test_a_failing_disk_write_is_a_sink_error_and_the_spool_recovers(tmp_path, size):
    """The disk refuses an append (full, I/O error) half-way: the caller gets a SinkError (so the
    writer holds the batch and retries), later appends work, and the byte count stays true."""
    import subprocess
    import sys

    from riverwatch.settings import REPO_ROOT

    result = subprocess.run([sys.executable, "-c", _DISK_FAILS_SCRIPT, str(tmp_path / "spool"), str(size)],
                            capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(None, 2)[:2] == ["SinkError", "ok"]
    assert result.stdout.strip().endswith("[50, 10] 0")
