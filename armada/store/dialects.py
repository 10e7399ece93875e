"""What differs between SQLite and SQL Server: connecting, transactions, parameters, errors."""

from __future__ import annotations

import socket
import sqlite3
from datetime import datetime
from typing import Any, Protocol

from armada.config import MssqlSettings, SqliteSettings
from armada.datetimes import to_database_text
from armada.store.queries import PARAMETER

# SQL Server error numbers: duplicate key (2627, 2601); deadlock victim (1205); an object
# another process created at the same moment (2714 table, 1913 index), retried so the
# schema is checked again; and the numbers that mean "the database cannot serve now".
MSSQL_DUPLICATE_KEY = {2627, 2601}
MSSQL_RETRY = {1205, 2714, 1913}
MSSQL_UNAVAILABLE = {
    1222,  # lock request time out
    4060,  # cannot open the database (missing, or still recovering)
    18456,  # login failed: pytds raises it from connect() as OperationalError, not LoginError
    18486, 18487, 18488,  # login locked out, password expired, password must change
    18401,  # server in script-upgrade mode
    40613, 40197, 40501, 10928, 10929,  # Azure SQL: database busy, throttled or moving
    233, 10053, 10054, 10060,  # transport-level errors reported by the server
}


class Dialect(Protocol):
    name: str
    # A failed statement undoes its own changes and the transaction goes on (checked with
    # in_transaction): a write of one statement then needs no savepoint of its own.
    statements_undo_themselves: bool

    def connect(self) -> Any: ...
    def prepare(self, sql: str) -> str: ...
    def adapt(self, params: dict[str, Any]) -> dict[str, Any]: ...
    def begin(self, connection: Any, write: bool) -> None: ...
    def commit(self, connection: Any) -> None: ...
    def rollback(self, connection: Any) -> None: ...
    def savepoint(self, connection: Any) -> None: ...
    def release(self, connection: Any) -> None: ...
    def rollback_to(self, connection: Any) -> None: ...
    def in_transaction(self, connection: Any) -> bool: ...
    def is_duplicate_key(self, error: BaseException) -> bool: ...
    def is_retryable(self, error: BaseException) -> bool: ...
    def is_unavailable(self, error: BaseException) -> bool: ...


class SqliteDialect:
    """SQLite in WAL mode; writers take the write lock up front with BEGIN IMMEDIATE."""

    name = "sqlite"
    # SQLite's statement journal; an error that ends the whole transaction (I/O, disk full)
    # leaves in_transaction False.
    statements_undo_themselves = True

    def __init__(self, settings: SqliteSettings, timeout: float) -> None:
        self.path = settings.path
        self.timeout = timeout

    def connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk (not only in the OS cache) before it is acknowledged.
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        except BaseException:
            connection.close()
            raise
        return connection

    def prepare(self, sql: str) -> str:
        return sql

    def adapt(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            key: to_database_text(value) if isinstance(value, datetime) else value
            for key, value in params.items()
        }

    def begin(self, connection: sqlite3.Connection, write: bool) -> None:
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def commit(self, connection: sqlite3.Connection) -> None:
        connection.execute("COMMIT")

    def rollback(self, connection: sqlite3.Connection) -> None:
        if self.in_transaction(connection):
            connection.execute("ROLLBACK")

    # One write of a group commit: its own savepoint inside the shared transaction.
    def savepoint(self, connection: sqlite3.Connection) -> None:
        connection.execute("SAVEPOINT armada_write")

    def release(self, connection: sqlite3.Connection) -> None:
        connection.execute("RELEASE armada_write")

    def rollback_to(self, connection: sqlite3.Connection) -> None:
        """Undo the write's changes and drop its savepoint; the transaction goes on."""
        connection.execute("ROLLBACK TO armada_write")
        connection.execute("RELEASE armada_write")

    def in_transaction(self, connection: sqlite3.Connection) -> bool:
        return connection.in_transaction

    def is_duplicate_key(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error)

    def is_retryable(self, error: BaseException) -> bool:
        return self.is_duplicate_key(error) or self.is_closed_connection(error)

    def is_unavailable(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError | sqlite3.ProgrammingError | OSError)

    @staticmethod
    def is_closed_connection(error: BaseException) -> bool:
        # Raised before anything ran: safe to retry the whole operation on a new connection.
        return isinstance(error, sqlite3.ProgrammingError) and "closed database" in str(error)


class MssqlDialect:
    """SQL Server through python-tds, in non-autocommit mode: always inside a transaction.

    Parameters become `%(name)s`; pytds substitutes one `@Pn` per name (however often it
    appears) and sends the statement through sp_executesql.
    """

    name = "mssql"
    # Some errors doom the whole transaction (XACT_STATE() = -1) and pytds does not say
    # which: every write keeps its savepoint.
    statements_undo_themselves = False

    def __init__(self, settings: MssqlSettings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout

    def connect(self) -> Any:
        import pytds

        server = self.settings.server
        return pytds.connect(
            dsn=server,
            # pytds refuses a port together with a named instance (host\\instance): the
            # instance's port is then asked of the SQL Server Browser.
            port=None if "\\" in server else self.settings.port,
            database=self.settings.database,
            user=self.settings.user,
            password=self.settings.password,
            autocommit=False,
            login_timeout=self.timeout,
            timeout=self.timeout * 6,
            appname="armada-backend",
        )

    def prepare(self, sql: str) -> str:
        # pytds applies `statement % params` whenever params is a dict (even an empty one),
        # so a literal % must be doubled; Transaction always passes a dict.
        return PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))

    def adapt(self, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def begin(self, connection: Any, write: bool) -> None:
        """Nothing to do: pytds begins a transaction on connect and after each commit/rollback."""

    def commit(self, connection: Any) -> None:
        connection.commit()

    def rollback(self, connection: Any) -> None:
        connection.rollback()

    # One write of a group commit: its own savepoint inside the shared transaction.
    def savepoint(self, connection: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SAVE TRANSACTION armada_write")

    def release(self, connection: Any) -> None:
        """Nothing to do: T-SQL has no RELEASE; the savepoint ends with the transaction."""

    def rollback_to(self, connection: Any) -> None:
        """Undo the write's changes; fails when the error doomed the whole transaction."""
        with connection.cursor() as cursor:
            cursor.execute("ROLLBACK TRANSACTION armada_write")

    def in_transaction(self, connection: Any) -> bool:
        return True  # not asked: statements_undo_themselves is False

    def is_duplicate_key(self, error: BaseException) -> bool:
        return _mssql_number(error) in MSSQL_DUPLICATE_KEY

    def is_retryable(self, error: BaseException) -> bool:
        return _mssql_number(error) in MSSQL_DUPLICATE_KEY | MSSQL_RETRY

    def is_unavailable(self, error: BaseException) -> bool:
        import pytds

        if isinstance(error, OSError | socket.timeout | EOFError | pytds.InterfaceError):
            return True
        if isinstance(error, pytds.tds_base.LoginError):
            return True
        # pytds raises OperationalError for most server messages; only some mean "unreachable".
        number = _mssql_number(error)
        return isinstance(error, pytds.OperationalError) and (
            number is None or number in MSSQL_UNAVAILABLE
        )


def _mssql_number(error: BaseException) -> int | None:
    number = getattr(error, "msg_no", None)
    return number if isinstance(number, int) and number > 0 else None


def make_dialect(settings: SqliteSettings | MssqlSettings, timeout: float) -> Dialect:
    if isinstance(settings, MssqlSettings):
        return MssqlDialect(settings, timeout)
    return SqliteDialect(settings, timeout)
