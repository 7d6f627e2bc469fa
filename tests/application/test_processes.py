"""Ports and binaries of the detached service processes."""

from __future__ import annotations

import socket

import pytest

from riverwatch.errors import ServiceError
from application.processes import find_binary, free_port, port_accepts


def test_missing_binary_says_make_bootstrap():
    with pytest.raises(ServiceError, match="make bootstrap"):
        find_binary("riverwatch-no-such-daemon")


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_port_accepts_only_while_something_listens():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_accepts(port)
    assert not port_accepts(port)
