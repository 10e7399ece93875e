"""The SQL files, checked without a database: same queries in both dialects, all parseable,
and a query written the same way for both written once, in sql/common/.

SQL Server cannot run everywhere, so its dialect is checked statically here (sqlglot's T-SQL
parser) and against a live server only by the opt-in suite (ARMADA_TEST_MSSQL).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from armada.config import MssqlSettings
from armada.store.dialects import MssqlDialect
from armada.store.migrations import BEFORE_VERSIONS, load_migrations, version_of
from armada.store.queries import (
    COMMENT,
    COMMON,
    FRAGMENTS,
    PARAMETER,
    SQL_ROOT,
    Query,
    load_queries,
    paged,
    split_statements,
)

SQLITE = load_queries("sqlite")
MSSQL = load_queries("mssql")
WRITTEN_ONCE = sorted(path.stem for path in (SQL_ROOT / COMMON).glob("*.sql"))
DIALECTS = ("sqlite", "mssql")
# The named queries and the migrations: every statement the service may run.
SQLITE_ALL = {**SQLITE, **{migration.name: migration for migration in load_migrations("sqlite")}}
MSSQL_ALL = {**MSSQL, **{migration.name: migration for migration in load_migrations("mssql")}}
# The named queries and the migrations that also run on databases made before versions: what
# they create may be there already.
MSSQL_BEFORE_VERSIONS = {name: query for name, query in MSSQL_ALL.items()
                         if name in MSSQL or version_of(query) <= BEFORE_VERSIONS}
PYTDS_PARAMETER = re.compile(r"%\(([A-Za-z_][A-Za-z0-9_]*)\)s")


def statements_of(queries: dict[str, Query]) -> list[pytest.param]:
    """One test case per statement, named `query[index]`."""
    return [
        pytest.param(statement, id=f"{name}[{index}]")
        for name, query in sorted(queries.items())
        for index, statement in enumerate(query.statements)
    ]


def as_tsql_variables(statement: str) -> str:
    """`:name` parameters written as T-SQL variables `@name`, which sqlglot can parse."""
    return PARAMETER.sub(r"@\1", statement)


def fallback_commands(tree: exp.Expression) -> list[str]:
    """Parts sqlglot kept as opaque text (exp.Command) because it did not understand them."""
    return [node.sql() for node in tree.walk() if isinstance(node, exp.Command)]


def parse(statement: str, dialect: str) -> list[exp.Expression]:
    trees = sqlglot.parse(statement, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
    return [tree for tree in trees if tree is not None]


def mssql_dialect() -> MssqlDialect:
    settings = MssqlSettings(server="localhost", port=1433, user="armada",
                             password="unused", database="armada")
    return MssqlDialect(settings, timeout=1.0)


# Both dialects answer the same named queries, each written once where it can be


def test_both_dialects_define_the_same_queries() -> None:
    assert sorted(MSSQL) == sorted(SQLITE)


@pytest.mark.parametrize("name", sorted(SQLITE))
def test_each_query_takes_the_same_parameters_in_both_dialects(name: str) -> None:
    assert MSSQL[name].parameters == SQLITE[name].parameters


def test_both_dialects_define_the_same_fragments() -> None:
    def fragments(dialect: str) -> list[str]:
        return sorted(path.name for path in (SQL_ROOT / dialect / FRAGMENTS).glob("*.sql"))

    assert fragments("sqlite") == fragments("mssql") == [
        "insert_event_checked.sql", "run_summary.sql"]


# A line every run summary holds; the queries that answer run_status splice it in.
RUN_SUMMARY = "ELSE 'Pending' END AS run_status"
RUN_SUMMARY_QUERIES = ["count_runs_of_status", "get_run_with_summary", "list_runs",
                       "list_runs_between", "list_runs_matching", "list_runs_of_status"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_run_summary_is_written_in_one_file_per_dialect(dialect: str) -> None:
    files = [*(SQL_ROOT / COMMON).rglob("*.sql"), *(SQL_ROOT / dialect).rglob("*.sql")]
    holding = [path.relative_to(SQL_ROOT).as_posix() for path in files
               if RUN_SUMMARY in path.read_text(encoding="utf-8")]
    assert holding == [f"{dialect}/{FRAGMENTS}/run_summary.sql"]
    queries = load_queries(dialect)
    assert sorted(name for name, query in queries.items()
                  if any(RUN_SUMMARY in statement for statement in query.statements)
                  ) == RUN_SUMMARY_QUERIES


def test_both_dialects_read_the_queries_written_once_differing_only_in_paging() -> None:
    assert WRITTEN_ONCE
    for name in set(WRITTEN_ONCE) - set(RUN_SUMMARY_QUERIES):
        statements = tuple(paged("mssql", statement) for statement in SQLITE[name].statements)
        assert MSSQL[name].statements == statements, name


def test_both_dialects_have_the_same_migrations() -> None:
    assert [m.name for m in load_migrations("mssql")] == [m.name for m in load_migrations("sqlite")]


def code_of(query: Query) -> list[str]:
    """The statements without comments, their whitespace made single spaces."""
    return [" ".join(COMMENT.sub("", statement).split()) for statement in query.statements]


@pytest.mark.parametrize("name", sorted(set(SQLITE) - set(WRITTEN_ONCE)))
def test_a_query_kept_per_dialect_is_written_differently_in_each(name: str) -> None:
    assert code_of(SQLITE[name]) != code_of(MSSQL[name]), f"{name} belongs in sql/{COMMON}/"


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.sql").write_text(text, encoding="utf-8")


def test_a_dialect_reads_the_common_queries_and_its_own(tmp_path: Path) -> None:
    write(tmp_path / COMMON, "count_runs", "SELECT COUNT(*) AS total FROM armada_runs;\n")
    write(tmp_path / "sqlite", "get_run", "SELECT run_uuid FROM armada_runs LIMIT 1;\n")
    assert sorted(load_queries("sqlite", tmp_path)) == ["count_runs", "get_run"]


def test_a_query_in_common_and_in_a_dialect_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path / COMMON, "count_runs", "SELECT COUNT(*) AS total FROM armada_runs;\n")
    write(tmp_path / "sqlite", "count_runs", "SELECT COUNT(*) AS total FROM armada_runs;\n")
    write(tmp_path / "sqlite", "get_run", "SELECT run_uuid FROM armada_runs LIMIT 1;\n")
    with pytest.raises(ValueError, match=r"in both common/ and sqlite/: count_runs"):
        load_queries("sqlite", tmp_path)


LIST_JOBS = ("SELECT job_uuid FROM armada_jobs\nORDER BY job_datetime DESC, job_uuid DESC\n"
             "LIMIT :limit{offset};\n")


@pytest.mark.parametrize("offset, sqlite, mssql", [
    (" OFFSET :offset", "LIMIT :limit OFFSET :offset",
     "OFFSET :offset ROWS FETCH NEXT :limit ROWS ONLY"),
    ("", "LIMIT :limit", "OFFSET 0 ROWS FETCH NEXT :limit ROWS ONLY"),
])
def test_a_common_query_is_paged_as_each_dialect_writes_it(tmp_path: Path, offset: str,
                                                          sqlite: str, mssql: str) -> None:
    write(tmp_path / COMMON, "list_jobs", LIST_JOBS.format(offset=offset))
    for dialect, paging in (("sqlite", sqlite), ("mssql", mssql)):
        write(tmp_path / dialect, "get_run", "SELECT run_uuid FROM armada_runs;\n")
        (statement,) = load_queries(dialect, tmp_path)["list_jobs"].statements
        assert statement.endswith("ORDER BY job_datetime DESC, job_uuid DESC\n" + paging)


def test_a_fragment_is_spliced_where_a_query_names_it_on_a_line(tmp_path: Path) -> None:
    write(tmp_path / COMMON, "count_runs", "WITH\n{chosen}\nSELECT COUNT(*) AS total FROM c;\n")
    write(tmp_path / "sqlite", "get_run", "SELECT run_uuid FROM armada_runs LIMIT 1;\n")
    write(tmp_path / "sqlite" / FRAGMENTS, "chosen", "c AS (SELECT run_uuid FROM armada_runs)\n")
    (statement,) = load_queries("sqlite", tmp_path)["count_runs"].statements
    assert statement == ("WITH\nc AS (SELECT run_uuid FROM armada_runs)\n"
                         "SELECT COUNT(*) AS total FROM c")
    assert "chosen" not in load_queries("sqlite", tmp_path)


def test_a_query_naming_a_missing_fragment_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "sqlite", "count_runs", "WITH\n{chosen}\nSELECT COUNT(*) AS total FROM c;\n")
    with pytest.raises(ValueError, match=r"query count_runs uses \{chosen\}: no such fragment"):
        load_queries("sqlite", tmp_path)


def test_a_dialect_without_its_own_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path / COMMON, "count_runs", "SELECT COUNT(*) AS total FROM armada_runs;\n")
    with pytest.raises(FileNotFoundError, match="no SQL files"):
        load_queries("sqlite", tmp_path)


# The statement splitter: a statement ends where its dialect says, not at every `;`


SQLITE_TRIGGER = """CREATE TRIGGER t_insert AFTER INSERT ON t
BEGIN
    INSERT INTO log (what) VALUES ('one;');
    INSERT INTO log (what) VALUES ('two');
