"""What a Mosquitto SIGKILL loses, and what saving more often costs: ``python -m bench.broker_durability``.

One run per persistence setting, each on its own broker in a temporary state dir (started by
:func:`application.local_mosquitto.start_mosquitto`, so with the config riverwatch ships):

1. a worker-like client subscribes with QoS 1 on a persistent session (clean start off, session
   expiry) and goes away;
2. a publisher sends ``n`` QoS 1 messages and waits for every PUBACK (the broker *acknowledged* them);
3. the broker is SIGKILLed and started again on the same data;
4. the worker resumes its session and counts what the broker still had for it.

``lost = acknowledged − delivered after the restart``. The publishing time of step 2 gives the
cost: ``throughput ratio = msgs/s with the setting ÷ msgs/s with autosave_interval 30`` (time-based,
what was shipped before), with the same queue growing in the session meanwhile ("away"), and
once more with the worker connected and taking the messages, its queue short ("online").

Examples
--------
>>> autosave_conf(100)
'autosave_on_changes true\\nautosave_interval 100'
>>> autosave_conf(None)
'autosave_on_changes false\\nautosave_interval 30'
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from application.local_mosquitto import mosquitto_dir, restart_mosquitto, start_mosquitto, stop_mosquitto
from application.processes import LOOPBACK, port_is_free, running_pid

__all__ = ["KillResult", "autosave_conf", "kill_and_count", "sigkill_broker"]

TOPIC = "rw/v1/bench/durability/data"
PAYLOAD = b'{"t":"2026-12-01T10:00:00Z","seq":1,"water_level":{"value":1.234,"unit":"m"}}'


def autosave_conf(changes: int | None) -> str:
    """The persistence lines of one setting: save every ``changes`` changes, or every 30 s (None)."""
    if changes is None:
        return "autosave_on_changes false\nautosave_interval 30"
    return f"autosave_on_changes true\nautosave_interval {changes}"


@dataclass(frozen=True)
class KillResult:
    """One run: messages the broker acknowledged, delivered after the SIGKILL, and the publishing rate."""

    acknowledged: int
    delivered: int
    publish_s: float

    @property
    def lost(self) -> int:
        """Acknowledged messages the restarted broker no longer had."""
        return self.acknowledged - self.delivered

    @property
    def rate(self) -> float:
        """Acknowledged messages per second while publishing."""
        return self.acknowledged / max(self.publish_s, 1e-9)


def _client(port: int, client_id: str, clean: bool) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(100)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect(LOOPBACK, port, clean_start=clean, properties=props)
    return client


def _session(port: int, client_id: str, on_message=None) -> mqtt.Client:
    """The worker's persistent session, subscribed with QoS 1, connected and running."""
    client = _client(port, client_id, clean=False)
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    if on_message is not None:
        client.on_message = on_message
    client.loop_start()
    client.subscribe(TOPIC, qos=1)
    if not subscribed.wait(10):
        raise RuntimeError("no SUBACK from the broker")
    return client


def _publish_acknowledged(port: int, n: int) -> tuple[int, float]:
    """Publish ``n`` QoS 1 messages; ``(acknowledged, seconds until the last PUBACK)``."""
    client = _client(port, f"pub-{uuid.uuid4().hex[:8]}", clean=True)
    client.loop_start()
    started = time.perf_counter()
    infos = [client.publish(TOPIC, PAYLOAD, qos=1) for _ in range(n)]
    for info in infos:
        info.wait_for_publish(60)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return sum(1 for info in infos if info.is_published()), elapsed


def sigkill_broker(state_dir: Path) -> None:
    """SIGKILL the broker of ``state_dir`` and wait until it is gone (nothing saved on the way out)."""
    pid = running_pid(mosquitto_dir(state_dir), "mosquitto.pid")
    if pid is None:
        raise RuntimeError(f"no broker running in {state_dir}")
    os.kill(pid, signal.SIGKILL)
    port = int((mosquitto_dir(state_dir) / "port").read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (running_pid(mosquitto_dir(state_dir), "mosquitto.pid")
                                           or not port_is_free(port)):  # closing sockets hold it a moment
        time.sleep(0.02)


def _drain(port: int, client_id: str, idle_s: float = 1.5) -> int:
    """Resume the session and count what it delivers until ``idle_s`` pass without a message."""
    received: list[float] = []
    client = _session(port, client_id, lambda c, u, m: received.append(time.monotonic()))
    last = (-1, time.monotonic())
    while time.monotonic() - last[1] < idle_s:
        time.sleep(0.1)
        if len(received) != last[0]:
            last = (len(received), time.monotonic())
    client.disconnect()
    client.loop_stop()
    return len(received)


def kill_and_count(state_dir: Path, n: int) -> KillResult:
    """Steps 1–4 against the (running) broker of ``state_dir``; the broker runs again afterwards."""
    port = int((mosquitto_dir(state_dir) / "port").read_text())
    worker = f"worker-{uuid.uuid4().hex[:8]}"
    away = _session(port, worker)
    away.disconnect()
    away.loop_stop()
    acknowledged, seconds = _publish_acknowledged(port, n)
    sigkill_broker(state_dir)
    restart_mosquitto(state_dir)
    return KillResult(acknowledged, _drain(port, worker), seconds)


def online_rate(state_dir: Path, n: int) -> float:
    """Acknowledged messages per second while the worker is connected and takes them (short queue)."""
    port = int((mosquitto_dir(state_dir) / "port").read_text())
    worker = _session(port, f"worker-{uuid.uuid4().hex[:8]}", lambda c, u, m: None)
    try:
        acknowledged, seconds = _publish_acknowledged(port, n)
    finally:
        worker.disconnect()
        worker.loop_stop()
    return acknowledged / max(seconds, 1e-9)


def run(settings: list[int | None], n: int, repeats: int) -> None:
    """Print loss and throughput ratios (worker away / worker online) per setting (``None`` = 30 s)."""
    baseline: tuple[float, float] | None = None
    for changes in settings:
        results, online = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                start_mosquitto(tmp, extra_conf=autosave_conf(changes))
                try:
                    online.append(online_rate(Path(tmp), n))
                    results.append(kill_and_count(Path(tmp), n))
                finally:
                    stop_mosquitto(tmp)
        rate, live = sum(r.rate for r in results) / len(results), sum(online) / len(online)
        baseline = baseline or (rate, live)
        print(f"{autosave_conf(changes).replace(chr(10), '; '):52s} lost {[r.lost for r in results]} of {n}"
              f"  away {rate:6.0f} msg/s ratio {rate / baseline[0]:.2f}"
              f"  online {live:6.0f} msg/s ratio {live / baseline[1]:.2f}")


def main() -> None:
    """Command line: the settings to compare (0 = time-based 30 s, first as the baseline)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("changes", nargs="*", type=int, default=[0, 1000, 100, 10, 1])
    parser.add_argument("-n", type=int, default=3000, help="messages per run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    run([c or None for c in args.changes], args.n, args.repeats)


if __name__ == "__main__":
    main()
