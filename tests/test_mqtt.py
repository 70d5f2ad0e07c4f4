"""camera --mqtt against a real broker (Debian's mosquitto on a free local port) and a real subscriber
(paho-mqtt): changed readings on the state topic, retained Home Assistant discovery, availability, the last will."""

import json
import queue
import shutil
import signal
import subprocess
import sys
import time

import pytest

from edgedigits.reader.outputs import mqtt
from tests.helpers import ROOT, free_port, mjpeg_source, wait_for_port

paho = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed (pip install '.[mqtt]')")
MOSQUITTO = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if shutil.os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="no mosquitto broker (apt install mosquitto)")


@pytest.fixture
def broker(tmp_path):
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


class Subscriber:
    """A real MQTT client that collects (topic, payload, retained) from edgedigits/# and homeassistant/#."""

    def __init__(self, port):
        self.messages, self.seen = queue.Queue(), []
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload.decode(), m.retain))
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([("edgedigits/#", 1), ("homeassistant/#", 1)])
        self.client.loop_start()

    def wait_for(self, topic, check=lambda payload: True, seconds=60):
        """The first message received on ``topic`` that passes ``check``, in arrival order, whenever it came."""
        deadline = time.time() + seconds
        while True:
            for got_topic, payload, retained in self.seen:
                if got_topic == topic and check(payload):
                    return payload, retained
            if time.time() > deadline:
                raise AssertionError(f"no message on {topic} in {seconds} s: {self.seen}")
            try:
                self.seen.append(self.messages.get(timeout=1))
            except queue.Empty:
                pass

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def test_readings_discovery_and_status(broker, number_frame):
    sub = Subscriber(broker)
    try:
        proc = subprocess.run([sys.executable, "-m", "edgedigits", "camera", "--source", str(number_frame[0]),
                               "--mqtt", f"127.0.0.1:{broker}", "--mqtt-name", "meter"],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-1500:]
        topics = mqtt.topics("meter")
        state, _ = sub.wait_for(topics["state"])
        payload = json.loads(state)
        assert payload["reading"] == number_frame[1] and len(payload["digits"]) == len(number_frame[1])
        assert 0 < payload["confidence"] <= 1 and payload["time"].endswith("Z")
        sub.wait_for(topics["status"], lambda p: p == "online")
        sub.wait_for(topics["status"], lambda p: p == "offline")  # a clean exit says so
    finally:
        sub.close()

    late = Subscriber(broker)  # what a Home Assistant starting later finds: retained
    try:
        config, retained = late.wait_for(mqtt.topics("meter")["discovery"])
        config = json.loads(config)
        assert retained and config["state_topic"] == "edgedigits/meter/state"
        assert config["availability_topic"] == "edgedigits/meter/status" and config["unique_id"]
        assert late.wait_for("edgedigits/meter/state")[1]  # the last reading is retained too
    finally:
        late.close()


def test_the_last_will_says_offline_after_a_kill(broker, number_frame):
    sub = Subscriber(broker)
    try:
        with mjpeg_source(number_frame[0]) as (url, _):
            proc = subprocess.Popen([sys.executable, "-m", "edgedigits", "camera", "--source", url,
                                     "--mqtt", f"127.0.0.1:{broker}", "--mqtt-name", "killed"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
            try:
                sub.wait_for("edgedigits/killed/state")
                sub.wait_for("edgedigits/killed/status", lambda p: p == "online")
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            payload, _ = sub.wait_for("edgedigits/killed/status", lambda p: p == "offline", seconds=90)
            assert payload == "offline"
    finally:
        sub.close()


def test_options_are_checked(tmp_path):
    from tests.helpers import run_cli

    assert run_cli("camera", "--mqtt", "host:99999").returncode == 2
    assert run_cli("camera", "--mqtt", "localhost", "--mqtt-name", "a/b").returncode == 2
    assert mqtt.parse_address("broker.local") == ("broker.local", 1883)
    assert mqtt.parse_address("broker.local", tls=True) == ("broker.local", 8883)