END;"""


def test_sqlite_trigger_body_spans_lines_as_one_statement() -> None:
    text = (f"CREATE TABLE t (a);\nCREATE TABLE log (what);\n{SQLITE_TRIGGER}\n"
            "INSERT INTO t VALUES (1);\n")
    statements = split_statements(text, "sqlite")
    assert statements == ("CREATE TABLE t (a)", "CREATE TABLE log (what)", SQLITE_TRIGGER[:-1],
                          "INSERT INTO t VALUES (1)")
    with sqlite3.connect(":memory:") as db:
        for statement in statements:
            db.execute(statement)
        assert db.execute("SELECT what FROM log ORDER BY rowid").fetchall() == [("one;",), ("two",)]


def test_sqlite_semicolon_in_a_string_or_a_comment_ends_nothing() -> None:
    text = "-- a comment;\nINSERT INTO t VALUES ('a;\nb');\nSELECT 1;\n"
    assert split_statements(text, "sqlite") == (
        "-- a comment;\nINSERT INTO t VALUES ('a;\nb')", "SELECT 1")


def test_tsql_semicolon_at_a_line_end_inside_a_string_ends_nothing() -> None:
    text = ("IF OBJECT_ID(N'dbo.t_insert', N'TR') IS NULL\n"
            "    EXEC (N'CREATE TRIGGER dbo.t_insert ON dbo.t AFTER INSERT AS\n"
            "BEGIN\n    SET NOCOUNT ON;\n    UPDATE dbo.log SET n = n + 1;\nEND');\n"
            "SELECT 1;\nSELECT 2;\n")
    first, second, third = split_statements(text, "mssql")
    assert first.startswith("IF OBJECT_ID") and first.endswith("END')")
    assert (second, third) == ("SELECT 1", "SELECT 2")


def test_tsql_go_ends_a_batch_and_a_trigger_runs_to_it() -> None:
    text = ("CREATE TABLE dbo.t (a INT);\nGO\n"
            "CREATE TRIGGER dbo.t_insert ON dbo.t AFTER INSERT AS\nBEGIN\n"
            "    SET NOCOUNT ON;\n    UPDATE dbo.log SET n = n + 1;\nEND;\n  go  \n"
            "SELECT 1;\n")
    assert split_statements(text, "mssql") == (
        "CREATE TABLE dbo.t (a INT)",
        "CREATE TRIGGER dbo.t_insert ON dbo.t AFTER INSERT AS\nBEGIN\n    SET NOCOUNT ON;\n"
        "    UPDATE dbo.log SET n = n + 1;\nEND",
        "SELECT 1")


def test_go_is_no_separator_on_sqlite() -> None:
    assert split_statements("SELECT 1 AS go;\nGO;\n", "sqlite") == ("SELECT 1 AS go", "GO")


# Every statement parses in its own dialect


@pytest.mark.parametrize("statement", statements_of(MSSQL_ALL))
def test_mssql_statement_parses_as_tsql(statement: str) -> None:
    trees = parse(as_tsql_variables(statement), "tsql")
    assert len(trees) == 1, "one statement per `;`-terminated chunk"
    assert fallback_commands(trees[0]) == []


# sqlglot parses neither FTS5 tables with options nor triggers; these run at every start-up
# of the service on SQLite, so every test through it runs them (tests/test_search.py).
SQLITE_BEYOND_SQLGLOT = ("CREATE VIRTUAL TABLE", "CREATE TRIGGER")


@pytest.mark.parametrize("statement", statements_of(SQLITE_ALL))
def test_sqlite_statement_parses_as_sqlite(statement: str) -> None:
    if statement.startswith(SQLITE_BEYOND_SQLGLOT):
        pytest.skip("beyond sqlglot's SQLite parser; run by the service at start-up")
    trees = parse(statement, "sqlite")
    assert len(trees) == 1, "one statement per `;`-terminated chunk"
    assert fallback_commands(trees[0]) == []


def test_sqlite_drops_nothing_but_the_helpers_earlier_versions_kept() -> None:
    # Never Armada data: only the service's own helper table and triggers of earlier versions
    # (the job counts' table, the search index's triggers that indexed row by row, and the
    # event trigger that also brought Lost jobs back).
    drops = [tree for query in SQLITE_ALL.values() for statement in query.statements
             if not statement.startswith(SQLITE_BEYOND_SQLGLOT)
             for tree in parse(statement, "sqlite") if isinstance(tree, exp.Drop)]
    assert sorted((drop.kind, table.name) for drop in drops for table in drop.args["tables"]) == [
        ("TABLE", "armada_job_counts"), ("TRIGGER", "armada_events_search_delete"),
        ("TRIGGER", "armada_events_search_insert"), ("TRIGGER", "armada_events_search_update"),
        ("TRIGGER", "armada_job_activity_event"),
        ("TRIGGER", "armada_job_counts_delete"), ("TRIGGER", "armada_job_counts_insert"),
        ("TRIGGER", "armada_job_counts_update")]


def test_a_statement_sqlglot_does_not_understand_is_reported_as_a_fallback() -> None:
    # Guards the check above: sqlglot keeps what it cannot parse as exp.Command, even inside
    # an IF block that itself parsed, instead of failing.
    (tree,) = parse("IF 1 = 1 ALTER INDEX ALL ON t REBUILD", "tsql")
    assert isinstance(tree, exp.IfBlock)
    assert fallback_commands(tree) == ["ALTER INDEX ALL ON t REBUILD"]


def test_conditional_create_parses_as_an_if_block_around_a_create() -> None:
    statement = MSSQL_ALL["0001_tables"].statements[0]
    tree = parse(statement, "tsql")[0]
    assert isinstance(tree, exp.IfBlock)
    assert tree.find(exp.Create) is not None


# The SQL Server statements say what the issue asks of them


def test_mssql_idempotent_inserts_lock_the_rows_they_check() -> None:
    for name in ("insert_run_if_absent", "insert_job_if_absent", "insert_event_if_absent"):
        (statement,) = MSSQL[name].statements
        assert "WITH (UPDLOCK, HOLDLOCK)" in statement, name
    event_insert = MSSQL["insert_event_if_absent"].statements[0]
    assert event_insert.count("WITH (UPDLOCK, HOLDLOCK)") == 2, "the job row and the event"


def test_mssql_cascade_delete_locks_the_jobs_of_the_run() -> None:
    (statement,) = MSSQL["delete_run_events"].statements
    assert "armada_jobs WITH (UPDLOCK, HOLDLOCK)" in statement


def test_mssql_tables_and_indexes_are_created_only_when_missing() -> None:
    creates = [s for s in MSSQL_ALL["0001_tables"].statements if "CREATE TABLE" in s]
    assert len(creates) == 4, "the version's table and Armada's three"
    for statement in creates:
        assert isinstance(parse(statement, "tsql")[0], exp.IfBlock)
        assert "IF OBJECT_ID(N'dbo.armada_" in statement
    for name in ("0002_indexes", "index_run_uuid", "index_job_uuid", "index_event_uuid"):
        for statement in MSSQL_ALL[name].statements:
            tree = parse(statement, "tsql")[0]
            assert isinstance(tree, exp.IfBlock), name
            assert "FROM sys.indexes" in statement, name
    text = " ".join(s for query in MSSQL_ALL.values() for s in query.statements).upper()
    # Never Armada data: only the event trigger of an earlier version, replaced.
    assert re.findall(r"DROP \w+ [\w.]+", text) == ["DROP TRIGGER DBO.ARMADA_JOB_ACTIVITY_EVENT"]
    assert not re.search(r"ALTER TABLE (DBO\.)?ARMADA_(RUNS|JOBS|EVENTS)\b", text)


INDEX_CHECK = re.compile(r"WHERE object_id = OBJECT_ID\(N'dbo\.(\w+)'\)\s+"
                         r"AND name IN \(N'(\w+)',\s+N'(\w+)'\)\)\s+"
                         r"CREATE INDEX (\w+) ON dbo\.(\w+) ")


def babelfish_index_name(index: str, table: str) -> str:
    """The name Babelfish (4.3) gives an index in sys.indexes: PostgreSQL names indexes per
    schema, so the table's name and a hash join it, and a name over 63 characters is cut to 31
    and the hash of the whole (seen on the engine: docs/sql-server.md)."""
    full = index + table + hashlib.md5(index.encode()).hexdigest()
    return full if len(full) <= 63 else full[:31] + hashlib.md5(full.encode()).hexdigest()


def test_mssql_indexes_are_looked_for_under_their_sql_server_and_babelfish_names() -> None:
    created = [statement for query in MSSQL_ALL.values() for statement in query.statements
               if "CREATE INDEX" in statement]
    assert len(created) == 14
    for statement in created:
        check = INDEX_CHECK.search(statement)
        assert check is not None, statement
        table, name, babelfish_name, index, indexed_table = check.groups()
        assert (name, table) == (index, indexed_table)
        assert babelfish_name == babelfish_index_name(index, table)


# The lost jobs' triggers on SQL Server (migration 0005_job_activity): each CREATE TRIGGER is
# the text of an EXEC (N'...'), which sqlglot reads as an alias named EXEC and a string, so the
# check above says nothing of it. Here the text is taken out of the string, its head matched, and
# each statement of its body (one begins on a line indented by four spaces) parsed as T-SQL.
TRIGGER_EXEC = re.compile(r"IF OBJECT_ID\(N'(dbo\.\w+)', N'TR'\) IS NULL\s+"
                          r"EXEC \(N'((?:[^']|'')*)'\)\Z")
TRIGGER = re.compile(r"CREATE TRIGGER (dbo\.\w+) ON (dbo\.\w+) AFTER ([A-Z, ]+) AS\n"
                     r"(?:IF UPDATE\(job_status\)\n)?BEGIN\n(.*)\nEND", re.DOTALL)
TRIGGER_STATEMENT_START = re.compile(r"\n(?=    (?:SET|DECLARE|DELETE|UPDATE|INSERT) )")


def mssql_triggers() -> dict[str, tuple[str, str, str]]:
    """Each trigger 0005_job_activity creates: name -> (table, events, body)."""
    triggers = {}
    for statement in MSSQL_ALL["0005_job_activity"].statements:
        created = TRIGGER_EXEC.search(statement)
        if created is not None:
            name, text = created.group(1), created.group(2).replace("''", "'")
            header = TRIGGER.fullmatch(text)
            assert header is not None, text
            assert header.group(1) == name, "the trigger looked for is the one created"
            triggers[name] = header.group(2, 3, 4)
    return triggers


def trigger_statements(body: str) -> list[exp.Expression]:
    """The body's statements, each parsed as T-SQL: one tree each, nothing left opaque."""
    trees = []
    for statement in TRIGGER_STATEMENT_START.split(body):
        (tree,) = parse(statement, "tsql")
        assert fallback_commands(tree) == [], statement
        trees.append(tree)
    return trees


