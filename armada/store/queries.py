"""Named queries: one `.sql` file per query, parameters written `:name`.

A query whose text is the same on both databases is written once, in `sql/common/`; the
others are written in `sql/<dialect>/`, under the same name in each dialect. A dialect's
queries are those two folders together, and a name may be in only one of them.

The files are written in `sql/` at the top of the repository; a wheel ships them inside the
package as `armada/sql/` (setup.cfg maps one onto the other).

A statement ends with `;` at the end of a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PACKAGED_SQL = Path(__file__).resolve().parents[1] / "sql"  # installed from a wheel
CHECKOUT_SQL = Path(__file__).resolve().parents[2] / "sql"  # a checkout, editable install
SQL_ROOT = PACKAGED_SQL if PACKAGED_SQL.is_dir() else CHECKOUT_SQL
COMMON = "common"

PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)
COMMENT = re.compile(r"--[^\n]*")


@dataclass(frozen=True)
class Query:
    name: str
    statements: tuple[str, ...]
    parameters: frozenset[str]


def parse_query(name: str, text: str) -> Query:
    """Split a file into its statements."""
    statements = tuple(
        chunk.strip() for chunk in STATEMENT_END.split(text) if COMMENT.sub("", chunk).strip()
    )
    if not statements:
        raise ValueError(f"query {name} has no statement")
    parameters = frozenset(PARAMETER.findall(COMMENT.sub("", text)))
    return Query(name=name, statements=statements, parameters=parameters)


def load_queries(dialect: str, root: Path = SQL_ROOT) -> dict[str, Query]:
    """The dialect's queries: those of `common/` and those of its own folder."""
    common = read_folder(root / COMMON)
    own = read_folder(root / dialect)
    if not own:
        raise FileNotFoundError(f"no SQL files in {root / dialect}")
    twice = sorted(common.keys() & own.keys())
    if twice:
        raise ValueError(f"queries in both {COMMON}/ and {dialect}/: {', '.join(twice)}")
    return {**common, **own}


def read_folder(folder: Path) -> dict[str, Query]:
    return {
        path.stem: parse_query(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.sql"))
    }
