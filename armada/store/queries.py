"""Named queries: one `.sql` file per query, parameters written `:name`.

A query whose text is the same on both databases is written once, in `sql/common/`; the
others are written in `sql/<dialect>/`, under the same name in each dialect. A dialect's
queries are those two folders together, and a name may be in only one of them.

Two things are written once and put in place when the queries are loaded:
- A fragment, `sql/<dialect>/fragments/NAME.sql`, stands for a line `{NAME}` in a query (the run
  summary: `run_summary.sql`). Each dialect has the same fragments.
- Paging in `sql/common/` is written `LIMIT :rows` or `LIMIT :rows OFFSET :skip`, after the
  ORDER BY it pages; SQL Server reads it as `OFFSET :skip ROWS FETCH NEXT :rows ROWS ONLY`
  (`OFFSET 0 ROWS` without :skip). So a query whose dialects differ only in paging is one file.

The files are written in `sql/` at the top of the repository; a wheel ships them inside the
package as `armada/sql/` (setup.cfg maps one onto the other).

Statements (split_statements): on SQLite, a `;` at the end of a line ends the statement when
what comes before it is a whole statement (sqlite3.complete_statement), so a trigger's body
`BEGIN ...; ...; END;` spans lines; on SQL Server, a `;` at the end of a line outside a
string or comment, or a line `GO`; a CREATE of a trigger, procedure, function or view runs to
the next `GO` (SQL Server wants each alone in its batch).

Migrations (the schema's versions) are `sql/<dialect>/migrations/NNNN_name.sql`, the same
numbers and names in both dialects: armada/store/migrations.py.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

PACKAGED_SQL = Path(__file__).resolve().parents[1] / "sql"  # installed from a wheel
CHECKOUT_SQL = Path(__file__).resolve().parents[2] / "sql"  # a checkout, editable install
SQL_ROOT = PACKAGED_SQL if PACKAGED_SQL.is_dir() else CHECKOUT_SQL
COMMON = "common"
FRAGMENTS = "fragments"

PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
COMMENT = re.compile(r"--[^\n]*")
FRAGMENT = re.compile(r"^\{(\w+)\}$", re.MULTILINE)
LIMIT = re.compile(r"\bLIMIT (:\w+)(?: OFFSET (:\w+))?")
LINE_END = re.compile(r";[ \t]*$")
GO = re.compile(r"[ \t]*GO[ \t]*", re.IGNORECASE)
# T-SQL objects whose body is the rest of their batch: they end at `GO` only.
WHOLE_BATCH = re.compile(r"\s*CREATE\s+(OR\s+ALTER\s+)?(TRIGGER|PROC|PROCEDURE|FUNCTION|VIEW)\b",
                         re.IGNORECASE)
# What T-SQL text a `;` inside does not end: a string, a quoted name, a comment.
TSQL_SKIPPED = re.compile(r"N?'(?:[^']|'')*'?|\[[^\]]*\]?|\"[^\"]*\"?|--[^\n]*|/\*.*?(?:\*/|$)",
                          re.DOTALL)


@dataclass(frozen=True)
class Query:
    name: str
    statements: tuple[str, ...]
    parameters: frozenset[str]


def split_statements(text: str, dialect: str) -> tuple[str, ...]:
    """The statements of a file, each without its end (`;` kept inside, `GO` dropped)."""
    statements: list[str] = []
    lines: list[str] = []

    def end() -> None:
        statement = "\n".join(lines).strip()
        lines.clear()
        if COMMENT.sub("", statement).strip():
            statements.append(LINE_END.sub("", statement).rstrip())

    for line in text.splitlines():
        if dialect != "sqlite" and GO.fullmatch(line):
            end()
            continue
        lines.append(line)
        if LINE_END.search(line) and _ends_statement("\n".join(lines), dialect):
            end()
    end()
    return tuple(statements)


def _ends_statement(text: str, dialect: str) -> bool:
    """Whether `text`, which ends with `;`, is a whole statement."""
    if dialect == "sqlite":
        return sqlite3.complete_statement(text)
    if WHOLE_BATCH.match(COMMENT.sub("", text)):
        return False
    return LINE_END.search(TSQL_SKIPPED.sub(" ", text)) is not None


def parse_query(name: str, text: str, dialect: str) -> Query:
    """Split a file into its statements."""
    statements = split_statements(text, dialect)
    if not statements:
        raise ValueError(f"query {name} has no statement")
    return Query(name=name, statements=statements, parameters=parse_parameters(text))


def parse_parameters(text: str) -> frozenset[str]:
    return frozenset(PARAMETER.findall(COMMENT.sub("", text)))


def load_queries(dialect: str, root: Path = SQL_ROOT) -> dict[str, Query]:
    """The dialect's queries: those of `common/` and those of its own folder."""
    common = read_texts(root / COMMON)
    own = read_texts(root / dialect)
    if not own:
        raise FileNotFoundError(f"no SQL files in {root / dialect}")
    twice = sorted(common.keys() & own.keys())
    if twice:
        raise ValueError(f"queries in both {COMMON}/ and {dialect}/: {', '.join(twice)}")
    fragments = read_texts(root / dialect / FRAGMENTS)
    texts = {**{name: paged(dialect, text) for name, text in common.items()}, **own}
    return {name: parse_query(name, spliced(name, text, fragments), dialect)
            for name, text in texts.items()}


def read_texts(folder: Path) -> dict[str, str]:
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.sql"))}


def spliced(name: str, text: str, fragments: dict[str, str]) -> str:
    """The query with each line `{fragment}` replaced by the fragment's text."""
    def fragment(match: re.Match[str]) -> str:
        if match.group(1) not in fragments:
            raise ValueError(f"query {name} uses {{{match.group(1)}}}: no such fragment")
        return fragments[match.group(1)].strip()
    return FRAGMENT.sub(fragment, text)


def paged(dialect: str, text: str) -> str:
    """A common query's `LIMIT :rows [OFFSET :skip]` as the dialect writes it."""
    if dialect != "mssql":
        return text
    return LIMIT.sub(lambda match: f"OFFSET {match.group(2) or 0} ROWS "
                                   f"FETCH NEXT {match.group(1)} ROWS ONLY", text)