def test_mssql_keeps_job_activity_by_triggers_each_created_only_when_missing() -> None:
    triggers = mssql_triggers()
    assert {name: (table, events) for name, (table, events, _) in triggers.items()} == {
        "dbo.armada_job_activity_job_status": ("dbo.armada_jobs", "INSERT, UPDATE"),
        "dbo.armada_job_activity_job_delete": ("dbo.armada_jobs", "DELETE"),
        "dbo.armada_job_activity_report": ("dbo.armada_events", "INSERT"),
    }
    # Every EXEC of the file is one of them.
    text = "\n".join(MSSQL_ALL["0005_job_activity"].statements)
    assert text.count("EXEC (") == len(triggers)


def written_table(tree: exp.Expression) -> str:
    """The table an INSERT, UPDATE or DELETE writes (`UPDATE alias ... FROM table AS alias`)."""
    if isinstance(tree, exp.Insert):
        return tree.this.find(exp.Table).name
    return tree.args["from_"].this.name if tree.args.get("from_") else tree.this.name


@pytest.mark.parametrize("name", sorted(mssql_triggers()))
def test_mssql_trigger_body_parses_as_tsql_statement_by_statement(name: str) -> None:
    _, _, body = mssql_triggers()[name]
    trees = trigger_statements(body)
    # First: the counts the service reads after its own INSERT or UPDATE stay that statement's.
    assert trees[0].sql("tsql") == "SET NOCOUNT ON"
    written = {written_table(tree) for tree in trees
               if isinstance(tree, exp.Insert | exp.Update | exp.Delete)}
    assert written == {"armada_job_activity"}


