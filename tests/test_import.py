"""`armada import FILE`: an NDJSON export of one instance loaded into another (two real
`armada serve` processes) through the API's idempotent creates; twice changes nothing, a
record the target holds with other values is reported, not overwritten, and a file cut short
is refused whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_process import ServiceProcess, service_environment
from test_export import insert_events_directly

pytestmark = pytest.mark.external

EVENTS_OF_JOB_A = 1_500  # more than one batch of POST /api/events/batch


def call(url: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def armada(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "armada", *args], env=service_environment(),
                          capture_output=True, text=True, timeout=120, input=stdin)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    source = ServiceProcess(tmp_path / "a" / "armada.db", tmp_path / "a")
    target = ServiceProcess(tmp_path / "b" / "armada.db", tmp_path / "b")
    source.start()
    target.start()
    try:
        yield source, target
    finally:
        source.stop()
        target.stop()


def fill(url: str) -> None:
    call(url, "POST", "/api/runs/", {"run_uuid": "run-pm", "run_datetime": "2026-02-24T10:00"})
    for job, status in (("job-a", "Failed"), ("job-b", "Success")):
        call(url, "POST", "/api/jobs/", {"run_uuid": "run-pm", "job_uuid": job,
                                         "job_datetime": "2026-02-24T10:01",
                                         "job_associated_agent": "agent-7", "job_status": status})
    for first in range(0, EVENTS_OF_JOB_A, 500):
        call(url, "POST", "/api/events/batch", {"events": [
            {"event_uuid": f"a-{n}", "job_uuid": "job-a", "event_content": f"Step {n}",
             "event_datetime": f"2026-02-24T10:02:{n % 60:02d}.{n % 1000:03d}"}
            for n in range(first, first + 500)]})
    call(url, "POST", "/api/events/", {"event_uuid": "b-0", "job_uuid": "job-b",
                                       "event_content": "Error: timeout\nTraceback …",
                                       "event_datetime": "2026-02-24T10:03",
                                       "event_status": "Failed"})


def export(url: str, run_uuid: str = "run-pm") -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/runs/{run_uuid}/export", timeout=30) as response:
        return [json.loads(line) for line in response.read().decode().splitlines()]


@pytest.mark.slow
def test_an_export_imported_twice_into_another_instance_is_the_same_run_and_changes_nothing(
        services, tmp_path: Path):
    source, target = services
    fill(source.url)
    file = tmp_path / "run-pm.ndjson"
    exported = armada("export", "run-pm", "--url", source.url)
    assert exported.returncode == 0, exported.stderr
    file.write_text(exported.stdout)

    first = armada("import", str(file), "--url", target.url)
    assert first.returncode == 0, first.stderr
    assert (f"runs: 1 created, 0 existing; jobs: 2 created, 0 existing; events: "
            f"{EVENTS_OF_JOB_A + 1} created, 0 existing; 0 conflicts") in first.stderr
    assert export(target.url) == export(source.url)

    second = armada("import", str(file), "--url", target.url)
    assert second.returncode == 0, second.stderr
    assert (f"runs: 0 created, 1 existing; jobs: 0 created, 2 existing; events: "
            f"0 created, {EVENTS_OF_JOB_A + 1} existing; 0 conflicts") in second.stderr
    assert export(target.url) == export(source.url)


def test_a_conflicting_import_is_reported_and_leaves_the_stored_records_alone(
        services, tmp_path: Path):
    source, target = services
    fill(source.url)
    file = tmp_path / "run-pm.ndjson"
    file.write_text(armada("export", "run-pm", "--url", source.url).stdout)
    # The target already knows job-b with another agent, event b-0 with other content, and
    # run-pm at another instant (registered by its job: a run's POST is idempotent on its uuid).
    call(target.url, "POST", "/api/jobs/", {"run_uuid": "run-pm", "job_uuid": "job-b",
                                            "job_datetime": "2026-02-24T10:01",
                                            "job_associated_agent": "agent-9",
                                            "job_status": "Running"})
    call(target.url, "POST", "/api/events/", {"event_uuid": "b-0", "job_uuid": "job-b",
                                              "event_content": "something else",
                                              "event_datetime": "2026-02-24T10:03"})

    done = armada("import", str(file), "--url", target.url)
    assert done.returncode == 1
    assert "not imported: job job-b: 409 conflict" in done.stderr
    assert "not imported: event b-0: 409 conflict" in done.stderr
    assert ("not imported: run run-pm: stored with run_datetime 2026-02-24T10:01:00.000Z, the "
            "file says 2026-02-24T10:00:00.000Z") in done.stderr
    assert "3 conflicts" in done.stderr
    assert call(target.url, "GET", "/api/jobs/job-b")["job_associated_agent"] == "agent-9"
    assert call(target.url, "GET", "/api/events/b-0")["event_content"] == "something else"
    # Everything else went in.
    assert call(target.url, "GET", "/api/jobs/job-a")["job_status"] == "Failed"
    assert len(call(target.url, "GET", "/api/events/?job_uuid=job-a")) == EVENTS_OF_JOB_A


@pytest.mark.slow
def test_a_reimport_after_the_copys_jobs_went_lost_changes_nothing_and_is_no_conflict(
        tmp_path: Path):
    """A status that moved on in the copy (here its sweep found the imported Running jobs
    Lost) is left as stored; the second import counts the job as existing and exits 0."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    source = ServiceProcess(tmp_path / "a" / "armada.db", tmp_path / "a")
    target = ServiceProcess(tmp_path / "b" / "armada.db", tmp_path / "b",
                            ARMADA_JOB_STALE_AFTER="1")
    source.start()
    target.start()
    try:
        for job in ("job-1", "job-2"):
            call(source.url, "POST", "/api/jobs/", {"run_uuid": "run-live", "job_uuid": job,
                                                    "job_datetime": "2026-02-24T10:01"})
            call(source.url, "POST", "/api/events/", {
                "event_uuid": f"{job}-step", "job_uuid": job, "event_content": "Step 1",
                "event_datetime": "2026-02-24T10:02"})
        file = tmp_path / "run-live.ndjson"
        file.write_text(armada("export", "run-live", "--url", source.url).stdout)
        assert armada("import", str(file), "--url", target.url).returncode == 0

        deadline = time.monotonic() + 10
        while {job["job_status"] for job in call(target.url, "GET", "/api/jobs/")["jobs"]} \
                != {"Lost"}:
            assert time.monotonic() < deadline, "the copy's jobs were never found Lost"
            time.sleep(0.1)
        again = armada("import", str(file), "--url", target.url)

        assert again.returncode == 0, again.stderr
        assert ("runs: 0 created, 1 existing; jobs: 0 created, 2 existing; events: 0 created, "
                "2 existing; 0 conflicts") in again.stderr
        assert {job["job_status"] for job in call(target.url, "GET", "/api/jobs/")["jobs"]} \
            == {"Lost"}
    finally:
        source.stop()
        target.stop()


