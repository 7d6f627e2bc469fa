#!/bin/sh
# Run by the broker-auth service of docker-compose.yml (riverwatch image) before Mosquitto starts:
# writes credentials.toml, mosquitto.passwd and mosquitto.acl into /broker (= deploy/mosquitto/auth)
# from the station catalog, with `riverwatch config render`.
#
# The pipeline's accounts ("riverwatch" for the worker, "riverwatch.simulator" and
# "riverwatch.healthcheck" for the simulator and the broker's healthcheck: the broker binds client ids
# to accounts, so each connection needs its own) get their password from .env
# (RIVERWATCH_MQTT__PASSWORD, the pipeline's mqtt.password), so the broker and the pipeline always
# agree; every other account (partners, devices) keeps the password already in credentials.toml, or
# gets a new random one.
set -eu

OUT=${1:-/broker}
: "${RIVERWATCH_MQTT__PASSWORD:?RIVERWATCH_MQTT__PASSWORD is not set (RIVERWATCH_MQTT_PASSWORD in .env)}"

riverwatch config render --out "$OUT" --service-account simulator --service-account healthcheck
