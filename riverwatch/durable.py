"""Files that survive a power cut: atomic replacement and directory fsync (POSIX).

A file written in place can be found truncated or empty after a power cut. :func:`write_atomic`
writes a temporary file in the same directory, flushes and fsyncs it, renames it over the target
(``os.replace`` is atomic on POSIX) and fsyncs the directory, so after a crash the target holds
either the old or the new content, whole. :func:`remove_durably` is the matching delete.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "state" / "seq.json"
>>> write_atomic(path, b'{"p/s": 101}')
>>> path.read_bytes(), sorted(p.name for p in path.parent.iterdir())
(b'{"p/s": 101}', ['seq.json'])
>>> remove_durably(path), path.exists()
(True, False)
"""

from __future__ import annotations

import os
from pathlib import Path

TMP_SUFFIX = ".tmp"


def fsync_directory(directory: str | os.PathLike) -> None:
    """fsync a directory, so a file created, renamed or removed in it survives a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tmp_path(path: str | os.PathLike) -> Path:
    """The temporary file :func:`write_atomic` uses for ``path`` (same directory, ``.tmp`` added)."""
    path = Path(path)
    return path.with_name(path.name + TMP_SUFFIX)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (parent directories are created).

    Raises
    ------
    OSError
        The write failed; ``path`` still holds its previous content (the temporary file is removed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def remove_durably(path: str | os.PathLike) -> bool:
    """Delete ``path`` (if it exists) and fsync its directory; True when a file was removed."""
    path = Path(path)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_directory(path.parent)
    return True
