"""Shared by the docker-compose.yml tests (test_compose.py, test_compose_settings.py): the file, raw
and interpolated with .env.example (Compose variable interpolation), and its services' mounts and
container ports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
DASHBOARDS_BUILD = "riverwatch dashboards build --config deploy/riverwatch.toml --out provisioning"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(value: object, env: dict[str, str]) -> object:
    """Compose variable interpolation (${VAR}, ${VAR:-default}, ${VAR:?error}, $$) of a document."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if op in (":-", "-"):
            return current if current or (op == "-" and current is not None) else arg
        if op in (":?", "?") and not current:
            raise AssertionError(f"${{{name}}} is required: {arg}")
        return current or ""

    return _VAR.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def referenced_variables(value: object) -> dict[str, str | None]:
    """Variables a compose document interpolates, with their operator (None, ':-', ':?', ...)."""
    if isinstance(value, dict):
        return {k: v for item in value.values() for k, v in referenced_variables(item).items()}
    if isinstance(value, list):
        return {k: v for item in value for k, v in referenced_variables(item).items()}
    if isinstance(value, str):
        return {m.group(1): m.group(2) for m in _VAR.finditer(value.replace("$$", ""))}
    return {}


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose(raw) -> dict:
    return interpolate(raw, env_example())


def mounts(service: dict) -> list[tuple[str, str, str]]:
    """``(source, target, mode)`` of a service's short-syntax volumes."""
    out = []
    for item in service.get("volumes", []):
        source, target, *mode = item.split(":")
        out.append((source, target, mode[0] if mode else "rw"))
    return out


def container_port(service: dict) -> list[int]:
    return [int(str(p).rsplit(":", 1)[-1].split("/")[0]) for p in service.get("ports", [])]
