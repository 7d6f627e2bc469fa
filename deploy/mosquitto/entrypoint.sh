#!/bin/sh
# Entrypoint of the mosquitto service: install the generated password file and ACL, then run the broker.
#
# The files are generated from the station catalog by `riverwatch config render --out
# deploy/mosquitto/auth` (the broker-auth service of docker-compose.yml runs it before the broker
# starts). Mosquitto 2 wants them owned by its user and unreadable by others, which a bind mount
# from the host cannot promise, so they are copied into the data volume first.
set -eu

SRC=/mosquitto/auth
DST=/mosquitto/data/auth

for name in mosquitto.passwd mosquitto.acl; do
    if [ ! -s "$SRC/$name" ]; then
        echo "mosquitto: $SRC/$name is missing or empty." >&2
        echo "mosquitto: run 'riverwatch config render --out deploy/mosquitto/auth' (see deploy/README.md)" >&2
        exit 1
    fi
done

mkdir -p "$DST"
cp "$SRC/mosquitto.passwd" "$SRC/mosquitto.acl" "$DST/"
chown -R mosquitto:mosquitto /mosquitto/data
chmod 0700 "$DST"
chmod 0600 "$DST/mosquitto.passwd" "$DST/mosquitto.acl"

exec /usr/sbin/mosquitto -c /mosquitto/config/mosquitto.conf
