"""Fixtures of the ingest tests."""

import pytest


@pytest.fixture(params=[True, False], ids=["fast", "plain"])
def fast_path(request) -> bool:
    """``mqtt.fast_path``: the fast client (reads held at the bound), or plain paho (never held)."""
    return request.param
