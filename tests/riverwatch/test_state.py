"""Versioned slotted state: what a checkpoint of an older or newer layout restores to."""

from __future__ import annotations

import pickle

import pytest

from riverwatch.state import VERSION, Slotted, slot_names


class Gauge(Slotted):
    __slots__ = ("level", "unit", "_last_reading")
    transient_slots = frozenset({"_last_reading"})
    slot_defaults = {"unit": "m", "_last_reading": None}

    def __init__(self, level: float) -> None:
        self.level, self.unit, self._last_reading = level, "cm", {"t": 0.0}


class Upgraded(Gauge):
    __slots__ = ("calls",)
    state_version = 2
    slot_defaults = {**Gauge.slot_defaults, "calls": ()}

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        self.calls = (version, missing)
        if version < 2:
            self.level *= 100.0          # metres then, centimetres now


def test_transient_slots_are_not_saved_and_restore_from_their_default():
    state = Gauge(2.5).__getstate__()
    assert state == {"level": 2.5, "unit": "cm", VERSION: 1}
    restored = pickle.loads(pickle.dumps(Gauge(2.5)))
    assert (restored.level, restored.unit, restored._last_reading) == (2.5, "cm", None)


def test_a_subclass_saves_the_slots_of_its_bases_too():
    assert slot_names(Upgraded) == ("level", "unit", "_last_reading", "calls")
    gauge = Upgraded(1.0)
    gauge.calls = ()
    assert set(gauge.__getstate__()) == {"level", "unit", "calls", VERSION}


def test_an_older_version_is_upgraded_after_the_defaults_are_set():
    restored = Upgraded.__new__(Upgraded)
    restored.__setstate__({"level": 2.5, VERSION: 1})
    assert restored.level == 250.0 and restored.unit == "m"
    assert restored.calls == (1, frozenset({"unit", "_last_reading", "calls"}))


def test_a_state_without_a_version_counts_as_version_0():
    restored = Upgraded.__new__(Upgraded)
    restored.__setstate__({"level": 1.0, "unit": "cm"})
    assert restored.calls[0] == 0


def test_a_missing_slot_without_a_default_fails_when_restored_not_later():
    with pytest.raises(ValueError, match="lacks level"):
        Gauge.__new__(Gauge).__setstate__({"unit": "cm", VERSION: 1})


def test_a_positional_state_from_before_versioning_is_refused():
    with pytest.raises(ValueError, match="not a versioned dict"):
        Gauge.__new__(Gauge).__setstate__((2.5, "cm"))
