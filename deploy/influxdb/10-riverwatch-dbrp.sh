#!/bin/bash
# InfluxDB 2 init script (runs once, after DOCKER_INFLUXDB_INIT_MODE=setup created the org, the bucket
# and the admin token; the influx CLI is already authenticated then).
#
# riverwatch writes and Grafana reads through the v1-compatible API (/write, /query with InfluxQL),
# which addresses a "database" and "retention policy": map the bucket to the database riverwatch
# uses (V1_DATABASE = INFLUXDB_DATABASE in .env, default "riverwatch") with retention policy autogen.
set -euo pipefail

db="${V1_DATABASE:-riverwatch}"
org="${DOCKER_INFLUXDB_INIT_ORG:?}"
bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:?}"

if influx v1 dbrp list --org "$org" --db "$db" 2>/dev/null | grep -q "$bucket_id"; then
    echo "riverwatch: DBRP mapping $db -> bucket $bucket_id exists"
    exit 0
fi
influx v1 dbrp create --org "$org" --bucket-id "$bucket_id" --db "$db" --rp autogen --default
echo "riverwatch: mapped database $db (rp autogen) to bucket ${DOCKER_INFLUXDB_INIT_BUCKET:-?}"
