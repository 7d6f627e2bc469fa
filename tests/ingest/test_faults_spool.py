"""The spool's disk fills up while InfluxDB is failing: backpressure, nothing lost, nothing doubled.

The worker is a real ``riverwatch run`` process. InfluxDB (up, behind
:class:`~tests.ingest.fault_proxy.FaultProxy`) answers 503, so the worker spools; then its disk
"fills": the test lowers the worker's ``RLIMIT_FSIZE`` to 0 with ``prlimit`` (no root needed; every
write that would grow a file fails with ``EFBIG`` — Python ignores ``SIGXFSZ`` — as on a full disk,
where it would fail with ``ENOSPC``). Acks must stop (the broker keeps the stream in the persistent
session), the spool-full counter must rise, and once the disk has room and InfluxDB answers again
every acknowledged reading must be stored exactly once.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

from application.services import free_port

from tests.helpers import wait_until
from tests.ingest.fault_proxy import FaultProxy
from tests.ingest.resilience_kit import (GAUGES, WAIT, WEATHER, StreamPublisher, WorkerProcess, interleaved, report,
                                         stored, worker_config)


def set_file_size_limit(pid: int, limit: int) -> None:
    """Lower (or restore, with ``RLIM_INFINITY``) the soft ``RLIMIT_FSIZE`` of process ``pid``."""
    _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))


def test_a_full_spool_disk_holds_acks_and_loses_nothing(services, influx, tmp_path):
    proxy = FaultProxy(services.influx_url)
    port = free_port()
    config = tmp_path / "worker.toml"
    worker_config(config, services, influx.database, proxy.url, tmp_path, port, client="faults")
    worker = WorkerProcess(config, tmp_path / "worker.log", port)
    publisher = StreamPublisher(services.mqtt_host, services.mqtt_port)
    try:
        worker.start()
        messages = interleaved(GAUGES + WEATHER, 300, int(time.time()) - 3 * 86400)  # 1,500 messages
        publisher.stream(messages, pace_s=0.01)
        assert wait_until(lambda: publisher.index >= 200, 20)
        proxy.set_mode("http_503")
        assert wait_until(lambda: (worker.metric("riverwatch_spool_bytes") or 0) > 0, 20), worker.tail()
        set_file_size_limit(worker.proc.pid, 0)  # the disk is full
        try:
            assert wait_until(lambda: (worker.metric("riverwatch_spool_full_total") or 0) > 0, 20), worker.tail()
            time.sleep(1.5)  # acks of batches made durable before the disk filled reach the counter
            acked_when_full = worker.metric("riverwatch_messages_acked_total")
            assert wait_until(lambda: publisher.index >= 900, 30)  # the stream goes on into the session
            acked_while_full = worker.metric("riverwatch_messages_acked_total") - acked_when_full
            spool_full = worker.metric("riverwatch_spool_full_total")
        finally:
            set_file_size_limit(worker.proc.pid, resource.RLIM_INFINITY)  # room again
        proxy.set_mode("pass")
        publisher.join()
        assert publisher.wait_acked()
        acknowledged = publisher.acknowledged()
        assert wait_until(lambda: stored(influx)[1] >= acknowledged, WAIT, 0.5), worker.tail()
        assert wait_until(lambda: worker.metric("riverwatch_spool_bytes") == 0, WAIT), worker.tail()
        total, keys = stored(influx)
        corrupt = worker.metric("riverwatch_spool_corrupt_records_total")
        segments = len(list((tmp_path / "worker-spool").glob("*.seg")))
        report("spool disk full", publisher, acknowledged, total, keys, worker.rejects(),
               acked_while_full=int(acked_while_full), spool_full=int(spool_full), corrupt=corrupt,
               segments_left=segments)
        assert acked_while_full == 0  # backpressure: nothing is acknowledged that is not durable
        assert keys == acknowledged and total == len(keys)
        assert worker.rejects() == {}
        assert corrupt == 0 and segments <= 1
    finally:
        publisher.close()
        worker.stop()
        proxy.close()


def small_tmpfs(path: Path, size: str) -> bool:
    """Mount a tmpfs of ``size`` on ``path``; False where that is not allowed (not root, no CAP_SYS_ADMIN)."""
    import subprocess

    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def test_a_really_full_disk_leaves_no_torn_record_behind(tmp_path):
    """ENOSPC in the middle of a record (a real 64 KiB tmpfs): the append fails as a whole, the part
    that fitted is cut off again, so replay finds every record appended before and no 'corruption'
    (which would page an operator for data that was never acknowledged)."""
    import subprocess

    import pytest

    from riverwatch.errors import SinkError
    from ingest.spool import Spool

    mount = tmp_path / "small"
    if not small_tmpfs(mount, "64k"):
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN); the RLIMIT_FSIZE test covers the rest")
    try:
        spool = Spool(mount / "spool", max_bytes=1 << 30)
        appended, refused = [], 0
        for i in range(40):
            body = b"reading,station=s value=%d %d\n" % (i, i) * 100  # about 3 KB a record
            try:
                spool.append(body)
                appended.append(body)
            except SinkError:
                refused += 1
        got: list[bytes] = []
        spool.replay(got.append)
        print(f"\n[tmpfs full] appended={len(appended)} refused={refused} corrupt={spool.corrupt_records}")
        assert refused > 0 and appended
        assert got == appended and spool.corrupt_records == 0 and spool.bytes == 0
        spool.append(b"reading value=1 1")  # room again after the replay deleted the segments
        spool.close()
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True, timeout=10)
