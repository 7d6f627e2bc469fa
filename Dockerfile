# riverwatch pipeline image (docker-compose.yml services riverwatch, broker-auth and simulator).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
# Every package of pyproject's [tool.setuptools.packages.find], lowest floor first (README "Layout").
COPY riverwatch ./riverwatch
COPY detectors ./detectors
COPY devices ./devices
COPY early_warning ./early_warning
COPY ingest ./ingest
COPY evaluation ./evaluation
COPY dashboards ./dashboards
COPY application ./application
COPY catalog ./catalog

# Install, then prove from outside the source tree that the package data came along
# (message catalogs, the CAP schema) and that the CLI starts.
RUN pip install . \
 && cd / \
 && python -c "from early_warning.messages import load_catalogs; from early_warning.cap import XSD_PATH; \
assert {'en', 'de', 'fr'} <= set(load_catalogs()) and XSD_PATH.is_file()" \
 && riverwatch --help > /dev/null

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/riverwatch --create-home riverwatch
USER riverwatch
WORKDIR /var/lib/riverwatch

ENV RIVERWATCH_STATE_DIR=/var/lib/riverwatch \
    RIVERWATCH_CATALOG=/app/catalog/demo.toml

# The alert feed (ingest/feed.py) answers /healthz on this port.
EXPOSE 8090
CMD ["riverwatch", "run"]
