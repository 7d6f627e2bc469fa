"""Versioned state for checkpoints: a slotted object pickles as ``{slot: value, …, VERSION: n}``.

One mechanism for every piece of detector (and helper) state. Restoring a state sets the slots it
names, ignores names the class no longer has (fields removed since), and gives the slots it lacks
their value from ``slot_defaults`` (fields added since). A class whose state changes meaning bumps
``state_version`` and converts older states in :meth:`Slotted._upgrade`, which also sees the
missing slots (for defaults that depend on other fields).

Examples
--------
>>> import copy
>>> class Point(Slotted):
...     __slots__ = ("x", "y")
>>> p = Point(); p.x, p.y = 1.0, 2.0
>>> p.__getstate__()
{'x': 1.0, 'y': 2.0, '__version__': 1}
>>> q = copy.deepcopy(p); (q.x, q.y)
(1.0, 2.0)

A slot added later takes its default when an older state lacks it; a removed one is ignored:

>>> class Point3(Slotted):
...     __slots__ = ("x", "y", "z")
...     slot_defaults = {"z": 0.0}
>>> r = Point3.__new__(Point3); r.__setstate__({"x": 3.0, "y": 4.0, "w": 9.0, VERSION: 1})
>>> (r.x, r.y, r.z)
(3.0, 4.0, 0.0)
"""

from __future__ import annotations

from typing import Any, ClassVar

#: The key of the version number in a state (not a valid slot name, so it never clashes).
VERSION = "__version__"

_SLOT_NAMES: dict[type, tuple[str, ...]] = {}


def slot_names(cls: type) -> tuple[str, ...]:
    """Every slot of ``cls`` and its bases, base classes' first.

    >>> class A(Slotted):
    ...     __slots__ = ("a",)
    >>> class B(A):
    ...     __slots__ = ("b",)
    >>> slot_names(B)
    ('a', 'b')
    """
    names = _SLOT_NAMES.get(cls)
    if names is None:
        declared = (c.__dict__.get("__slots__", ()) for c in reversed(cls.__mro__))
        names = tuple(n for slots in declared for n in ((slots,) if isinstance(slots, str) else slots)
                      if n not in ("__dict__", "__weakref__"))
        _SLOT_NAMES[cls] = names
    return names


class Slotted:
    """Base of slotted state objects: pickles as a dict of slot values plus the state version.

    The state holds the slots of every class in the hierarchy. ``transient_slots`` are not saved
    (a cache of the reading in hand) and restore from ``slot_defaults``.
    """

    __slots__ = ()
    #: Version of the state's layout and meaning; bump it when a slot changes meaning.
    state_version: ClassVar[int] = 1
    #: Value of a slot a state lacks: a slot added after the state was written, or a transient one.
    slot_defaults: ClassVar[dict[str, Any]] = {}
    #: Slots not saved in the state.
    transient_slots: ClassVar[frozenset[str]] = frozenset()

    def __getstate__(self) -> dict[str, Any]:
        skip = self.transient_slots
        state = {k: getattr(self, k) for k in slot_names(type(self)) if k not in skip}
        state[VERSION] = self.state_version
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            raise ValueError(f"{type(self).__name__}: state {type(state).__name__} is not a versioned dict")
        missing = []
        for k in slot_names(type(self)):
            if k in state:
                setattr(self, k, state[k])
            else:
                missing.append(k)
                if k in self.slot_defaults:
                    setattr(self, k, self.slot_defaults[k])
        self._upgrade(state.get(VERSION, 0), frozenset(missing))
        unset = [k for k in missing if not hasattr(self, k)]
        if unset:
            raise ValueError(f"{type(self).__name__}: state lacks {', '.join(unset)} (no default)")

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        """Convert a state written at an older ``version`` or lacking the ``missing`` slots (after
        the defaults are set); nothing to do by default."""
