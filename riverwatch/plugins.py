"""Plugin discovery shared by the detector and sensor-kind registries.

A plugin is a module of a package that registers itself when imported; :func:`import_plugins`
imports every such module once, skipping private modules and the package's infrastructure.

Examples
--------
>>> import detectors
>>> "detectors.level_threshold" in import_plugins(detectors, exclude={"base"})
True
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def import_plugins(package: ModuleType, exclude: set[str] | frozenset[str]) -> list[str]:
    """Import every public module of ``package`` not named in ``exclude``; return their names."""
    names = [f"{package.__name__}.{module.name}" for module in pkgutil.iter_modules(package.__path__)
             if not module.name.startswith("_") and module.name not in exclude]
    for name in names:
        importlib.import_module(name)
    return names