def test_mssql_event_trigger_moves_the_report_at_most_every_tenth_of_a_second() -> None:
    _, _, body = mssql_triggers()["dbo.armada_job_activity_report"]
    (move,) = [tree for tree in trigger_statements(body) if isinstance(tree, exp.Update)
               and written_table(tree) == "armada_job_activity"]
    assert "activity.last_report < DATEADD(MILLISECOND, -100, @now)" in move.sql("tsql")


def test_a_trigger_body_that_does_not_parse_fails_the_check() -> None:
    # Guards the checks above: a statement cut short, as a stray `;` line end would cut it.
    with pytest.raises(sqlglot.ParseError):
        trigger_statements("    SET NOCOUNT ON\n    UPDATE activity SET last_report =")


ID_COLLATION = "Latin1_General_100_BIN2"
ID_COLUMNS = {"armada_runs": {"run_uuid"}, "armada_jobs": {"job_uuid", "run_uuid"},
              "armada_events": {"event_uuid", "job_uuid"}}


def column_collations(statements: list[str]) -> dict[str, dict[str, str | None]]:
    """Table -> column -> the COLLATE it declares (None: the database's default)."""
    tables: dict[str, dict[str, str | None]] = {}
    for statement in statements:
        for create in parse(statement, "tsql")[0].find_all(exp.Create):
            columns = tables.setdefault(create.this.this.name, {})
            for column in create.this.find_all(exp.ColumnDef):
                collate = next((c.kind.this.name for c in column.constraints
                                if isinstance(c.kind, exp.CollateColumnConstraint)), None)
                columns[column.name] = collate
    return tables


