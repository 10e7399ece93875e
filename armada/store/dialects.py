"""What differs between SQLite and SQL Server: connecting, transactions, parameters, errors."""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Protocol

from armada import const
from armada.config import ConfigError, MssqlSettings, SqliteSettings
from armada.datetimes import to_database_text
from armada.store.queries import PARAMETER

log = logging.getLogger(__name__)

# SQL Server error numbers: duplicate key (2627, 2601); deadlock victim (1205); an object
# another process created at the same moment (2714 table, 1913 index), retried so the
# schema is checked again; and the numbers that mean "the database cannot serve now".
MSSQL_DUPLICATE_KEY = {2627, 2601}
MSSQL_RETRY = {1205, 2714, 1913}
# Transport-level errors the server reports: the connection broke under the statement.
MSSQL_TRANSPORT = {233, 10053, 10054, 10060}
MSSQL_UNAVAILABLE = {
    1222,  # lock request time out
    4060,  # cannot open the database (missing, or still recovering)
    18456,  # login failed: pytds raises it from connect() as OperationalError, not LoginError
    18452,  # login from an untrusted domain
    18486, 18487, 18488,  # login locked out, password expired, password must change
    18401,  # server in script-upgrade mode
    40613, 40197, 40501, 10928, 10929,  # Azure SQL: database busy, throttled or moving
    *MSSQL_TRANSPORT,
}
# sp_getapplock answers 0 or 1 when granted, a negative number when not (-1: timed out).
SCHEMA_LOCK = ("DECLARE @granted INT; EXEC @granted = sp_getapplock @Resource = N'armada_schema', "
               "@LockMode = N'Exclusive', @LockOwner = N'Transaction', "
               "@LockTimeout = %(wait_ms)s; SELECT @granted")
# What those numbers mean, in the few words a 503, /readyz and the log give as the reason.
MSSQL_REASONS = {
    **dict.fromkeys((18456, 18452), "login failed"),
    18486: "login failed: account locked out",
    18487: "login failed: password expired",
    18488: "login failed: password must be changed",
    4060: "database missing or unavailable",
    1222: "lock request timed out",
    18401: "server in script-upgrade mode",
    **dict.fromkeys((40613, 40197, 40501, 10928, 10929), "database busy, throttled or moving"),
    **dict.fromkeys((233, 10053, 10054), "connection lost"),
    10060: "timed out",
}


class Dialect(Protocol):
    name: str
    # A failed statement undoes its own changes and the transaction goes on (checked with
    # in_transaction): a write of one statement then needs no savepoint of its own.
    statements_undo_themselves: bool

    def connect(self) -> Any: ...
    def close(self, connection: Any) -> None: ...
    def prepare(self, sql: str) -> str: ...
    # `params` is the caller's own: it may be changed and returned.
    def adapt(self, params: dict[str, Any]) -> dict[str, Any]: ...
    # The connection's cursor for statements whose rows are read at once (None: a new one
    # for each statement, closed after it).
    def reused_cursor(self, connection: Any) -> Any | None: ...
    # `wait`: at most this many seconds for the write lock, where the dialect waits at BEGIN.
    def begin(self, connection: Any, write: bool, wait: float | None = None) -> None: ...
    def commit(self, connection: Any) -> None: ...
    def rollback(self, connection: Any) -> None: ...
    def savepoint(self, connection: Any) -> None: ...
    def release(self, connection: Any) -> None: ...
    def rollback_to(self, connection: Any) -> None: ...
    def in_transaction(self, connection: Any) -> bool: ...
    # In a write transaction: wait until no other instance is upgrading the schema.
    def lock_schema(self, connection: Any) -> None: ...
    # In that transaction: the migration number `version` is applied (armada/store/migrations.py).
    def set_schema_version(self, connection: Any, version: int) -> None: ...
    def is_duplicate_key(self, error: BaseException) -> bool: ...
    def is_retryable(self, error: BaseException) -> bool: ...
    def is_unavailable(self, error: BaseException) -> bool: ...
    # BEGIN gave up waiting for a lock that another connection holds.
    def is_busy(self, error: BaseException) -> bool: ...
    # Why the database cannot serve, in a few words: for the 503, /readyz and the log.
    def unavailable_reason(self, error: BaseException) -> str: ...
    # The connection broke under the statement (a COMMIT): it may have taken effect or not.
    def outcome_unknown(self, error: BaseException) -> bool: ...
    # A failure that waiting will not mend (a file that is not a database): what the start
    # says before it stops; None for an outage.
    def configuration_problem(self, error: BaseException) -> ConfigError | None: ...


def causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it was raised from or while handling, to the root."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def transport_reason(error: BaseException) -> str | None:
    """The network or file-system failure `error` is, in a few words; None for any other."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionError | EOFError):
        return "connection lost"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, socket.gaierror):
        return f"host not found ({error.strerror or error})"
    if isinstance(error, OSError):
        return (error.strerror or _first_line(error)).lower()
    return None


def reason_of(error: BaseException, specific: Callable[[BaseException], str | None]) -> str:
    """Why the database cannot serve: the root cause first (a driver that gave up with a
    bare TimeoutError says underneath that the connection was refused); never empty."""
    chain = list(causes(error))
    for link in reversed(chain):
        reason = specific(link) or transport_reason(link)
        if reason:
            return reason
    return next(filter(None, (_first_line(link) for link in chain)), type(error).__name__)


def is_transport_failure(error: BaseException) -> bool:
    """The connection broke under the statement: the server may have run it or not."""
    return any(isinstance(link, OSError | EOFError) for link in causes(error))


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else ""


# SQLite's primary result codes for a file it can never serve from: not to be opened, not a
# database, damaged, read-only, refused.
SQLITE_UNUSABLE = frozenset({sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB,
                             sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_READONLY,
                             sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH})


# SqliteDialect.begin: a write waits for the lock until its batch's first deadline, or up to
# this share of the wait (at least the minimum) less.
BUSY_TIMEOUT_SLACK = 0.05
BUSY_TIMEOUT_SLACK_MIN_SECONDS = 0.02


class _Connection(sqlite3.Connection):
    """An SQLite connection that remembers its busy_timeout (SqliteDialect.begin), with one
    cursor for every statement whose rows are read at once: a cursor per statement costs
    more than a short statement."""

    busy_timeout_ms = -1
    statements: sqlite3.Cursor


class SqliteDialect:
    """SQLite in WAL mode; writers take the write lock up front with BEGIN IMMEDIATE. Read-only
    (a dry run): the file opened with mode=ro, its journal mode left as it is."""

    name = "sqlite"
    # SQLite's statement journal; an error that ends the whole transaction (I/O, disk full)
    # leaves in_transaction False.
    statements_undo_themselves = True

    def __init__(self, settings: SqliteSettings, timeout: float, read_only: bool = False) -> None:
        self.path = settings.path
        self.timeout = timeout
        self.read_only = read_only

    def connect(self) -> _Connection:
        if self.read_only:
            connection = sqlite3.connect(
                f"{self.path.absolute().as_uri()}?mode=ro", uri=True, timeout=self.timeout,
                isolation_level=None, check_same_thread=False, factory=_Connection)
        else:
            connection = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False,
                factory=_Connection)
        try:
            if self.read_only:
                # Reads the header: a file that is not SQLite fails here, not in a query.
                connection.execute("PRAGMA schema_version")
            else:
                connection.execute("PRAGMA journal_mode=WAL")
                # FULL: a commit is on disk (not only in the OS cache) before it is acknowledged.
                connection.execute("PRAGMA synchronous=FULL")
            connection.busy_timeout_ms = int(self.timeout * 1000)
            connection.execute(f"PRAGMA busy_timeout={connection.busy_timeout_ms}")
            connection.statements = connection.cursor()
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self, connection: sqlite3.Connection) -> None:
        connection.close()

    def prepare(self, sql: str) -> str:
        return sql

    def adapt(self, params: dict[str, Any]) -> dict[str, Any]:
        for key, value in params.items():
            if isinstance(value, datetime):
                params[key] = to_database_text(value)
        return params

    def reused_cursor(self, connection: sqlite3.Connection) -> sqlite3.Cursor | None:
        return connection.statements if isinstance(connection, _Connection) else None

    def begin(self, connection: _Connection, write: bool, wait: float | None = None) -> None:
        if wait is not None:
            # The lock is waited for until the first deadline, or a little less: the PRAGMA
            # runs only when the wait set is past it or short of it by more than the slack
            # (each new text is compiled anew), not before every group commit.
            slack = max(BUSY_TIMEOUT_SLACK_MIN_SECONDS, wait * BUSY_TIMEOUT_SLACK)
            if not wait - slack <= connection.busy_timeout_ms / 1000 <= wait:
                milliseconds = max(0, int((wait - slack / 2) * 1000))
                connection.statements.execute(f"PRAGMA busy_timeout={milliseconds}")
                connection.busy_timeout_ms = milliseconds
        connection.statements.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def commit(self, connection: _Connection) -> None:
        connection.statements.execute("COMMIT")

    def rollback(self, connection: _Connection) -> None:
        if self.in_transaction(connection):
            connection.statements.execute("ROLLBACK")

    # One write of a group commit: its own savepoint inside the shared transaction.
    def savepoint(self, connection: _Connection) -> None:
        connection.statements.execute("SAVEPOINT armada_write")

    def release(self, connection: _Connection) -> None:
        connection.statements.execute("RELEASE armada_write")

    def rollback_to(self, connection: _Connection) -> None:
        """Undo the write's changes and drop its savepoint; the transaction goes on."""
        connection.statements.execute("ROLLBACK TO armada_write")
        connection.statements.execute("RELEASE armada_write")

    def in_transaction(self, connection: sqlite3.Connection) -> bool:
        return connection.in_transaction

    def lock_schema(self, connection: sqlite3.Connection) -> None:
        """Nothing to do: BEGIN IMMEDIATE took the database's one write lock."""

    def set_schema_version(self, connection: sqlite3.Connection, version: int) -> None:
        # A PRAGMA takes no parameter: the version is an int, written as one.
        connection.execute(f"PRAGMA user_version = {int(version)}")

    def is_duplicate_key(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error)

    def is_retryable(self, error: BaseException) -> bool:
        return self.is_duplicate_key(error) or self.is_closed_connection(error)

    def is_unavailable(self, error: BaseException) -> bool:
        # SQLITE_ERROR is a statement SQLite refused (its syntax, a search string it cannot
        # read): a fault of the request or of the code, never a database outage.
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None and code & 0xFF == sqlite3.SQLITE_ERROR:
            return False
        if isinstance(error, sqlite3.ProgrammingError):
            return self.is_closed_connection(error)
        return isinstance(error, sqlite3.OperationalError | OSError)

    def is_busy(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and \
            getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY

    def unavailable_reason(self, error: BaseException) -> str:
        # SQLite's own words are the reason ("unable to open database file", "database is
        # locked", "disk I/O error"); the path stays in the log's description, not in answers.
        return reason_of(error, _sqlite_reason)

    def outcome_unknown(self, error: BaseException) -> bool:
        # A failed COMMIT ends or keeps the transaction as SQLite reports, except when the
        # I/O under it failed: the commit record may be on disk.
        return is_transport_failure(error) or (
            isinstance(error, sqlite3.OperationalError) and "disk I/O error" in str(error))

    def configuration_problem(self, error: BaseException) -> ConfigError | None:
        for link in causes(error):
            code = getattr(link, "sqlite_errorcode", None)
            if isinstance(link, sqlite3.Error) and code is not None \
                    and code & 0xFF in SQLITE_UNUSABLE:
                return ConfigError("ARMADA_DB_PATH", f"{self.path.absolute()}: "
                                                     f"{_first_line(link)}")
        return None

    @staticmethod
    def is_closed_connection(error: BaseException) -> bool:
        # Raised before anything ran: safe to retry the whole operation on a new connection.
        return isinstance(error, sqlite3.ProgrammingError) and "closed database" in str(error)


def _sqlite_reason(error: BaseException) -> str | None:
    if isinstance(error, sqlite3.Error):
        return _first_line(error) or None
    return None


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
        """A session a closed store of this process left (see IdleSessions), or a new one."""
        return IDLE_SESSIONS.take((self.settings, self.timeout)) or self._new_session()

    def close(self, connection: Any) -> None:
        IDLE_SESSIONS.keep((self.settings, self.timeout), connection)

    def _new_session(self) -> Any:
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

    def reused_cursor(self, connection: Any) -> None:
        return None

    def begin(self, connection: Any, write: bool, wait: float | None = None) -> None:
        """Nothing to do: pytds begins a transaction on connect and after each commit/rollback
        (locks are waited for in the statements that take them)."""

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
        return True  # pytds is always in one; a doomed one ends at the rollback

    def lock_schema(self, connection: Any) -> None:
        """An application lock held until the transaction ends; TimeoutError (the database
        is unavailable for now) when another instance holds it longer than the timeout."""
        with connection.cursor() as cursor:
            cursor.execute(SCHEMA_LOCK, {"wait_ms": int(self.timeout * 1000)})
            while cursor.description is None and cursor.nextset():
                pass
            (granted,) = cursor.fetchone()
        if granted < 0:
            raise TimeoutError(f"schema lock not granted ({granted}): another instance is "
                               f"upgrading the schema")

    def set_schema_version(self, connection: Any, version: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE dbo.armada_schema_version SET version = %(version)s",
                           {"version": version})

    def is_duplicate_key(self, error: BaseException) -> bool:
        return _mssql_number(error) in MSSQL_DUPLICATE_KEY

    def is_retryable(self, error: BaseException) -> bool:
        return _mssql_number(error) in MSSQL_DUPLICATE_KEY | MSSQL_RETRY

    def is_busy(self, error: BaseException) -> bool:
        return False  # BEGIN takes no lock here (begin): a write waits in its statements

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

    def unavailable_reason(self, error: BaseException) -> str:
        return reason_of(error, _mssql_reason)

    def outcome_unknown(self, error: BaseException) -> bool:
        """The connection broke while the server ran the statement (a COMMIT may be done);
        an error the server answered with means it did not."""
        import pytds

        return is_transport_failure(error) or any(
            isinstance(link, pytds.InterfaceError) or _mssql_number(link) in MSSQL_TRANSPORT
            for link in causes(error))

    def configuration_problem(self, error: BaseException) -> ConfigError | None:
        # A server that does not answer at start may be starting too (containers).
        return None

def _mssql_reason(error: BaseException) -> str | None:
    import pytds

    if isinstance(error, pytds.tds_base.ClosedConnectionError):
        return "connection lost (closed by the server)"
    number = _mssql_number(error)
    if number is None:
        return None
    return MSSQL_REASONS.get(number) or f"error {number}: {_first_line(error)}"


def _mssql_number(error: BaseException) -> int | None:
    number = getattr(error, "msg_no", None)
    return number if isinstance(number, int) and number > 0 else None


class IdleSessions:
    """SQL Server sessions a closed store left, for the next store of this process on the
    same database, as SQL Server's own drivers pool theirs: a new session costs the engine
    its warm-up (on Babelfish, seconds of CPU over its first statements). A session is
    kept only at a transaction's end, taken back only young and after a rollback that
    proves it answers; the rest are closed."""

    def __init__(self, most: int, max_idle: float) -> None:
        self.most = most
        self.max_idle = max_idle
        self._idle: dict[Any, list[tuple[float, Any]]] = {}
        self._lock = threading.Lock()

    def keep(self, key: Any, connection: Any) -> None:
        try:
            connection.rollback()
        except Exception:
            close_quietly(connection)
            return
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.most:
                idle.append((time.monotonic(), connection))
                return
        close_quietly(connection)

    def take(self, key: Any) -> Any | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                since, connection = idle.pop()
            if time.monotonic() - since <= self.max_idle:
                try:
                    connection.rollback()
                    return connection
                except Exception:
                    pass
            close_quietly(connection)


IDLE_SESSIONS = IdleSessions(most=const.MSSQL_IDLE_SESSIONS,
                             max_idle=const.MSSQL_IDLE_SESSION_SECONDS)


def close_quietly(connection: Any, close: Callable[[Any], None] | None = None) -> None:
    """Close `connection` (through `close`: a dialect's, which may keep it), logging a failure
    at debug level only: the connection is given up either way."""
    try:
        if close is None:
            connection.close()
        else:
            close(connection)
    except Exception as error:
        log.debug("closing a connection failed: %s", error)


def make_dialect(settings: SqliteSettings | MssqlSettings, timeout: float,
                 read_only: bool = False) -> Dialect:
    """`read_only` connections where the engine has them (SQLite); on both, the store then
    creates nothing."""
    if isinstance(settings, MssqlSettings):
        return MssqlDialect(settings, timeout)
    return SqliteDialect(settings, timeout, read_only)
