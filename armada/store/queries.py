"""Named queries: one `.sql` file per query under `sql/<dialect>/`, parameters written `:name`.

The files are written in `sql/` at the top of the repository; a wheel ships them inside the
package as `armada/sql/` (setup.cfg maps one onto the other).

A statement ends with `;` at the end of a line; a `CREATE TRIGGER` statement runs on to its
`END;` (its body's statements end with `;` too, and no body statement may end in `END`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PACKAGED_SQL = Path(__file__).resolve().parents[1] / "sql"  # installed from a wheel
CHECKOUT_SQL = Path(__file__).resolve().parents[2] / "sql"  # a checkout, editable install
SQL_ROOT = PACKAGED_SQL if PACKAGED_SQL.is_dir() else CHECKOUT_SQL

PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)
COMMENT = re.compile(r"--[^\n]*")
TRIGGER_START = re.compile(r"CREATE\s+TRIGGER\b", re.IGNORECASE)
TRIGGER_END = re.compile(r"\bEND$", re.IGNORECASE)


@dataclass(frozen=True)
class Query:
    name: str
    statements: tuple[str, ...]
    parameters: frozenset[str]


def parse_query(name: str, text: str) -> Query:
    """Split a file into its statements."""
    statements: list[str] = []
    trigger: list[str] = []
    for chunk in STATEMENT_END.split(text):
        code = COMMENT.sub("", chunk).strip()
        if not code:
            continue
        if trigger or TRIGGER_START.match(code):
            trigger.append(chunk)
            if TRIGGER_END.search(code):
                statements.append(";".join(trigger).strip())
                trigger = []
            continue
        statements.append(chunk.strip())
    if trigger:
        raise ValueError(f"query {name}: a CREATE TRIGGER without its END;")
    if not statements:
        raise ValueError(f"query {name} has no statement")
    parameters = frozenset(PARAMETER.findall(COMMENT.sub("", text)))
    return Query(name=name, statements=tuple(statements), parameters=parameters)


def load_queries(dialect: str, root: Path = SQL_ROOT) -> dict[str, Query]:
    folder = root / dialect
    queries = {
        path.stem: parse_query(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.sql"))
    }
    if not queries:
        raise FileNotFoundError(f"no SQL files in {folder}")
    return queries
