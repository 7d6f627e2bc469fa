"""Plugin discovery shared by the detector and sensor-kind registries.

A plugin is a module of a package that registers itself when imported. :func:`import_plugins`
imports every top-level module of the package once: not its subpackages (which hold shared code,
not plugins) and not private modules (``_name``). Importing a module of the package that is not a
plugin does no harm, so a package needs no list of its non-plugin modules; ``exclude`` remains for
a package whose other modules are costly or unsafe to import.

Examples
--------
>>> import email
>>> names = import_plugins(email)
>>> "email.charset" in names, "email.mime" in names, "email._policybase" in names
(True, False, False)
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def import_plugins(package: ModuleType, exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Import every public top-level module of ``package`` not named in ``exclude``; return their names."""
    names = [f"{package.__name__}.{module.name}" for module in pkgutil.iter_modules(package.__path__)
             if not module.ispkg and not module.name.startswith("_") and module.name not in exclude]
    for name in names:
        importlib.import_module(name)
    return names
