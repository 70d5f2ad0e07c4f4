"""Where readings go: annotated frames, the live page, MQTT."""
