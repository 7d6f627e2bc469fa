"""pyproject.toml declares what the code imports: every third-party module a runtime package imports
when loaded is a runtime dependency (a plain ``pip install`` runs every command); heavy optional
ones (matplotlib, plots only) sit in an extra and are imported only where they are used."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions

from riverwatch.settings import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME_PACKAGES = ("riverwatch", "detectors", "devices", "early_warning", "ingest", "evaluation", "dashboards",
                    "application")
#: Extras and the modules that may import them at load time (the rest import them inside functions).
OPTIONAL = {"matplotlib": {"evaluation/plots.py"}}
#: Modules of the runtime packages that only the tests import (with the dev extra installed).
TEST_ONLY = {"dashboards/schema.py"}
#: Modules that come with a declared dependency (pydantic pins its own core).
BUNDLED = {"pydantic_core": "pydantic"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-") for req in requirements}


def _imports(path, inside_functions: bool = False) -> set[str]:
    """Top-level names of the modules ``path`` imports when it is loaded, or anywhere (also inside
    functions) with ``inside_functions``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree) if inside_functions else tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_module_level_third_party_import_is_a_runtime_dependency():
    declared = _names(PYPROJECT["project"]["dependencies"])
    distributions = packages_distributions()
    missing = []
    for package in RUNTIME_PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            where = str(path.relative_to(REPO_ROOT))
            if where in TEST_ONLY:
                continue
            for module in _imports(path):
                if module in sys.stdlib_module_names or module in RUNTIME_PACKAGES or module == "__future__":
                    continue
                if where in OPTIONAL.get(module, ()):
                    continue
                dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
                dists.add(BUNDLED.get(module, module))
                if not dists & declared:
                    missing.append(f"{where}: {module} ({', '.join(sorted(dists))})")
    assert missing == [], "imported at runtime but not in [project.dependencies]: " + "; ".join(missing)


def test_test_only_modules_are_imported_by_no_runtime_module():
    for package in RUNTIME_PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for module in TEST_ONLY:
                dotted = module.removesuffix(".py").replace("/", ".")
                assert dotted not in text or str(path.relative_to(REPO_ROOT)) == module, (path, dotted)


def test_pyyaml_is_a_runtime_dependency_and_matplotlib_an_extra():
    runtime = _names(PYPROJECT["project"]["dependencies"])
    extras = {name: _names(reqs) for name, reqs in PYPROJECT["project"]["optional-dependencies"].items()}
    assert "pyyaml" in runtime  # dashboards/provisioning.py: `riverwatch dashboards build`
    assert "matplotlib" not in runtime and "matplotlib" in extras["plots"]
    assert "matplotlib" in extras["dev"]  # the tests draw plots


def test_the_worker_and_every_command_load_without_matplotlib():
    code = ("import sys; sys.modules['matplotlib'] = None\n"  # any import of it now fails
            "from application.cli import build_parser\n"
            "import ingest.service, dashboards.provisioning, evaluation.cli, evaluation.tune, evaluation.cv\n"
            "build_parser().parse_args(['run'])\n"
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_plots_without_matplotlib_name_the_extra():
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from riverwatch.errors import ConfigError\n"
            "try:\n    import evaluation.plots\nexcept ConfigError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert "riverwatch[plots]" in done.stdout, done.stderr[-2000:]


def test_every_runtime_dependency_is_imported_by_runtime_code():
    """A plain ``pip install`` (and the worker image) installs nothing the code never imports."""
    imported = set().union(*(_imports(path, inside_functions=True) for package in RUNTIME_PACKAGES
                             for path in (REPO_ROOT / package).rglob("*.py")))
    distributions = packages_distributions()
    used = {dist.lower().replace("_", "-") for module in imported for dist in distributions.get(module, [module])}
    used |= {BUNDLED.get(module, module) for module in imported}
    unused = sorted(_names(PYPROJECT["project"]["dependencies"]) - used)
    assert unused == [], f"declared in [project.dependencies] but imported by no runtime module: {unused}"
