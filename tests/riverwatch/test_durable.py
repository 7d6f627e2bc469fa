"""riverwatch.durable: a failed atomic write leaves the old content and no temporary file."""

from __future__ import annotations

import pytest

from riverwatch.durable import remove_durably, write_atomic
from riverwatch.durable import tmp_path as temporary_path


def test_write_atomic_replaces_whole_files(tmp_path):
    path = tmp_path / "a" / "b.json"
    write_atomic(path, b"old")
    write_atomic(path, b"new content")
    assert path.read_bytes() == b"new content" and not temporary_path(path).exists()


def test_a_failed_write_keeps_the_old_content_and_cleans_up(tmp_path):
    path = tmp_path / "state"
    path.mkdir()
    (path / "inside").write_text("x")  # a directory cannot be replaced by a file
    with pytest.raises(OSError):
        write_atomic(path, b"new")
    assert path.is_dir() and not temporary_path(path).exists()


def test_remove_durably_is_idempotent(tmp_path):
    path = tmp_path / "x"
    write_atomic(path, b"1")
    assert remove_durably(path) is True and remove_durably(path) is False
