"""Sequence numbers after power cuts and lost files: atomic writes, no number used twice."""

from __future__ import annotations

import logging

import pytest

from devices.seq_store import SEQ_PER_SECOND, SeqStore, seq_floor
from riverwatch.durable import tmp_path as tmp_of
from riverwatch.errors import ConfigError

NOW = 1_800_000_000.0


def test_a_write_cut_before_the_rename_leaves_the_old_reservation(tmp_path):
    path = tmp_path / "seq.json"
    store = SeqStore(path, block=10)
    assert [store.next("p", "s") for _ in range(3)] == [1, 2, 3]
    tmp_of(path).write_bytes(b'{"p/s": 2')  # the next write was torn before os.replace
    assert SeqStore(path).next("p", "s") == 11  # the reserved block is skipped, nothing repeats


def test_a_corrupt_sequence_file_continues_above_every_number_used(tmp_path, caplog):
    path = tmp_path / "seq.json"
    store = SeqStore(path, block=10)
    used = [store.next("p", "s") for _ in range(57)]
    path.write_bytes(path.read_bytes()[:5])  # torn (a writer without fsync + rename, or flash damage)
    with pytest.raises(ConfigError, match="corrupt"):
        SeqStore(path)  # the strict default
    with caplog.at_level(logging.ERROR):
        recovered = SeqStore(path, block=10, recover=True, now_s=NOW)
    assert recovered.recovered.startswith("corrupt") and "continues from" in caplog.text
    first = recovered.next("p", "s")
    assert first == seq_floor(NOW) == int(NOW * SEQ_PER_SECOND) and first > max(used)
    assert recovered.next("p", "other") == seq_floor(NOW)  # a station the lost file knew of, or not
    # the floor itself is durable: a crash now, and a restart without recovery, still never goes back
    again = SeqStore(path)
    assert again.next("p", "s") > first and again.next("p", "third") >= seq_floor(NOW)
