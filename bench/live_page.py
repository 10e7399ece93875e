"""Live page render times: 100 runs, and a run of 1,000 jobs, in Debian's headless Chromium.

    python bench/live_page.py            # 3 repetitions, medians
    python bench/live_page.py --reps 5

The page records each render's span (`performance.now()`, layout included) in
`window.armada.renderMs` (the runs list) and `runRenderMs` (an open run); each repetition
seeds a fresh service on SQLite, opens the page and renders each view 9 times again.
Needs `./run.sh test`'s packages (selenium) and Debian's chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import start_service, verdict
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TARGET_RUNS_MS = 100.0  # 100 runs listed
TARGET_RUN_MS = 200.0  # a run of 1,000 jobs with its timeline
RENDERS = 9


def call(base: str, method: str, path: str, body: Any) -> None:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def seed(base: str) -> None:
    """100 runs of one job, and run-big with 1,000 jobs, each with a failure."""
    statuses = ("Success", "Running", "Failed", "Lost", "Pending", "Cancelled")

    def job(n: int) -> None:
        call(base, "POST", "/api/jobs/", {
            "run_uuid": "run-big", "job_uuid": f"job-{n:04}", "job_associated_agent":
            f"agent-{n % 40}", "job_status": statuses[n % 6] if n % 6 != 3 else "Running",
            "job_datetime": f"2026-02-24T10:{n // 60 % 60:02}:{n % 60:02}.000"})

    call(base, "POST", "/api/runs/", {"run_uuid": "run-big",
                                      "run_datetime": "2026-02-24T09:00:00.000"})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(job, range(1000)))
        list(pool.map(lambda n: call(base, "POST", "/api/jobs/", {
            "run_uuid": f"run-{n:03}", "job_uuid": f"small-{n:03}",
            "job_datetime": f"2026-02-24T11:{n // 60:02}:{n % 60:02}.000",
            "job_status": ("Running", "Success", "Failed")[n % 3]}), range(100)))
    call(base, "POST", "/api/events/batch", {"events": [
        {"event_uuid": f"event-{n:04}", "job_uuid": f"job-{n:04}", "event_status": "Failed",
         "event_content": f"step {n} failed\ntrace", "event_datetime": "2026-02-24T11:00:00.000"}
        for n in range(1000)]})


def browser(profile: Path) -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 "--window-size=1280,800"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options,
                            service=webdriver.ChromeService(executable_path=CHROMEDRIVER))


def shown(driver: Any, css: str, text: str) -> bool:
    return any(text in element.text for element in driver.find_elements(By.CSS_SELECTOR, css))


def median_render(driver: Any, render: str, spans: str) -> float:
    return statistics.median(driver.execute_script(
        f"for (let i = 0; i < {RENDERS}; i++) window.armada.{render}();"
        f"return window.armada.{spans}.slice(-{RENDERS})"))


def repetition(folder: Path) -> tuple[float, float]:
    with start_service(folder / "armada.db") as server:
        seed(server.url)
        driver = browser(folder / "profile")
        try:
            wait = WebDriverWait(driver, 30, poll_frequency=0.05)
            driver.get(server.url + "/")
            wait.until(lambda d: shown(d, "#run-list li", "run-000"))
            runs_ms = median_render(driver, "renderRuns", "renderMs")
            driver.get(f"{server.url}/#run=run-big&job=job-0002")
            wait.until(lambda d: shown(d, "#jobs-shown", "1000 of 1000 jobs"))
            run_ms = median_render(driver, "renderJobs", "runRenderMs")
        finally:
            driver.quit()
    return runs_ms, run_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"runs": [], "run": []}
    for rep in range(1, args.reps + 1):
        with tempfile.TemporaryDirectory(prefix="armada-bench-page-") as folder:
            runs_ms, run_ms = repetition(Path(folder))
        figures["runs"].append(runs_ms)
        figures["run"].append(run_ms)
        print(f"repetition {rep}/{args.reps}: 100 runs {runs_ms:.1f} ms, "
              f"a run of 1,000 jobs {run_ms:.1f} ms (medians of {RENDERS} renders)", flush=True)
    print("Targets:")
    for key, title, limit in (("runs", "100 runs rendered", TARGET_RUNS_MS),
                              ("run", "a run of 1,000 jobs rendered", TARGET_RUN_MS)):
        values = figures[key]
        median = statistics.median(values)
        print(f"  {title}: {median:.1f} ms ({min(values):.1f}-{max(values):.1f}) "
              f"(target ≤ {limit:.0f} ms): {verdict(median, limit)}")


if __name__ == "__main__":
    main()
