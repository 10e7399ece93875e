"""The schema's versions: numbered migrations, applied at start in order, each in one transaction.

A database's version is the number of the last migration applied to it: `PRAGMA user_version`
on SQLite, the one row of armada_schema_version on SQL Server (made by the first migration).
Version 0 is a database the service never saw, or one made before there were versions, in
any earlier shape (Armada's own keyless tables included): the migrations that were written
before versions (1 to BEFORE_VERSIONS) create only what is missing and drop only what
earlier versions made, so that every such database arrives at the same schema. Later ones
are plain changes.

A start reads the version in one query (with the columns of Armada's tables, whose length
limits the writes check); a database that is up to date needs nothing more.
Two instances starting together apply each migration once: the second waits for the schema
lock (SQLite's write lock, an application lock on SQL Server) and finds the version moved.
docs/upgrades.md says how to add one.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from armada.config import ConfigError
from armada.store import operations
from armada.store.dialects import Dialect
from armada.store.queries import (
    SQL_ROOT,
    Query,
    parse_parameters,
    read_texts,
    split_statements,
)
from armada.store.transaction import Limits, Transaction, in_transaction

log = logging.getLogger(__name__)

FOLDER = "migrations"
FILE_NAME = re.compile(r"(\d{4})_[a-z0-9_]+")
# The migrations that also run on a database made before versions, whatever its shape.
BEFORE_VERSIONS = 6
# The migration that creates Armada's tables: tables it found without a key on their uuid
# (Armada's own) get an index on it in the same transaction.
TABLES = 1
# Where the database is named, for the line that refuses a newer one.
DATABASE_SETTING = {"sqlite": "ARMADA_DB_PATH", "mssql": "SQL_SERVER_DB"}


class SchemaTooNew(ConfigError):
    """The database was upgraded by a newer armada: this one does not know its schema."""

    def __init__(self, dialect: str, description: str, version: int, latest: int) -> None:
        super().__init__(DATABASE_SETTING[dialect],
                         f"{description} has schema version {version}, newer than this "
                         f"armada knows ({latest}): run the armada that upgraded it, or newer")
        self.version = version


def load_migrations(dialect: str, root: Path = SQL_ROOT) -> tuple[Query, ...]:
    """The dialect's migrations in order: NNNN_name.sql numbered 1, 2, 3 ... with no gap.
    A migration may have no statement (a change the other dialect alone needs)."""
    folder = root / dialect / FOLDER
    migrations = []
    for name, text in read_texts(folder).items():
        if FILE_NAME.fullmatch(name) is None:
            raise ValueError(f"{folder / name}.sql: a migration is named NNNN_name.sql")
        migrations.append(Query(name, split_statements(text, dialect), parse_parameters(text)))
    numbers = [version_of(migration) for migration in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"{folder}: migrations numbered {numbers}, not 1 to {len(numbers)}")
    return tuple(migrations)


def version_of(migration: Query) -> int:
    return int(migration.name[:4])


class Schema(NamedTuple):
    """What the service learns of Armada's tables once the schema is up to date."""

    limits: Limits
    keyless: frozenset[str]  # the tables with no key on their uuid


def prepare_schema(connection: Any, dialect: Dialect, queries: Mapping[str, Query],
                   migrations: tuple[Query, ...], description: str) -> Schema:
    """Bring the database to the newest version; answer the column limits of Armada's tables
    and which have no key. Up to date: one query (schema_state), which answers all."""
    tx = Transaction(connection, dialect, queries, {})
    latest = len(migrations)
    version, columns = in_transaction(connection, dialect, False,
                                      lambda: operations.schema_state(tx))
    if version > latest:
        raise SchemaTooNew(dialect.name, description, version, latest)
    if version < latest:
        for migration in migrations[version:]:
            in_transaction(connection, dialect, True,
                           functools.partial(apply, tx, connection, dialect, migration))
        _, columns = in_transaction(connection, dialect, False,
                                    lambda: operations.schema_state(tx))
    return Schema(operations.column_limits(columns), operations.keyless_tables(columns))


def apply(tx: Transaction, connection: Any, dialect: Dialect, migration: Query) -> None:
    """Apply one migration unless another instance did while this one waited for the lock."""
    dialect.lock_schema(connection)
    version = version_of(migration)
    if operations.schema_state(tx)[0] >= version:
        return
    tx.execute(migration.name)
    if version == TABLES:
        operations.index_keyless_tables(tx)
    dialect.set_schema_version(connection, version)
    log.info("schema upgraded to version %d (%s)", version, migration.name)
