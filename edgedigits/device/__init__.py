"""Running on a Raspberry Pi: the systemd service and the doctor."""
