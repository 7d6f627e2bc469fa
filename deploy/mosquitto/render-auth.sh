#!/bin/sh
# Run by the broker-auth service of docker-compose.yml (riverwatch image) before Mosquitto starts:
# writes credentials.toml, mosquitto.passwd and mosquitto.acl into /broker (= deploy/mosquitto/auth)
# from the station catalog, with `riverwatch config render`.
#
# The pipeline's own account ("riverwatch") gets the password from .env (RIVERWATCH_MQTT__PASSWORD),
# so the broker and the pipeline always agree; every other account (partners, devices) keeps the
# password already in credentials.toml, or gets a new random one.
set -eu

OUT=${1:-/broker}
: "${RIVERWATCH_MQTT__PASSWORD:?RIVERWATCH_MQTT__PASSWORD is not set (RIVERWATCH_MQTT_PASSWORD in .env)}"

python - "$OUT/credentials.toml" <<'PY'
import json, os, sys, tomllib
from pathlib import Path

path = Path(sys.argv[1])
accounts = tomllib.loads(path.read_text(encoding="utf-8")).get("accounts", {}) if path.is_file() else {}
accounts["riverwatch"] = os.environ["RIVERWATCH_MQTT__PASSWORD"]
path.parent.mkdir(parents=True, exist_ok=True)
body = "# riverwatch broker credentials: secret, mode 0600\n[accounts]\n" + "".join(
    f"{json.dumps(name)} = {json.dumps(password)}\n" for name, password in accounts.items())
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w", encoding="utf-8") as handle:
    handle.write(body)
PY

riverwatch config render --out "$OUT"
