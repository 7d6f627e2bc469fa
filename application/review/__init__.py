"""The after-action review (``riverwatch review``): an incident read back from InfluxDB as a timeline,
the indicators partners agreed on, and a report in each partner's languages and time zone.

``query`` (InfluxDB → timeline rows) → ``indicators`` (pure functions) → ``render`` (HTML, JSON,
CSV; ``plots``, ``i18n``) ← ``cli``. The package reads storage only: it imports the kernel and the
warnings' message catalogs, never ``ingest/`` (which must not import it either).
"""
