"""The small tree of riverwatch errors.

Every error the project raises on purpose derives from :class:`RiverwatchError`, so callers can
catch ours without catching programming mistakes.

Examples
--------
>>> issubclass(DecodeError, RiverwatchError)
True
>>> DecodeError("bad_json", "Expecting value").reason
'bad_json'
"""

from __future__ import annotations


class RiverwatchError(Exception):
    """Base class of every error raised by riverwatch on purpose."""


class ConfigError(RiverwatchError):
    """The configuration or the station catalog is invalid; the message names the option."""


class DecodeError(RiverwatchError):
    """A message could not be accepted; ``reason`` is the reject code published on MQTT.

    Parameters
    ----------
    reason
        A short machine-readable code from :data:`riverwatch.contract.REJECT_REASONS`.
    detail
        A human-readable explanation for the device maker.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class SinkError(RiverwatchError):
    """A sink (InfluxDB, MQTT publisher, spool) could not take a batch."""


class ServiceError(RiverwatchError):
    """A local service (Mosquitto, InfluxDB) could not be started, found or stopped."""
