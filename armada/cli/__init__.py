"""The `armada` command (or `python -m armada`), one module a subcommand: `serve` reads the
configuration once and serves; `purge` runs retention once; `tail` prints the live stream;
`export`, `import` move a run between instances; `alerts test` tries the alerts' targets.
Each command parses its own arguments (`armada COMMAND --help` describes them) and leaves
the work to its module (armada.serving, armada.retention, armada.remote, armada.alerts); a
bare `armada` prints the help."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Callable

from armada.cli import alerts, purge, serve, tail, transfer

PROG = "armada"
DISTRIBUTION = "armada-backend"
# Each command: its line in the help, and what runs it with the arguments after its name.
COMMANDS: dict[str, tuple[str, Callable[[list[str]], int]]] = {
    "serve": (serve.SUMMARY, serve.main),
    "purge": (purge.SUMMARY, purge.main),
    "tail": (tail.SUMMARY, tail.main),
    "export": (transfer.EXPORT_SUMMARY, transfer.export_main),
    "import": (transfer.IMPORT_SUMMARY, transfer.import_main),
    "alerts": (alerts.SUMMARY, alerts.main),
}


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
    for name, (summary, _run) in COMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    command = argv[0] if argv else None
    if command in COMMANDS:
        _summary, run = COMMANDS[command]
        return run(argv[1:])
    parser = command_parser()
    if command is None:
        parser.print_help()
        return 0
    parser.parse_args(argv)  # --help, --version or a usage error: each exits
    return 2
