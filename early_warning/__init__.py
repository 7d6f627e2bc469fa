"""The warnings package: the warning book and lifecycle, the station stepper, message catalogs, CAP and rendering for people. Pure: no MQTT, HTTP or InfluxDB."""
