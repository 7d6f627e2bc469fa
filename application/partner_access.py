"""Per-partner InfluxDB databases and read-only users (InfluxDB 1.x with ``auth-enabled``).

Each partner gets its own database, ``<database>_<partner>``, where its shared view is to be
written, and a user ``reader.<partner>`` that may read that database and nothing else
(``GRANT READ``): the partner's Grafana datasource uses it. On InfluxDB 2.x/3.x the same is a
bucket with a DBRP mapping and a read token per partner.

Examples
--------
>>> partner_database("riverwatch", "lacville"), reader_account("lacville")
('riverwatch_lacville', 'reader.lacville')
>>> grant_statements("riverwatch", "lacville", "s3cret")
['CREATE DATABASE "riverwatch_lacville"', 'CREATE USER "reader.lacville" WITH PASSWORD \\'s3cret\\'', 'GRANT READ ON "riverwatch_lacville" TO "reader.lacville"']
"""

from __future__ import annotations

from riverwatch.catalog import Catalog
from riverwatch.errors import ConfigError
from riverwatch.influx import InfluxClient, InfluxError, quote_ident, quote_literal


def partner_database(database: str, partner: str) -> str:
    """The database of ``partner``'s shared view."""
    return f"{database}_{partner}"


def reader_account(partner: str) -> str:
    """The InfluxDB user ``partner``'s Grafana reads with."""
    return f"reader.{partner}"


def grant_statements(database: str, partner: str, password: str) -> list[str]:
    """The InfluxQL that creates ``partner``'s database and its read-only user."""
    db, user = quote_ident(partner_database(database, partner)), quote_ident(reader_account(partner))
    return [f"CREATE DATABASE {db}", f"CREATE USER {user} WITH PASSWORD {quote_literal(password)}",
            f"GRANT READ ON {db} TO {user}"]


def create_admin(url: str, username: str, password: str) -> None:
    """Create the first (admin) user of a fresh InfluxDB with ``auth-enabled``."""
    with InfluxClient(url, "_internal") as client:
        client.query(f"CREATE USER {quote_ident(username)} WITH PASSWORD {quote_literal(password)} WITH ALL PRIVILEGES",
                     epoch=None)


def grant_partner_reads(admin: InfluxClient, catalog: Catalog, passwords: dict[str, str]) -> list[str]:
    """Create every partner's database and read-only user (idempotent: an existing user gets its
    password set again); returns the partners done.

    Raises
    ------
    ConfigError
        a partner without a password in ``passwords``.
    """
    done = []
    for partner in (p.id for p in catalog.partners):
        if partner not in passwords:
            raise ConfigError(f"no InfluxDB password for {reader_account(partner)}")
        create, user, grant = grant_statements(admin.database, partner, passwords[partner])
        admin.query(create, epoch=None)
        try:
            admin.query(user, epoch=None)
        except InfluxError as exc:
            if "already exists" not in str(exc):
                raise
            admin.query(f"SET PASSWORD FOR {quote_ident(reader_account(partner))} = "
                        f"{quote_literal(passwords[partner])}", epoch=None)
        admin.query(grant, epoch=None)
        done.append(partner)
    return done
