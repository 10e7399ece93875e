"""Specification of the documentation: the README is a short door, every setting the code reads
is on the configuration page, the CLI reference is the command's own help, and no relative
link leads nowhere."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
PAGES = [README, REPO_ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]
README_MOST_LINES = 200

FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def load_gen_cli():
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def variables_read_by_the_configuration() -> set[str]:
    """Every ARMADA_* and SQL_SERVER_* name written in armada/config.py."""
    source = ast.parse((REPO_ROOT / "armada" / "config.py").read_text())
    return {node.value for node in ast.walk(source)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and re.fullmatch(r"(ARMADA|SQL_SERVER)_[A-Z_]*[A-Z]", node.value)}


def documented_variables(page: str) -> set[str]:
    """The names in the first cell of each table row of a configuration page."""
    cells = re.findall(r"^\| ([^|]*) \|", page, re.MULTILINE)
    return {name for cell in cells for name in re.findall(r"`([A-Z][A-Z_]*)`", cell)}


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, code marks and punctuation dropped, spaces
    to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(page: Path) -> list[str]:
    text = INLINE_CODE.sub("", FENCE.sub("", page.read_text()))
    return [target for target in LINK.findall(text)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def test_the_readme_is_a_short_door():
    lines = README.read_text().splitlines()

    assert len(lines) <= README_MOST_LINES, f"README.md has {len(lines)} lines"


def test_every_variable_the_configuration_reads_is_on_the_configuration_page():
    read = variables_read_by_the_configuration()

    assert "ARMADA_PORT" in read and "SQL_SERVER_NAME" in read  # the parse finds them
    assert read - documented_variables((DOCS / "configuration.md").read_text()) == set()


def test_every_setting_on_the_configuration_page_is_one_the_service_reads():
    page = (DOCS / "configuration.md").read_text()
    service_table = page.partition("## The service")[2].partition("\n## ")[0]

    assert service_table.strip()
    assert documented_variables(service_table) - variables_read_by_the_configuration() == set()


def test_a_setting_whose_row_is_taken_from_the_page_is_missing():
    page = (DOCS / "configuration.md").read_text()
    without = re.sub(r"^\| `ARMADA_JOB_STALE_AFTER` \|.*\n", "", page, flags=re.MULTILINE)

    assert variables_read_by_the_configuration() - documented_variables(without) == {
        "ARMADA_JOB_STALE_AFTER"}


def test_the_cli_reference_is_what_the_command_prints_for_help():
    gen_cli = load_gen_cli()

    assert (DOCS / "cli.md").read_text() == gen_cli.render(), (
        "docs/cli.md is out of date: run python docs/gen_cli.py")


def test_the_cli_reference_finds_the_commands_in_the_help_itself():
    gen_cli = load_gen_cli()
    listed = gen_cli.subcommands(gen_cli.help_text([]))

    assert {"serve", "tail", "purge", "export", "import"} <= set(listed)
    assert all(f"## `armada {name}`" in (DOCS / "cli.md").read_text() for name in listed)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO_ROOT)))
def test_every_relative_link_leads_to_a_file_and_its_heading(page: Path):
    broken = []
    for target in relative_links(page):
        path_text, _, anchor = target.partition("#")
        path = (page.parent / path_text).resolve() if path_text else page
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(target)

    assert broken == []


def test_the_link_check_sees_a_missing_file_and_a_missing_heading(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Here\n\n[ok](#here) [gone](nowhere.md) [lost](#elsewhere) `[code](x.md)`\n"
                    "[web](https://example.com)\n")

    assert relative_links(page) == ["#here", "nowhere.md", "#elsewhere"]
    assert anchors(page) == {"here"}
