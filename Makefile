# riverwatch — two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make demo   runs the main job (a two-city shared river comes to life)
#   make test   checks the import layers (lint-imports), then runs the whole test suite against real
#               Mosquitto and InfluxDB
# Both bootstrap what they need (apt packages, .venv) and are idempotent.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SUDO   := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
APT_PACKAGES := mosquitto mosquitto-clients influxdb
PYTEST_ARGS ?=

.PHONY: bootstrap system-packages demo test bench services-up services-down dashboards clean

bootstrap: system-packages $(STAMP)

system-packages:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v mosquitto_pub >/dev/null 2>&1 || missing="$$missing mosquitto-clients"; \
	command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || missing="$$missing influxdb"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium fonts-dejavu-core"; \
	if ! $(PYTHON) -c "import venv, ensurepip" >/dev/null 2>&1; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: bootstrap
	$(PY) -m application.cli demo $(DEMO_ARGS)

test: bootstrap
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest $(PYTEST_ARGS)

bench: bootstrap
	$(PY) -m bench.run $(BENCH_ARGS)

services-up: bootstrap
	$(PY) -m application.cli services up

services-down: bootstrap
	$(PY) -m application.cli services down

dashboards: bootstrap
	$(PY) -m application.cli dashboards build --out provisioning

clean:
	-$(PY) -m application.cli services down 2>/dev/null
	rm -rf .riverwatch build *.egg-info .pytest_cache
