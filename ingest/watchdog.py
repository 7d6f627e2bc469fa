"""The silence watchdog: connected to MQTT, yet no message for ``ingest.watchdog_s``.

A broker that lost our subscriptions (restored from an old persistence file, say) keeps the
connection up and sends nothing; the watchdog logs it, counts it (``riverwatch_watchdog_trips_total``)
and re-subscribes, at most once per period.
"""

from __future__ import annotations

import logging

from ingest.consumer import Consumer

log = logging.getLogger(__name__)


class Watchdog:
    """Re-subscribes ``consumer`` when it is connected but silent for ``limit_s`` seconds (0: off).

    Examples
    --------
    >>> from riverwatch.settings import MqttSettings
    >>> dog = Watchdog(Consumer(MqttSettings(), lambda item: None), 300.0)
    >>> dog.check(1000.0), dog.trips  # not connected: nothing to watch
    (False, 0)
    """

    def __init__(self, consumer: Consumer, limit_s: float) -> None:
        self.consumer = consumer
        self.limit_s = limit_s
        self.trips = 0
        self._at = 0.0

    def check(self, now: float) -> bool:
        """Look once (``now``: monotonic seconds); True when it tripped."""
        limit, consumer = self.limit_s, self.consumer
        if not limit or not consumer.connected.is_set() or consumer.idle_s() < limit:
            return False
        if now - self._at < limit:
            return False
        self._at = now
        self.trips += 1
        log.warning("watchdog: connected to MQTT but no message for %.0f s; re-subscribing %d filters",
                    consumer.idle_s(), len(consumer.subscriptions()))
        consumer.resubscribe()
        return True
