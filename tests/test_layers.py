"""The layers of the house hold: import-linter's contracts (pyproject.toml) pass, and nothing routes around them.

``make test`` runs ``lint-imports`` before pytest; this test runs it too, so a broken contract
shows in pytest's output with the offending import chain.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("riverwatch", "detectors", "devices", "early_warning", "evaluation", "ingest", "dashboards", "application",
            "bench")
#: The only dynamic imports, and why they cannot cross a layer: plugin discovery imports modules of
#: the package it is handed (detectors, devices), and the ``riverwatch`` command is the top floor.
DYNAMIC_IMPORTS = {"riverwatch/plugins.py", "application/cli.py"}


def lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` on the ``pyproject.toml`` of ``cwd``."""
    beside = Path(sys.executable).with_name("lint-imports")
    command = str(beside) if beside.exists() else shutil.which("lint-imports")
    if command is None:
        pytest.fail("lint-imports not found: install the dev extra (pip install -e '.[dev]')")
    return subprocess.run([command, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_import_linter_sees_imports_inside_functions(tmp_path):
    """A lazy (function-level) import and a TYPE_CHECKING import both break a layer contract."""
    for package in ("low", "high"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "high" / "app.py").write_text("X = 1\n")
    (tmp_path / "low" / "core.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from high import app\n"
        "\n"
        "def lazy():\n"
        "    import high.app\n"
        "    return high.app.X\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["low", "high"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "high above low"\ntype = "layers"\nlayers = ["high", "low"]\n')
    run = lint_imports(tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert run.returncode != 0, run.stdout
    assert "low.core -> high.app (l.3, l.6)" in run.stdout


def test_no_dynamic_import_routes_around_a_contract():
    """import-linter cannot see ``importlib.import_module`` or ``__import__``: only the known sites use them."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if re.search(r"\bimport_module\(|__import__\(|\bexec\(", path.read_text()):
                found.add(path.relative_to(ROOT).as_posix())
    assert found == DYNAMIC_IMPORTS
