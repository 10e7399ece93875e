"""The `armada` command (or `python -m armada`), one module a subcommand: `serve` reads the
configuration once and serves; `purge` runs retention once; `tail` prints the live stream;
`export`, `import` move a run between instances; `alerts test` tries the alerts' targets.
Each command parses its own arguments (`armada COMMAND --help` describes them) and leaves
the work to its module (armada.serving, armada.retention, armada.remote, armada.alerts); a
bare `armada` prints the help."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

PROG = "armada"
DISTRIBUTION = "armada-backend"


class Command(NamedTuple):
    """A command's module in armada.cli, and the names there of the function that runs it
    (with the arguments after its name) and of its line in the help."""

    module: str
    run: str = "main"
    summary: str = "SUMMARY"


# Only the module of the command that runs is imported (`armada tail` loads no server).
COMMANDS: dict[str, Command] = {
    "serve": Command("serve"),
    "purge": Command("purge"),
    "tail": Command("tail"),
    "export": Command("transfer", "export_main", "EXPORT_SUMMARY"),
    "import": Command("transfer", "import_main", "IMPORT_SUMMARY"),
    "alerts": Command("alerts"),
}


def of_command(name: str, attribute: str) -> Any:
    return getattr(importlib.import_module(f"armada.cli.{COMMANDS[name].module}"), attribute)


def version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Armada Backend: the tracking service of the Armada platform.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.")
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMANDS:
        commands.add_parser(name, help=of_command(name, COMMANDS[name].summary),
                            add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    command = argv[0] if argv else None
    if command in COMMANDS:
        run: Callable[[list[str]], int] = of_command(command, COMMANDS[command].run)
        return run(argv[1:])
    parser = command_parser()
    if command is None:
        parser.print_help()
        return 0
    parser.parse_args(argv)  # --help, --version or a usage error: each exits
    return 2
