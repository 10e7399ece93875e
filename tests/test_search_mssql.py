"""`q=` on SQL Server: LIKE decides every term, and no full-text index narrows the search,
because a full-text index cannot find a piece inside a word (README "Search").

The first tests read the T-SQL files and run here; the last needs a SQL Server with Full-Text
Search (opt-in, ARMADA_TEST_MSSQL; the official Linux images have no Full-Text Search unless
`mssql-server-fts` is installed) and shows there what a full-text index misses. The API
search tests (tests/test_search.py) run on SQL Server too when it is opted in.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

import pytest

from armada.config import MssqlSettings
from armada.store.migrations import load_migrations
from armada.store.queries import COMMENT, load_queries

MSSQL = load_queries("mssql")
SEARCH_QUERIES = sorted(name for name in MSSQL if name.startswith("search_events"))
FULL_TEXT = re.compile(r"\b(CONTAINS|CONTAINSTABLE|FREETEXT|FREETEXTTABLE|FULLTEXT)\b",
                       re.IGNORECASE)
LIKE_TERM = "event_content LIKE :like{number} ESCAPE '\\'"


def code_of(name: str) -> str:
    """The query's statements without their comments."""
    return "\n".join(COMMENT.sub("", statement) for statement in MSSQL[name].statements)


def test_there_are_sql_server_search_queries() -> None:
    assert SEARCH_QUERIES == ["search_events_like_page", "search_events_of_job_like_page",
                              "search_events_of_job_recent_page",
                              "search_events_of_run_like_page", "search_events_page",
                              "search_events_recent_page"]


@pytest.mark.parametrize("name", SEARCH_QUERIES)
def test_every_sql_server_search_query_decides_each_term_by_like(name: str) -> None:
    code = code_of(name)
    for number in range(1, 5):
        assert LIKE_TERM.format(number=number) in code, (name, number)


@pytest.mark.parametrize("name", SEARCH_QUERIES)
def test_no_sql_server_search_query_narrows_by_a_full_text_predicate(name: str) -> None:
    assert not FULL_TEXT.search(code_of(name)), name


def test_sql_server_creates_no_full_text_index_and_says_the_search_is_not_indexed() -> None:
    for migration in load_migrations("mssql"):
        assert not any(FULL_TEXT.search(COMMENT.sub("", statement))
                       for statement in migration.statements), migration.name
    assert re.search(r"SELECT\s+0\s+AS\s+indexed\b", code_of("search_index_state"))


# On a SQL Server with Full-Text Search: why the service makes no full-text index

PROBE_TABLE = "dbo.armada_fts_probe"
PROBE_CATALOG = "armada_fts_probe_catalog"
PROBE_ROWS = (
    (1, "Error: Timeout waiting for selector #login"),
    (2, "Traceback: requests.exceptions.ReadTimeout: read timeout=30"),
    (3, "timeout of 42 s reached, retrying"),
)
POPULATION_SECONDS = 60


def ids(cursor: Any, sql: str, params: dict[str, str]) -> set[int]:
    cursor.execute(sql, params)
    return {row[0] for row in cursor.fetchall()}


def drop_probe(cursor: Any) -> None:
    cursor.execute(f"IF OBJECT_ID(N'{PROBE_TABLE}', N'U') IS NOT NULL DROP TABLE {PROBE_TABLE}")
    cursor.execute("IF EXISTS (SELECT 1 FROM sys.fulltext_catalogs"
                   f" WHERE name = N'{PROBE_CATALOG}') DROP FULLTEXT CATALOG {PROBE_CATALOG}")


@pytest.mark.skipif(not os.environ.get("ARMADA_TEST_MSSQL"),
                    reason="set ARMADA_TEST_MSSQL to run against SQL Server")
@pytest.mark.parametrize("database", ["mssql"], indirect=True)  # conftest: the test database
def test_a_full_text_index_misses_a_piece_inside_a_word_that_like_finds(
        database: MssqlSettings) -> None:
    import pytds

    settings = database
    # Full-text DDL cannot run inside a transaction: an autocommit connection of its own.
    with pytds.connect(dsn=settings.server,
                       port=None if "\\" in settings.server else settings.port,
                       user=settings.user, password=settings.password,
                       database=settings.database, autocommit=True, login_timeout=30,
                       appname="armada-tests") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT CAST(FULLTEXTSERVICEPROPERTY('IsFullTextInstalled') AS INT)")
        if cursor.fetchone()[0] != 1:
            pytest.skip("this SQL Server has no Full-Text Search (mssql-server-fts)")
        drop_probe(cursor)
        try:
            cursor.execute(f"CREATE TABLE {PROBE_TABLE} (probe_id INT NOT NULL"
                           " CONSTRAINT pk_armada_fts_probe PRIMARY KEY,"
                           " probe_content NVARCHAR(MAX) NOT NULL)")
            for probe_id, content in PROBE_ROWS:
                cursor.execute(f"INSERT INTO {PROBE_TABLE} VALUES (%(id)s, %(content)s)",
                               {"id": probe_id, "content": content})
            cursor.execute(f"CREATE FULLTEXT CATALOG {PROBE_CATALOG}")
            cursor.execute(f"CREATE FULLTEXT INDEX ON {PROBE_TABLE} (probe_content)"
                           f" KEY INDEX pk_armada_fts_probe ON {PROBE_CATALOG}"
                           " WITH CHANGE_TRACKING AUTO")
            contains = f"SELECT probe_id FROM {PROBE_TABLE} WHERE CONTAINS(probe_content, %(c)s)"
            like = f"SELECT probe_id FROM {PROBE_TABLE} WHERE probe_content LIKE %(p)s"
            # The index is filled in the background: wait until it finds the whole words.
            deadline = time.monotonic() + POPULATION_SECONDS
            while not {1, 3} <= ids(cursor, contains, {"c": '"timeout*"'}):
                assert time.monotonic() < deadline, "full-text population did not finish"
                time.sleep(0.5)

            assert ids(cursor, like, {"p": "%meou%"}) == {1, 2, 3}
            assert ids(cursor, contains, {"c": '"meou*"'}) == set()
        finally:
            drop_probe(cursor)
