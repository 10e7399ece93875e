"""The `armada` command (`python -m armada`), run as a process: its help, its version, and
`serve`'s options over the environment."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from server_process import START_TIMEOUT, free_port, service_environment

from armada.cli import COMMANDS

COMMAND_TIMEOUT = 30.0


def armada(cwd: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "armada", *args], cwd=cwd,
                          env=service_environment(**variables), capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT)


def test_version_prints_the_version_and_exits_0(tmp_path: Path):
    result = armada(tmp_path, "--version")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"armada {importlib.metadata.version('armada-backend')}"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_prints_its_help_naming_armada_and_exits_0(tmp_path: Path,
                                                                 command: str | None):
    result = armada(tmp_path, *filter(None, [command]), "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {' '.join(filter(None, ['armada', command]))} ")
    assert "python -m" not in result.stdout
    assert result.stderr == ""


def test_the_help_lists_every_command(tmp_path: Path):
    listed = armada(tmp_path, "--help").stdout
    assert all(f"    {command}  " in listed for command in COMMANDS), listed


@pytest.mark.slow
def test_a_bare_armada_prints_the_help_and_starts_no_server_nor_a_database(tmp_path: Path):
    result = armada(tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == armada(tmp_path, "--help").stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["bogus"], ["serve", "extra"], ["serve", "--nope"]])
def test_an_unknown_command_or_argument_is_a_usage_error(tmp_path: Path, args: list[str]):
    result = armada(tmp_path, *args)

    assert result.returncode == 2
    assert result.stderr.startswith("usage: armada")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.external
def test_serve_takes_host_port_and_db_over_the_environment(tmp_path: Path):
    port = free_port()
    database = tmp_path / "chosen.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "armada", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--db", str(database)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=service_environment(ARMADA_HOST="0.0.0.0", ARMADA_PORT=str(free_port()),
                                ARMADA_DB_PATH=str(tmp_path / "environment.db"),
                                ARMADA_LOG_LEVEL="WARNING", SQL_SERVER_NAME="db.example.com"))
    try:
        runs = _answer(f"http://127.0.0.1:{port}/api/runs/", process)
    finally:
        process.terminate()
        process.wait(timeout=START_TIMEOUT)

    assert runs["total"] == 0
    assert database.exists()
    assert not (tmp_path / "environment.db").exists()


def _answer(url: str, process: subprocess.Popen[bytes]) -> dict:
    """The JSON at `url` once the service answers there; fails if it exits or never answers."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the service exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return json.load(response)
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answered on {url} within {START_TIMEOUT} s")


@pytest.mark.external
@pytest.mark.parametrize("option, value, named", [
    ("--port", "eighty", "--port: 'eighty' is not a whole number"),
    ("--port", "70000", "--port: "),
    ("--db", "/no/such/folder/armada.db", "--db: "),
])
def test_a_bad_serve_option_is_one_line_naming_the_option_exit_2(tmp_path: Path, option: str,
                                                                  value: str, named: str):
    result = armada(tmp_path, "serve", option, value)

    assert result.returncode == 2
    assert result.stderr.startswith(f"armada: configuration error: {named}"), result.stderr
    assert len(result.stderr.splitlines()) == 1


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.slow
def test_export_and_import_that_cannot_reach_the_service_say_so_in_a_few_words(tmp_path: Path):
    url = closed_port_url()
    export = tmp_path / "run.ndjson"
    export.write_text('{"kind": "run", "run_uuid": "r", "run_datetime": "2026-02-24T10:00"}\n'
                      '{"kind": "end", "runs": 1, "jobs": 0, "events": 0}\n')

    for command, args in (("export", ["run-1"]), ("import", [str(export)])):
        result = armada(tmp_path, command, *args, "--url", url)

        assert result.returncode == 2
        assert result.stderr == f"armada {command}: cannot reach {url}: connection refused\n"


def test_tail_that_cannot_reach_the_service_says_so_in_a_few_words_and_retries(tmp_path: Path):
    url = closed_port_url()
    tail = subprocess.Popen([sys.executable, "-m", "armada", "tail", "--url", url],
                            cwd=tmp_path, env=service_environment(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert tail.stderr is not None
        line = tail.stderr.readline()
    finally:
        tail.terminate()
        tail.wait(timeout=COMMAND_TIMEOUT)
        if tail.stderr is not None:
            tail.stderr.close()

    assert line == (f"-- disconnected (cannot reach {url}: connection refused); reconnecting "
                    "in 0.2 s\n")
