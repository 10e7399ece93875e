"""An ordinary install: the wheel built from this checkout, installed into a clean venv outside
it, serves through its `armada` console script, with the SQL it ships (no import of the checkout).

The clean venv installs the pinned dependencies from the package index (pip's cache helps).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import RUN
from server_process import START_TIMEOUT, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT = 600.0
# Its tests share the module's wheel and venv (one worker); pip may take long.
pytestmark = [pytest.mark.xdist_group("packaging"), pytest.mark.timeout(INSTALL_TIMEOUT)]
# Left out of the copy that the wheel is built from: local state, not the project.
NOT_THE_PROJECT = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".ruff_cache", ".hypothesis", "*.db", "*.db-*", ".env",
)


def clean_environment(**variables: str) -> dict[str, str]:
    """This environment without Python, virtualenv, Armada or SQL Server settings: nothing
    points back at the checkout."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("ARMADA_", "SQL_SERVER_", "PYTHON")) and key != "VIRTUAL_ENV"
    }
    env.update(variables)
    return env


def run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, env=clean_environment(), capture_output=True,
                            text=True, timeout=INSTALL_TIMEOUT)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` of the checkout, from a copy (a build writes build/ and
    *.egg-info next to the sources, and others may be building from the checkout)."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(REPO_ROOT, source, ignore=NOT_THE_PROJECT)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--wheel-dir", str(base / "wheels"), str(source)], cwd=base)
    (built,) = (base / "wheels").glob("armada_backend-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv outside the checkout with the wheel (and its pinned dependencies) in it."""
    base = tmp_path_factory.mktemp("venv")
    home = base / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(home)], cwd=base)
    run([sys.executable, "-m", "pip", "--python", str(home / "bin" / "python"), "install",
         "--quiet", str(wheel)], cwd=base)
    return home


@pytest.mark.slow
def test_the_wheel_ships_the_sql_inside_the_package_and_every_module(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = (name for name in names if name.endswith(".dist-info/entry_points.txt"))
        console_scripts = archive.read(entry_points).decode()

    sql = {f"armada/sql/{path.relative_to(REPO_ROOT / 'sql').as_posix()}"
           for path in (REPO_ROOT / "sql").rglob("*.sql")}
    modules = {path.relative_to(REPO_ROOT).as_posix() for path in
               (REPO_ROOT / "armada").rglob("*.py")}
    assert {"armada/sql/sqlite/migrations/0001_tables.sql",
            "armada/sql/mssql/migrations/0001_tables.sql"} <= sql
    assert sql <= names
    assert modules <= names
    assert not {name for name in names if name.startswith(("sql/", "tests/"))}
    assert "armada = armada.cli:main" in console_scripts


@pytest.mark.slow
@pytest.mark.external
def test_the_console_script_of_a_clean_venv_serves_a_post_and_a_get(venv: Path, tmp_path: Path):
    imported_from = run([str(venv / "bin" / "python"), "-c",
                         "import armada; print(armada.__file__)"], cwd=tmp_path)
    assert Path(imported_from.strip()).is_relative_to(venv)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with served(venv / "bin" / "armada", tmp_path, clean_environment(
            ARMADA_DB_PATH=str(tmp_path / "armada.db"), ARMADA_HOST="127.0.0.1",
            ARMADA_PORT=str(port))) as process:
        wait_until_answering(process, url)

        created_status, created = request("POST", f"{url}/api/runs/", RUN)
        read_status, read = request("GET", f"{url}/api/runs/{RUN['run_uuid']}/")

        assert created_status == 201, created
        assert read_status == 200, read
        assert read["run_uuid"] == created["run_uuid"] == RUN["run_uuid"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=START_TIMEOUT) == 0


@contextmanager
def served(script: Path, cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`<script> serve` in `cwd`, killed on the way out if it is still running."""
    process = subprocess.Popen([str(script), "serve"], cwd=cwd, env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def wait_until_answering(process: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"armada serve exited with {process.returncode}: {stderr}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    raise AssertionError(f"armada serve did not answer on {url} within {START_TIMEOUT}s")


def request(method: str, url: str, body: dict[str, str] | None = None
            ) -> tuple[int, dict[str, object]]:
    data = None if body is None else json.dumps(body).encode()
    prepared = urllib.request.Request(url, data=data, method=method,
                                      headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(prepared, timeout=START_TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())

