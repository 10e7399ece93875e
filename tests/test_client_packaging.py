"""The agents' client as agents get it: the `armada-client` wheel built from client/, installed
with no dependency into a clean venv of the oldest Python it supports (3.9, where the machine
has one), reporting to a real `armada serve` without any of the service's code.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest
from server_process import REPO_ROOT, ServiceProcess

CLIENT_ROOT = REPO_ROOT / "client"
INSTALL_TIMEOUT = 600.0
# Its tests share the module's wheel and venv (one worker); pip may take long.
pytestmark = [pytest.mark.xdist_group("client-packaging"), pytest.mark.timeout(INSTALL_TIMEOUT)]
NOT_THE_PROJECT = shutil.ignore_patterns(
    "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache")
OLDEST_PYTHON = (3, 9)
# Where pyenv keeps the interpreters it built, beside the one on PATH.
PYENV_PYTHONS = "~/.pyenv/versions/3.9*/bin/python3.9"

AGENT_SCRIPT = """
import asyncio, sys
import armada_client
from armada_client import AsyncMonitoringClient, MonitoringClient

run_uuid, url = sys.argv[1], sys.argv[2]
client = MonitoringClient(run_uuid, 1, run_uuid + "-sync", base_url=url).create_job()
client.record_success_event("Page loaded").record_finalsuccess_event("Done")
assert client.flush(timeout=30)


async def agent():
    async with AsyncMonitoringClient(run_uuid, 2, run_uuid + "-async", base_url=url) as other:
        other.create_job().record_event("Step").record_failed_event("Error: timeout")


asyncio.run(agent())
print(armada_client.__file__)
print("%d.%d" % sys.version_info[:2])
"""


def oldest_python() -> str:
    """Python 3.9 when this machine has one that runs, else the Python running the tests."""
    candidates = [*sorted(glob.glob(os.path.expanduser(PYENV_PYTHONS))), shutil.which("python3.9")]
    for candidate in filter(None, candidates):
        found = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True, env=clean_environment())
        if found.returncode == 0 and found.stdout.strip() == str(OLDEST_PYTHON):
            return candidate
    return sys.executable


def clean_environment() -> dict[str, str]:
    """This environment without Python, virtualenv or Armada settings: nothing points back at
    the checkout."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("ARMADA_", "PYTHON", "PYENV")) and key != "VIRTUAL_ENV"}


def run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, env=clean_environment(), capture_output=True,
                            text=True, timeout=INSTALL_TIMEOUT)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def python() -> str:
    return oldest_python()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` of client/, from a copy (a build writes next to the sources)."""
    base = tmp_path_factory.mktemp("client-packaging")
    source = base / "source"
    shutil.copytree(CLIENT_ROOT, source, ignore=NOT_THE_PROJECT)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--wheel-dir", str(base / "wheels"), str(source)], cwd=base)
    (built,) = (base / "wheels").glob("armada_client-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(python: str, wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv of `python` with the wheel alone in it (no index: it needs none)."""
    base = tmp_path_factory.mktemp("client-venv")
    home = base / "venv"
    run([python, "-m", "venv", str(home)], cwd=base)
    run([str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index",
         "--disable-pip-version-check", str(wheel)], cwd=base)
    return home


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path / "armada.db", cwd=tmp_path)
    process.start()
    yield process
    process.stop()


@pytest.mark.slow
def test_the_wheel_holds_the_client_alone_with_no_dependency(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = (name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())

    modules = {f"armada_client/{path.name}" for path in
               (CLIENT_ROOT / "armada_client").glob("*.py")}
    assert modules <= names
    assert {name.split("/")[0] for name in names} == {
        "armada_client", metadata_name.split("/")[0]}
    assert metadata["Name"] == "armada-client"
    assert metadata["Requires-Python"] == ">=3.9"
    assert metadata.get_all("Requires-Dist") is None
    version = {}
    exec((CLIENT_ROOT / "armada_client" / "version.py").read_text(), version)
    assert metadata["Version"] == version["__version__"]


@pytest.mark.slow
@pytest.mark.external
def test_the_wheel_reports_from_a_clean_venv_of_the_oldest_python_without_the_service(
        python: str, venv: Path, service: ServiceProcess, tmp_path: Path):
    script = tmp_path / "agent.py"
    script.write_text(AGENT_SCRIPT)

    in_venv = str(venv / "bin" / "python")
    imported_from, version = run([in_venv, str(script), "run-packaged", service.url],
                                 cwd=tmp_path).split()
    no_server = subprocess.run([in_venv, "-c", "import armada"], cwd=tmp_path,
                               env=clean_environment(), capture_output=True, text=True)

    assert Path(imported_from).is_relative_to(venv)
    if python != sys.executable:
        assert tuple(map(int, version.split("."))) == OLDEST_PYTHON
    assert "No module named 'armada'" in no_server.stderr
    with urllib.request.urlopen(f"{service.url}/api/jobs/?run_uuid=run-packaged") as answer:
        jobs = {job["job_uuid"]: job["job_status"] for job in json.load(answer)["jobs"]}
    assert jobs == {"run-packaged-sync": "Success", "run-packaged-async": "Failed"}
    with urllib.request.urlopen(f"{service.url}/api/events/?job_uuid=run-packaged-async") as answer:
        assert sorted(event["event_content"] for event in json.load(answer)) == [
            "Error: timeout", "Step"]
