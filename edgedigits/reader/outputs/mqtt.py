"""``camera --mqtt``: each changed reading as JSON over MQTT, for Home Assistant and Node-RED (extra ``[mqtt]``).

    edgedigits/<name>/state     {"reading": "2024", "numbers": ["2024"], "digits": [...], "confidence": 0.98,
                                 "time": "2026-11-25T20:00:00Z", "timestamp": 1795636800.0}
    edgedigits/<name>/status    "online" / "offline" (retained; "offline" is also the last will)
    homeassistant/sensor/edgedigits_<name>/reading/config   Home Assistant MQTT discovery (retained)

paho-mqtt's network thread connects, reconnects with backoff and sends; the camera loop only queues a message
(at most ``MAX_QUEUED`` wait while the broker is away), so it never blocks.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from edgedigits import __version__
from edgedigits.errors import EdgeDigitsError

DEFAULT_PORT, TLS_PORT = 1883, 8883
MAX_QUEUED = 100
RECONNECT = (1, 60)  # seconds: the first and the longest wait between reconnection attempts
KEEPALIVE = 30
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
DISCOVERY_PREFIX = "homeassistant"


@dataclass
class MqttOptions:
    host: str
    port: int = DEFAULT_PORT
    name: str = "camera"
    username: str | None = None
    password: str | None = None
    tls: bool = False
    cafile: str | None = None


def parse_address(value: str, tls: bool = False) -> tuple[str, int]:
    """HOST[:PORT] -> (host, port); the port defaults to 1883, or 8883 with TLS."""
    host, sep, port = value.rpartition(":")
    host, port = (host, port) if sep else (value, "")
    if not host or (port and (not port.isdigit() or not 0 < int(port) <= 65535)):
        raise EdgeDigitsError(f"--mqtt needs HOST or HOST:PORT (a port from 1 to 65535), got {value!r}")
    return host, int(port) if port else (TLS_PORT if tls else DEFAULT_PORT)


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise EdgeDigitsError(f"--mqtt-name {name!r}: use 1-64 letters, digits, _ or - (it goes into topics)")
    return name


def topics(name: str) -> dict[str, str]:
    return {"state": f"edgedigits/{name}/state", "status": f"edgedigits/{name}/status",
            "discovery": f"{DISCOVERY_PREFIX}/sensor/edgedigits_{name}/reading/config"}


def discovery_config(name: str, model: str | None) -> dict:
    """A Home Assistant MQTT sensor whose state is the reading and whose attributes are the rest of the JSON."""
    t = topics(name)
    return {
        "name": "Reading", "unique_id": f"edgedigits_{name}_reading", "object_id": f"edgedigits_{name}",
        "state_topic": t["state"], "value_template": "{{ value_json.reading }}", "json_attributes_topic": t["state"],
        "availability_topic": t["status"], "payload_available": "online", "payload_not_available": "offline",
        "icon": "mdi:numeric",
        "device": {"identifiers": [f"edgedigits_{name}"], "name": f"edgedigits {name}", "manufacturer": "edgedigits",
                   "model": model or "edgedigits camera", "sw_version": __version__},
    }


def state_payload(line: dict) -> dict:
    """What a reading publishes, from a camera --json line."""
    digits = line.get("digits", [])
    numbers = [n["text"] for n in line.get("numbers", [])]
    stamp = line.get("timestamp") or time.time()
    return {"reading": " ".join(numbers), "numbers": numbers, "digits": digits,
            "confidence": round(min((d.get("confidence") or 0.0 for d in digits), default=0.0), 4),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)), "timestamp": stamp}


class MqttPublisher:
    """Publishes changed readings; see the module docstring for the topics."""

    def __init__(self, options: MqttOptions, model: str | None = None, log=None):
        try:
            import paho.mqtt.client as paho
        except ImportError:
            raise EdgeDigitsError("--mqtt needs paho-mqtt: pip install 'edgedigits[mqtt]'") from None
        self.topics, self.last, self.log = topics(check_name(options.name)), None, log
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"edgedigits-{options.name}")
        if options.username:
            self.client.username_pw_set(options.username, options.password)
        if options.tls or options.cafile:
            try:
                self.client.tls_set(ca_certs=options.cafile)
            except (OSError, ValueError) as exc:
                raise EdgeDigitsError(f"--mqtt-tls: {exc}") from None
        self.client.will_set(self.topics["status"], "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(*RECONNECT)
        self.client.max_queued_messages_set(MAX_QUEUED)
        config = json.dumps(discovery_config(options.name, model))

        def on_connect(client, userdata, flags, reason, properties):
            if reason.is_failure:
                if self.log:
                    self.log.print(f"[yellow]MQTT broker refused the connection: {reason}[/]")
                return
            client.publish(self.topics["discovery"], config, qos=1, retain=True)
            client.publish(self.topics["status"], "online", qos=1, retain=True)
            if self.last is not None:  # the reading held while the broker was away
                client.publish(self.topics["state"], json.dumps(self.last), qos=1, retain=True)

        self.client.on_connect = on_connect
        try:
            self.client.connect_async(options.host, options.port, keepalive=KEEPALIVE)
        except (OSError, ValueError) as exc:
            raise EdgeDigitsError(f"--mqtt {options.host}:{options.port}: {exc}") from None
        self.client.loop_start()

    def publish(self, line: dict) -> None:
        """Queue the reading of a camera --json line when it differs from the last one published."""
        numbers = [n["text"] for n in line.get("numbers", [])]
        if self.last is not None and numbers == self.last["numbers"]:
            return
        payload = self.last = state_payload(line)
        self.client.publish(self.topics["state"], json.dumps(payload), qos=1, retain=True)

    def close(self) -> None:
        """Say "offline", give the queue a moment to drain, disconnect."""
        info = self.client.publish(self.topics["status"], "offline", qos=1, retain=True)
        if self.client.is_connected():
            try:
                info.wait_for_publish(timeout=5)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()
