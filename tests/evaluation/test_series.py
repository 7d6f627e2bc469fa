"""The shared vocabulary of the data set loaders."""

from __future__ import annotations

from evaluation.series import runs


def test_runs():
    assert runs([1, 1, 0, 0, 1, 1]) == [(0, 1), (4, 5)]
    assert runs([]) == []