def test_fresh_mssql_tables_compare_every_id_byte_for_byte() -> None:
    # SQL Server's default collations ignore case; SQLite compares ids exactly.
    tables = column_collations(MSSQL_ALL["0001_tables"].statements)
    assert tables.pop("armada_schema_version") == {"version": None}

    assert tables.keys() == ID_COLUMNS.keys()
    for table, columns in tables.items():
        ids = {name for name in columns if name.endswith("_uuid")}
        assert ids == ID_COLUMNS[table], table
        for name, collation in columns.items():
            assert collation == (ID_COLLATION if name in ids else None), (table, name)


def test_a_column_without_collate_is_seen_as_the_database_default() -> None:
    # Guards the check above: a table as it was before ids were binary.
    legacy = ("IF OBJECT_ID(N'dbo.armada_runs', N'U') IS NULL CREATE TABLE dbo.armada_runs "
              "(run_uuid NVARCHAR(255) NOT NULL, run_datetime DATETIME2(3) NOT NULL)")
    assert column_collations([legacy]) == {
        "armada_runs": {"run_uuid": None, "run_datetime": None}}


def test_mssql_paging_uses_offset_fetch_and_lookups_use_top_1() -> None:
    for name in ("list_runs", "list_jobs", "list_jobs_of_run"):
        (statement,) = MSSQL[name].statements
        assert "OFFSET :offset ROWS FETCH NEXT :limit ROWS ONLY" in statement, name
    for name in ("get_run", "get_job", "get_event"):
        (statement,) = MSSQL[name].statements
        assert statement.startswith("SELECT TOP (1) "), name


