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
from typing import NamedTuple

PROG = "armada"
DISTRIBUTION = "armada-backend"


class Command(NamedTuple):
    """A command's line in the help, its module in armada.cli, and the name there of the
    function that runs it (with the arguments after its name)."""

    summary: str
    module: str
    run: str = "main"


# Only the module of the command that runs is imported (`armada tail` loads no server, and
# the help none).
COMMANDS: dict[str, Command] = {
    "serve": Command("serve the API, the WebSocket and the live page (configured by ARMADA_*"
                     " variables; see docs/configuration.md)", "serve"),
    "purge": Command("delete runs older than an age, with their jobs and events, once",
                     "purge"),
    "tail": Command("print the live stream of a running service, one line a message", "tail"),
    "export": Command("write a run, its jobs and events to stdout (NDJSON or CSV)", "transfer",
                      "export_main"),
    "import": Command("load an NDJSON export into a running service", "transfer",
                      "import_main"),
    "alerts": Command("alerts of ARMADA_ALERTS_FILE: `alerts test` sends a sample to each "
                      "target", "alerts"),
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
    for name in COMMANDS:
        commands.add_parser(name, help=COMMANDS[name].summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    command = argv[0] if argv else None
    if command in COMMANDS:
        module = importlib.import_module(f"armada.cli.{COMMANDS[command].module}")
        run: Callable[[list[str]], int] = getattr(module, COMMANDS[command].run)
        return run(argv[1:])
    parser = command_parser()
    if command is None:
        parser.print_help()
        return 0
    parser.parse_args(argv)  # --help, --version or a usage error: each exits
    return 2
