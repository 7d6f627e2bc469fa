"""The MQTT side of ingest: a paho-mqtt 2.x client, MQTT 5, persistent session, manual acks.

- ``clean_start=False`` with a ``SessionExpiryInterval``: messages published while the worker is
  away wait in the broker; unacknowledged ones are delivered again on reconnect.
- QoS 1 subscriptions to :data:`riverwatch.contract.DATA_SUBSCRIPTION` (as
  ``$share/<group>/…`` when ``mqtt.shared_group`` is set, so several workers split the load) and
  to the status topics, made in ``on_connect`` so every reconnect re-subscribes.
- ``manual_ack=True``: paho does not acknowledge on its own; :meth:`Consumer.ack` is called once
  the message's readings are durable. Acks go out in arrival order, as MQTT requires.
- ``on_message`` only hands ``(topic, payload, mid, qos, arrival_s)`` to a callback (the
  service's queue); ``loop_start()`` runs the network thread, reconnecting with back-off.

Examples
--------
>>> from riverwatch.settings import MqttSettings
>>> Consumer(MqttSettings(shared_group="workers"), lambda item: None).subscriptions()[0]
('$share/workers/rw/v1/+/+/data', 1)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from riverwatch.contract import DATA_SUBSCRIPTION, STATUS_SUBSCRIPTION
from riverwatch.settings import MqttSettings

log = logging.getLogger(__name__)

#: What ``on_message`` enqueues: topic, payload, message id, QoS, arrival time (epoch seconds).
Item = tuple[str, bytes, int, int, float]


class Consumer:
    """One paho client: connects, subscribes, enqueues messages and sends manual acks.

    Parameters
    ----------
    settings
        The ``mqtt`` settings section.
    deliver
        Called on paho's network thread with each :data:`Item`; must not block.
    """

    def __init__(self, settings: MqttSettings, deliver: Callable[[Item], None]) -> None:
        self.settings = settings
        self.deliver = deliver
        self.connected = threading.Event()
        self.connects = 0
        self.disconnects = 0
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                             protocol=mqtt.MQTTv5, manual_ack=True)
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(settings.username, password)
        if settings.tls:
            client.tls_set(ca_certs=str(settings.ca_file) if settings.ca_file else None)
        client.reconnect_delay_set(min_delay=1, max_delay=15)
        client.max_inflight_messages_set(max(20, settings.receive_maximum))
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self.client = client

    def subscriptions(self) -> list[tuple[str, int]]:
        """The ``(topic filter, qos)`` pairs subscribed on every connect."""
        group = self.settings.shared_group
        data = f"$share/{group}/{DATA_SUBSCRIPTION}" if group else DATA_SUBSCRIPTION
        status = f"$share/{group}/{STATUS_SUBSCRIPTION}" if group else STATUS_SUBSCRIPTION
        return [(data, 1), (status, 1)]

    def start(self) -> None:
        """Connect in the background (paho retries until the broker answers) and start the loop."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        props.ReceiveMaximum = self.settings.receive_maximum
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s,
                                  clean_start=False, properties=props)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected and subscribed (SUBACK received), at most ``timeout`` seconds."""
        return self.connected.wait(timeout)

    def stop(self) -> None:
        """Disconnect cleanly (the session stays on the broker) and stop the network thread."""
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
        self.connected.clear()

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge one message (PUBACK for QoS 1); QoS 0 needs none."""
        if qos:
            self.client.ack(mid, qos)

    # ------------------------------------------------------------------ paho callbacks (thin)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connect to %s:%s refused: %s", self.settings.host, self.settings.port, reason_code)
            return
        options = [(topic, SubscribeOptions(qos=qos)) for topic, qos in self.subscriptions()]
        client.subscribe(options)
        self.connects += 1
        log.info("MQTT connected to %s:%s (session present: %s)", self.settings.host, self.settings.port,
                 flags.session_present)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [str(code) for code in reason_codes if code.is_failure]
        if failed:
            log.error("MQTT subscription refused: %s", ", ".join(failed))
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.disconnects += 1
        log.warning("MQTT disconnected: %s", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        self.deliver((message.topic, message.payload, message.mid, message.qos, time.time()))