@pytest.mark.parametrize("name", sorted(n for n in SQLITE if n.startswith("list_")))
def test_lists_are_ordered_the_same_in_both_dialects(name: str) -> None:
    def ordering(query: Query, dialect: str) -> list[str]:
        (statement,) = query.statements
        tree = parse(as_tsql_variables(statement), dialect)[0]
        return [order.sql() for order in tree.args["order"].expressions]

    assert ordering(MSSQL[name], "tsql") == ordering(SQLITE[name], "sqlite")


@pytest.mark.parametrize("name", ["list_runs", "list_runs_between", "get_run_with_summary"])
def test_run_summaries_count_the_jobs_the_same_way_in_both_dialects(name: str) -> None:
    def selects(query: Query, dialect: str) -> list[exp.Expression]:
        (statement,) = query.statements
        tree = parse(as_tsql_variables(statement), dialect)[0]
        assert [select.sql() for select in tree.selects] == ["*"]
        (summary,) = [cte for cte in tree.find_all(exp.CTE) if cte.alias == "run_summary"]
        return summary.this.selects

    mssql, sqlite = selects(MSSQL[name], "tsql"), selects(SQLITE[name], "sqlite")
    assert [column.sql() for column in mssql] == [column.sql() for column in sqlite]
    assert [column.alias_or_name for column in sqlite] == [
        "run_uuid", "run_datetime", "jobs_total", "jobs_running", "jobs_success", "jobs_failed",
        "jobs_pending", "jobs_cancelled", "jobs_lost", "run_status", "first_report_datetime",
        "last_report_datetime"]


