"""One database transaction as the operations see it: run named queries, get plain dicts."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from armada.changes import Change, Record
from armada.datetimes import from_database
from armada.errors import FieldTooLong
from armada.store.dialects import Dialect
from armada.store.queries import Query

T = TypeVar("T")

# Column limits per table: column name -> maximum characters (absent: no limit).
Limits = Mapping[str, Mapping[str, int]]


class Transaction:
    def __init__(self, connection: Any, dialect: Dialect, queries: Mapping[str, Query],
                 limits: Limits, keyless: frozenset[str] = frozenset()) -> None:
        self._connection = connection
        self._dialect = dialect
        self._queries = queries
        self._limits = limits
        # Armada's tables with no key on their uuid (made before this service).
        self.keyless = keyless
        # Every statement but those of `each`, whose rows are read later, where the dialect
        # reuses one cursor (None: a new cursor per statement, closed after it).
        self._cursor = dialect.reused_cursor(connection)

    def works_on(self, connection: Any, limits: Limits | None) -> bool:
        """Whether this is a Transaction on `connection` with the column limits `limits`."""
        return connection is self._connection and limits is self._limits

    def execute(self, name: str, **params: Any) -> int:
        """Run every statement of a query; answer the rows changed by the last one."""
        cursor = self._run(name, params, self._cursor)
        try:
            return int(cursor.rowcount)
        finally:
            self._done(cursor)

    def all(self, name: str, **params: Any) -> list[Record]:
        cursor = self._run(name, params, self._cursor)
        try:
            columns = [column[0] for column in cursor.description]
            return [_record(columns, row) for row in cursor.fetchall()]
        finally:
            self._done(cursor)

    def one(self, name: str, **params: Any) -> Record | None:
        rows = self.all(name, **params)
        return rows[0] if rows else None

    def first(self, name: str, **params: Any) -> tuple[Any, ...] | None:
        """The first row as a tuple, values as the driver reads them: a lookup on the path of
        every write, for less than `one` (no dict, no datetime conversion)."""
        cursor = self._run(name, params, self._cursor)
        try:
            row = cursor.fetchone()
            return None if row is None else tuple(row)
        finally:
            self._done(cursor)

    def each(self, name: str, **params: Any) -> Generator[tuple[Any, ...]]:
        """The rows as tuples, fetched one at a time: a caller that stops early (and closes
        the iterator) leaves the rest unread."""
        cursor = self._run(name, params, None)
        try:
            while (row := cursor.fetchone()) is not None:
                yield tuple(row)
        finally:
            cursor.close()

    def scalar(self, name: str, **params: Any) -> Any:
        cursor = self._run(name, params, self._cursor)
        try:
            row = cursor.fetchone()
            return row[0] if row else None
        finally:
            self._done(cursor)

    def check_lengths(self, table: str, values: Mapping[str, Any]) -> None:
        """Refuse text longer than its column rather than let the database cut or fail it."""
        for column, limit in self._limits.get(table, {}).items():
            value = values.get(column)
            if isinstance(value, str) and len(value) > limit:
                raise FieldTooLong(column, limit)

    def _run(self, name: str, params: dict[str, Any], cursor: Any | None) -> Any:
        """The cursor (`cursor`, or a new one) that ran the query's statements."""
        query = self._queries[name]
        # Most calls pass exactly the query's parameters: then they need no picking out.
        if params.keys() != query.parameters:
            try:
                params = {key: params[key] for key in query.parameters}
            except KeyError:
                missing = sorted(query.parameters - params.keys())
                raise TypeError(f"query {name} needs parameters {missing}") from None
        arguments = self._dialect.adapt(params)
        if cursor is None:
            cursor = self._connection.cursor()
        try:
            for statement in query.statements:
                cursor.execute(statement, arguments)
        except BaseException:
            self._done(cursor)
            raise
        return cursor

    def _done(self, cursor: Any) -> None:
        """Close a cursor of one statement; the reused one is reset by its next statement."""
        if cursor is not self._cursor:
            cursor.close()


def _record(columns: list[str], row: Any) -> Record:
    return {
        column: from_database(value) if column.endswith("_datetime") else value
        for column, value in zip(columns, row, strict=True)
    }


class Outbox(Protocol):
    """Writes, inside a write's transaction and after it, what its changes owe (the alerts'
    deliveries); called on the writer thread. What it raises undoes the write."""

    def write(self, tx: Transaction, changes: Sequence[Change]) -> None: ...


def in_transaction(connection: Any, dialect: Dialect, write: bool, work: Callable[[], T]) -> T:
    """`work` in one transaction on `connection`: committed, or rolled back when it raises."""
    dialect.begin(connection, write)
    try:
        result = work()
    except BaseException:
        dialect.rollback(connection)
        raise
    dialect.commit(connection)
    return result
