"""Small helpers shared by tests (not collected: no ``test_`` prefix)."""

from __future__ import annotations

import time
from typing import Callable


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last truth."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def require_binaries(*names: str) -> None:
    """Skip the calling test, with the reason, when a service binary (mosquitto, influxd) is missing."""
    import pytest

    from riverwatch.errors import ServiceError
    from riverwatch.services import find_binary

    try:
        for name in names:
            find_binary(name)
    except ServiceError as exc:
        pytest.skip(f"local services unavailable: {exc}")


def detector_levels(det, points, quantity: str = "water_level") -> list:
    """The level after each ``(t, value)`` point fed to ``det`` (score_one, then learn_one)."""
    out = []
    for t, v in points:
        x = {"t": t, quantity: v}
        s = det.score_one(x)
        det.learn_one(x)
        out.append(det.level(s))
    return out