def test_mssql_schema_state_answers_the_columns_the_sqlite_one_does() -> None:
    def columns(tree: exp.Expression) -> list[str]:
        return [select.alias_or_name for select in tree.selects]

    (mssql,) = MSSQL["schema_state"].statements
    (sqlite,) = SQLITE["schema_state"].statements
    names = columns(parse(sqlite, "sqlite")[0])
    assert names == ["version", "table_name", "column_name", "max_length", "is_key"]
    tree = parse(mssql, "tsql")[0]
    for branch in ("true", "false"):  # no version's table yet; the version and the columns
        assert columns(tree.args[branch].find(exp.Select)) == names, branch


# MssqlDialect.prepare writes parameters the way pytds reads them


def test_prepare_writes_each_parameter_in_pytds_form() -> None:
    prepared = mssql_dialect().prepare(
        "SELECT 1 FROM t WHERE a = :run_uuid AND b = :run_uuid AND c = :page_size")
    assert prepared == (
        "SELECT 1 FROM t WHERE a = %(run_uuid)s AND b = %(run_uuid)s AND c = %(page_size)s")


def test_prepare_doubles_a_literal_percent_sign() -> None:
    prepared = mssql_dialect().prepare("SELECT 1 FROM t WHERE a LIKE '50%' AND b = :b")
    assert prepared == "SELECT 1 FROM t WHERE a LIKE '50%%' AND b = %(b)s"
    # pytds formats the statement with the parameter dict, which undoes the doubling.
    assert prepared % {"b": "@P1"} == "SELECT 1 FROM t WHERE a LIKE '50%' AND b = @P1"


def test_prepare_leaves_string_literals_and_casts_without_parameters_alone() -> None:
    statement = "SELECT CAST(x AS INT), N'a::b' FROM t"
    assert mssql_dialect().prepare(statement) == statement


@pytest.mark.parametrize("name", sorted(MSSQL_ALL))
def test_prepared_mssql_query_references_only_its_own_parameters(name: str) -> None:
    # Comments stay in the statements: a `:word` in one would become a parameter pytds lacks.
    query = MSSQL_ALL[name]
    dialect = mssql_dialect()
    for statement in query.statements:
        prepared = dialect.prepare(statement)
        assert set(PYTDS_PARAMETER.findall(prepared)) <= query.parameters
        assert "%(" not in prepared % {parameter: "@P" for parameter in query.parameters}