def test_an_import_of_a_file_that_is_not_an_export_names_the_line(services, tmp_path: Path):
    _, target = services
    file = tmp_path / "bad.ndjson"
    file.write_text('{"kind": "run", "run_uuid": "r", "run_datetime": "2026-02-24T10:00"}\n'
                    "not json\n")
    done = armada("import", str(file), "--url", target.url)
    assert done.returncode == 2
    assert "line 2" in done.stderr


def run_is_absent(url: str, run_uuid: str) -> bool:
    try:
        call(url, "GET", f"/api/runs/{run_uuid}")
    except urllib.error.HTTPError as error:
        return error.code == 404
    return False


@pytest.mark.slow
def test_an_export_killed_midway_is_refused_by_import_and_nothing_is_imported(
        services, tmp_path: Path):
    source, target = services
    insert_events_directly(source.db_path, "run-big", 10, 100_000)
    file = tmp_path / "run-big.ndjson"
    with file.open("wb") as out:
        exporting = subprocess.Popen(
            [sys.executable, "-m", "armada", "export", "run-big", "--url", source.url],
            env=service_environment(), stdout=out, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while file.stat().st_size < 1 << 20 and exporting.poll() is None:
            assert time.monotonic() < deadline, "the export wrote nothing"
            time.sleep(0.01)
        os.kill(exporting.pid, 9)
        assert exporting.wait(timeout=10) == -9, "the export ended before it could be killed"
    # Cut where a line ends, as a file left by a killed writer can be: every line parses.
    text = file.read_text()
    file.write_text(text[:text.rindex("\n") + 1])

    done = armada("import", str(file), "--url", target.url)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"armada import: {file}: no end line: the export is incomplete (cut short?); "
        "nothing imported"]
    assert run_is_absent(target.url, "run-big")


@pytest.mark.slow
def test_an_export_whose_end_line_does_not_count_its_lines_is_refused(services, tmp_path: Path):
    source, target = services
    fill(source.url)
    whole = armada("export", "run-pm", "--url", source.url).stdout
    assert json.loads(whole.splitlines()[-1]) == {
        "kind": "end", "runs": 1, "jobs": 2, "events": EVENTS_OF_JOB_A + 1}
    lines = whole.splitlines(keepends=True)
    file = tmp_path / "run-pm.ndjson"
    file.write_text("".join(lines[:10] + lines[11:]))  # one event fewer

    done = armada("import", str(file), "--url", target.url)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"armada import: {file}: the end line counts runs 1, jobs 2, events "
        f"{EVENTS_OF_JOB_A + 1} but the file holds runs 1, jobs 2, events {EVENTS_OF_JOB_A}: "
        "the export is incomplete; nothing imported"]
    assert run_is_absent(target.url, "run-pm")

    file.write_text(whole + whole.splitlines(keepends=True)[1])
    after_end = armada("import", str(file), "--url", target.url)
    assert after_end.returncode == 2
    assert f"line {len(lines) + 1}: a line after the end line" in after_end.stderr
    assert run_is_absent(target.url, "run-pm")

    from_stdin = armada("import", "-", "--url", target.url, stdin=whole)
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert export(target.url) == export(source.url)
