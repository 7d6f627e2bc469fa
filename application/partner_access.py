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

import os
import secrets
from pathlib import Path

from application.services import read_env_file
from riverwatch.catalog import Catalog
from riverwatch.durable import tmp_path, write_atomic
from riverwatch.errors import ConfigError
from riverwatch.influx import InfluxClient, InfluxError, quote_ident, quote_literal
from riverwatch.sharing import partner_database, password_variable, reader_account, token_variable


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


def reader_passwords(catalog: Catalog, path: Path, rotate: bool = False) -> dict[str, str]:
    """Each partner's reader password: kept from ``path`` (an env file) unless ``rotate``, else new.

    >>> import tempfile
    >>> from riverwatch.catalog import load_catalog
    >>> path = Path(tempfile.mkdtemp()) / "readers.env"
    >>> first = reader_passwords(load_catalog("catalog/demo.toml"), path)
    >>> write_reader_passwords(path, first)
    >>> reader_passwords(load_catalog("catalog/demo.toml"), path) == first, sorted(first)
    (True, ['lacville', 'rivertown'])
    """
    kept = {} if rotate or not path.is_file() else read_env_file(path)
    return {p.id: kept.get(password_variable(p.id)) or secrets.token_urlsafe(24) for p in catalog.partners}


def write_reader_passwords(path: Path, passwords: dict[str, str]) -> None:
    """Write ``passwords`` as an env file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{password_variable(p)}={pw}\n" for p, pw in passwords.items())
    os.close(os.open(tmp_path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))  # never readable by others
    write_atomic(path, text.encode())


def influx2_commands(catalog: Catalog, database: str, org: str) -> list[str]:
    """The ``influx`` CLI commands that give each partner, on InfluxDB 2.x, what :func:`grant_partner_reads`
    gives on 1.x: a bucket, its v1 mapping (DBRP) to ``<database>_<partner>``, and a token that may
    read that bucket only (printed by ``influx auth create``; Grafana reads it from ``INFLUX_TOKEN_<PARTNER>``).

    >>> from riverwatch.catalog import load_catalog
    >>> print("\\n".join(influx2_commands(load_catalog("catalog/demo.toml"), "riverwatch", "rw")[:3]))
    influx bucket create --org rw --name riverwatch_rivertown
    influx v1 dbrp create --org rw --db riverwatch_rivertown --rp autogen --default --bucket-id "$(influx bucket list --org rw --name riverwatch_rivertown --hide-headers | cut -f1)"
    influx auth create --org rw --description reader.rivertown --read-bucket "$(influx bucket list --org rw --name riverwatch_rivertown --hide-headers | cut -f1)"  # -> INFLUX_TOKEN_RIVERTOWN
    """
    out = []
    for partner in (p.id for p in catalog.partners):
        bucket = partner_database(database, partner)
        bucket_id = f'"$(influx bucket list --org {org} --name {bucket} --hide-headers | cut -f1)"'
        out += [f"influx bucket create --org {org} --name {bucket}",
                f"influx v1 dbrp create --org {org} --db {bucket} --rp autogen --default --bucket-id {bucket_id}",
                f"influx auth create --org {org} --description {reader_account(partner)} --read-bucket {bucket_id}"
                f"  # -> {token_variable(partner)}"]
    return out
