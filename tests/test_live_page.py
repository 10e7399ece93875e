"""The live page at `/` in a real browser: Debian's Chromium, driven through chromedriver by
selenium, against a real `armada serve` (and a real nginx for `/tracking/`).

Screenshots go to the test's temporary folder; ARMADA_SCREENSHOT_DOCS=1 also writes those
docs/live-page.md shows (docs/live-page.png, docs/live-failures.png, docs/live-search.png).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nginx_proxy import NginxProxy
from server_process import REPO_ROOT, START_TIMEOUT, ServiceProcess

from armada.http.page import LIVE

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# What the issue asks for: each change on the page within this long of its REST call.
LIVE_WITHIN = 1.0
READ_TOKEN = "read-token-of-the-live-page-test"
DOCS_SCREENSHOTS = REPO_ROOT / "docs"


def browser_flags(profile: Path) -> list[str]:
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,800"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.fail("chromium and chromium-driver are not installed: run `./run.sh test`")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in browser_flags(tmp_path_factory.mktemp("chromium-profile")):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    # The viewport itself is 1280x800 (a headless window's size includes no chrome, but be exact).
    viewport(driver, 1280, 800)
    try:
        yield driver
    finally:
        driver.quit()


def viewport(driver: Any, width: int, height: int, mobile: bool = False) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


def color_scheme(driver: Any, scheme: str) -> None:
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": scheme}]})


class PageService(ServiceProcess):
    """`armada serve`, ready once /healthz answers (with read tokens /api/runs/ is a 401)."""

    def _wait_until_answering(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "armada serve exited"
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        raise AssertionError(f"armada serve did not answer on {self.url}")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[PageService]:
    process = PageService(tmp_path / "armada.db", tmp_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def post_run(base: str, run_uuid: str, when: str = "2026-02-24T10:30:00.000") -> Any:
    return call(base, "POST", "/api/runs/", {"run_uuid": run_uuid, "run_datetime": when})


def post_job(base: str, job_uuid: str, run_uuid: str, agent: str = "agent-1",
             status: str = "Running", when: str = "2026-02-24T10:31:00.000") -> Any:
    return call(base, "POST", "/api/jobs/", {
        "job_uuid": job_uuid, "run_uuid": run_uuid, "job_datetime": when,
        "job_associated_agent": agent, "job_status": status})


def post_event(base: str, event_uuid: str, job_uuid: str, content: str = "Page loaded",
               when: str = "2026-02-24T10:32:00.000") -> Any:
    return call(base, "POST", "/api/events/", {
        "event_uuid": event_uuid, "job_uuid": job_uuid, "event_content": content,
        "event_datetime": when})


FAILURES = [
    "TimeoutError: locator('#checkout-submit').click(): Timeout 30000ms exceeded.\n"
    "  waiting for locator('#checkout-submit') to be visible\n  at checkout.spec.ts:88",
    "AssertionError: expected cart total '42.00 EUR', got '41.99 EUR'\n  at cart.spec.ts:31",
    "ConnectionResetError: [Errno 104] Connection reset by peer (payments-sandbox:8443)",
]
STEPS = ["Browser started (chromium 131, 1280x800)", "Logged in as qa-bot-{n}",
         "Catalogue loaded: 48 products", "Cart filled: 3 items", "Checkout page loaded"]


def seed_fleet(base: str, now: datetime) -> dict[str, str]:
    """A realistic fleet through the API: 7 runs of 25 jobs on 12 agents (two jobs of one agent
    in a run), a few hundred events; Success, Failed, Lost, Pending and Running jobs. Answers
    the run names by role."""
    def at(minutes: float) -> str:
        return (now + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000")

    names = {
        "live": "nightly-regression-2026-12-06-0400-eu-west",
        "failed": "nightly-regression-2026-12-05-0400-eu-west",
        "older": "nightly-regression-2026-12-05-0400-us-east",
        "oldest": "nightly-regression-2026-12-04-0400-eu-west",
        "smoke": "smoke-checkout-build-8d03b7c4",
        "release": "release-candidate-2026.12.1-full",
        "lost": "soak-payments-sandbox-72h",
    }
    starts = {"live": -40, "failed": -1500, "older": -1520, "oldest": -2940, "smoke": -300,
              "release": -700, "lost": -200}
    for role, name in names.items():
        start = starts[role]
        post_run(base, name, at(start))
        for n in range(25):
            job = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{role}/{n}"))
            agent = f"agent-{n % 12 + 1:02}"
            status = "Success"
            if role == "live":
                status = "Running" if n % 3 else "Success"
                status = "Pending" if n >= 22 else status
            elif role in ("failed", "release") and n in (3, 11, 17):
                status = "Failed"
            elif role == "oldest" and n == 5:
                status = "Failed"
            elif role == "lost" and n in (2, 20):
                status = "Lost"
            post_job(base, job, name, agent=agent, status="Running", when=at(start + n * 0.4))
            steps = 0 if status == "Pending" else 2 + n % 3
            events = [{"event_uuid": f"{job}-e{m}", "job_uuid": job,
                       "event_content": STEPS[m].format(n=n), "event_status": "Success",
                       "event_datetime": at(start + n * 0.4 + 0.3 + m * 1.7)}
                      for m in range(steps)]
            last = start + n * 0.4 + 0.3 + steps * 1.7
            if status == "Failed":
                events.append({"event_uuid": f"{job}-fail", "job_uuid": job,
                               "event_content": FAILURES[n % 3], "event_status": "Failed",
                               "event_datetime": at(last)})
            elif status == "Lost":
                events.append({"event_uuid": f"{job}-lost", "job_uuid": job,
                               "event_content": "Lost: no report from the job for 31 min 4 s",
                               "event_status": "Failed", "event_datetime": at(last + 31)})
            if events:
                call(base, "POST", "/api/events/batch", {"events": events})
            if status != "Running":
                call(base, "PATCH", "/api/jobs/status", {"job_uuid": job, "job_status": status})
    return names


def wait_for(browser: Any, css: str, within: float = 5.0, text: str | None = None) -> Any:
    def found(driver: Any) -> Any:
        for element in driver.find_elements(By.CSS_SELECTOR, css):
            if text is None or text in element.text:
                return element
        return False

    try:
        # Rows are redrawn as messages come: an element found may be replaced before it is read.
        return WebDriverWait(browser, within, poll_frequency=0.02,
                             ignored_exceptions=(StaleElementReferenceException,)).until(found)
    except TimeoutException:
        raise AssertionError(
            f"no {css!r}{f' with {text!r}' if text else ''} within {within}s") from None


def live_state(browser: Any) -> str:
    return browser.find_element(By.ID, "live").get_attribute("data-state")


def wait_live(browser: Any, within: float = 10.0) -> None:
    WebDriverWait(browser, within, poll_frequency=0.02).until(lambda d: live_state(d) == "live")


def open_page(browser: Any, url: str) -> None:
    browser.get("about:blank")
    browser.get_log("browser")  # what the page before logged (its server stopped under it)
    browser.get(url)
    wait_live(browser)


def screenshot(browser: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def page_errors(browser: Any, deleted_runs: tuple[str, ...] = ()) -> list[str]:
    """Console errors (a CSP refusal, a script error), favicon 404s aside, and the 404 of a
    run read again just after the test deleted it (the page takes it as "deleted meanwhile";
    the browser logs the answer all the same)."""
    gone = tuple(f"/api/triage/runs/{run}?" for run in deleted_runs)
    return [entry["message"] for entry in browser.get_log("browser")
            if entry["level"] == "SEVERE" and "favicon" not in entry["message"]
            and not (" 404 " in entry["message"] and any(g in entry["message"] for g in gone))]


@pytest.mark.browser
@pytest.mark.external
def test_first_render_shows_runs_newest_first_with_their_job_counts(browser, service, tmp_path):
    post_run(service.url, "run-old", "2026-02-24T09:00:00.000")
    post_run(service.url, "run-new", "2026-02-24T11:00:00.000")
    post_job(service.url, "job-a", "run-new", status="Success")
    post_job(service.url, "job-b", "run-new", status="Failed")
    post_job(service.url, "job-c", "run-new", status="Running")
    open_page(browser, service.url + "/")
    wait_for(browser, "#run-list li", text="run-old")
    rows = browser.find_elements(By.CSS_SELECTOR, "#run-list li")
    assert [row.get_attribute("data-run") for row in rows] == ["run-new", "run-old"]
    parts = rows[0].find_elements(By.CSS_SELECTOR, ".stack span")
    assert sorted(p.get_attribute("class") for p in parts) == ["s-failed", "s-running", "s-success"]
    assert "3 jobs" in rows[0].text
    screenshot(browser, tmp_path, "first-render")
    assert page_errors(browser) == []


@pytest.mark.browser
@pytest.mark.external
def test_a_run_job_event_and_status_change_posted_over_rest_each_appear_within_a_second(
        browser, service, tmp_path):
    post_run(service.url, "run-1")
    post_job(service.url, "job-1", "run-1", agent="agent-one")
    open_page(browser, service.url + "/#run=run-1&job=job-1")
    wait_for(browser, "#job-list .job", text="agent-one")
    browser.execute_script("window.notReloaded = true")

    started = time.monotonic()
    post_run(service.url, "run-2", "2026-02-24T12:00:00.000")
    wait_for(browser, "#run-list li", LIVE_WITHIN, text="run-2")
    post_job(service.url, "job-2", "run-1", agent="agent-two", when="2026-02-24T10:35:00.000")
    wait_for(browser, "#job-list .job", LIVE_WITHIN, text="agent-two")
    wait_for(browser, '#run-list li[data-run="run-1"]', LIVE_WITHIN, text="2 jobs")
    post_event(service.url, "event-1", "job-1", content="Form submitted")
    wait_for(browser, "#event-list li", LIVE_WITHIN, text="Form submitted")
    call(service.url, "PATCH", "/api/jobs/status", {"job_uuid": "job-1", "job_status": "Failed"})
    wait_for(browser, '#job-list .job[data-job="job-1"] .badge', LIVE_WITHIN, text="Failed")
    wait_for(browser, '#run-list li[data-run="run-1"] .stack .s-failed', LIVE_WITHIN)
    call(service.url, "PATCH", "/api/events/status",
         {"event_uuid": "event-1", "event_status": "Success"})
    wait_for(browser, '#event-list li[data-event="event-1"] .badge', LIVE_WITHIN, text="Success")
    assert time.monotonic() - started < 10
    # The timeline: one bar per job, coloured by its status.
    bars = browser.find_elements(By.CSS_SELECTOR, "#timeline .track a")
    assert sorted(bar.get_attribute("class") for bar in bars) == ["s-failed", "s-running"]
    assert browser.execute_script("return window.notReloaded") is True
    screenshot(browser, tmp_path, "live-changes")
    call(service.url, "DELETE", "/api/runs/run-1")
    WebDriverWait(browser, LIVE_WITHIN, poll_frequency=0.02).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, '#run-list li[data-run="run-1"]'))
    wait_for(browser, "#run-list li", text="run-2")
    assert "run=" not in browser.current_url
    assert not browser.find_element(By.ID, "run").is_displayed()
    assert page_errors(browser, deleted_runs=("run-1",)) == []


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.external
@pytest.mark.parametrize("cursor", [True, False], ids=["from-its-cursor", "before-any-message"])
def test_the_server_restarted_under_the_open_page_resumes_without_a_reload(
        browser, service, tmp_path, cursor):
    post_run(service.url, "run-before", "2026-02-24T09:00:00.000")
    open_page(browser, service.url + "/")
    wait_for(browser, "#run-list li", text="run-before")
    browser.execute_script("window.notReloaded = true")
    # A message gives the page its cursor (epoch, seq), from which it resumes (a resync: the
    # new process has another epoch); without one it cannot know what it missed: it reloads.
    post_run(service.url, "run-seen-live", "2026-02-24T10:00:00.000")
    if cursor:
        wait_for(browser, "#run-list li", LIVE_WITHIN, text="run-seen-live")
    else:
        browser.refresh()
        wait_for(browser, "#run-list li", text="run-seen-live")
        browser.execute_script("window.notReloaded = true")
    service.stop()
    WebDriverWait(browser, 5, poll_frequency=0.02).until(
        lambda d: live_state(d) == "reconnecting")
    service.start()  # same port, same database file: a new epoch
    # Posted before the page is back: it comes through the resync's reload, not a message.
    post_run(service.url, "run-while-away", "2026-02-24T11:00:00.000")
    wait_live(browser)
    wait_for(browser, "#run-list li", text="run-while-away")
    post_run(service.url, "run-after", "2026-02-24T12:00:00.000")
    wait_for(browser, "#run-list li", LIVE_WITHIN, text="run-after")
    rows = browser.find_elements(By.CSS_SELECTOR, "#run-list li")
    assert [row.get_attribute("data-run") for row in rows] == [
        "run-after", "run-while-away", "run-seen-live", "run-before"]
    assert browser.execute_script("return window.notReloaded") is True
    states = browser.execute_script("return window.armada.states")
    assert states[-4:] == ["reconnecting", "live", "resyncing", "live"], states
    screenshot(browser, tmp_path, "after-restart")


@pytest.mark.browser
@pytest.mark.external
async def test_the_page_works_behind_nginx_under_the_tracking_prefix(browser, service, tmp_path):
    proxy = NginxProxy(tmp_path / "nginx", service.port)
    await proxy.start()
    try:
        post_run(service.url, "run-proxied")
        open_page(browser, proxy.base_url + "/")
        wait_for(browser, "#run-list li", text="run-proxied")
        post_run(service.url, "run-proxied-live", "2026-02-24T12:00:00.000")
        wait_for(browser, "#run-list li", LIVE_WITHIN, text="run-proxied-live")
        docs = browser.find_element(By.LINK_TEXT, "API").get_attribute("href")
        assert docs == proxy.base_url + "/api/docs/"
        screenshot(browser, tmp_path, "behind-nginx")
        assert page_errors(browser) == []
    finally:
        await proxy.stop()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.external
def test_with_a_read_token_the_page_asks_for_it_then_works(browser, tmp_path):
    service = PageService(tmp_path / "armada.db", tmp_path, ARMADA_READ_TOKENS=READ_TOKEN)
    service.start()
    try:
        post_run(service.url, "run-secret")
        browser.get("about:blank")
        browser.get_log("browser")
        browser.get(service.url + "/")
        field = wait_for(browser, "#token input[name=token]")
        # What stops the page is the token, not the network.
        assert live_state(browser) == "needs token"
        screenshot(browser, tmp_path, "token-asked")
        field.send_keys("not-the-read-token-of-this-service")
        field.submit()
        wait_for(browser, "#token .hint", text="refused")
        field = wait_for(browser, "#token input[name=token]")
        field.send_keys(READ_TOKEN)
        field.submit()
        wait_for(browser, "#run-list li", text="run-secret")
        wait_live(browser)
        post_run(service.url, "run-secret-live", "2026-02-24T12:00:00.000")
        wait_for(browser, "#run-list li", LIVE_WITHIN, text="run-secret-live")
        kept = browser.execute_script("return sessionStorage.getItem('armada.token')")
        assert kept == READ_TOKEN
    finally:
        browser.execute_script("sessionStorage.clear()")
        service.stop()


@pytest.mark.browser
@pytest.mark.external
def test_the_url_keeps_the_selection_and_events_page_with_limit_and_before(browser, service):
    post_run(service.url, "run-1")
    post_job(service.url, "job-1", "run-1", agent="agent-one")
    for n in range(60):
        post_event(service.url, f"event-{n:02}", "job-1", content=f"step {n:02}",
                   when=f"2026-02-24T10:32:{n:02}.000")
    open_page(browser, service.url + "/#run=run-1&job=job-1")
    wait_for(browser, "#event-list li", text="step 59")
    first = browser.find_elements(By.CSS_SELECTOR, "#event-list li")
    assert len(first) == 50 and "step 59" in first[0].text
    browser.find_element(By.ID, "more").click()
    wait_for(browser, "#event-list li", text="step 00")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#event-list li")) == 60


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.external
def test_a_hundred_runs_are_listed_and_older_ones_follow(browser, service):
    for n in range(101):
        call(service.url, "POST", "/api/jobs/", {
            "run_uuid": f"run-{n:03}", "job_uuid": f"job-{n:03}",
            "job_datetime": f"2026-02-24T10:{n // 60:02}:{n % 60:02}.000",
            "job_status": ("Running", "Success", "Failed")[n % 3]})
    open_page(browser, service.url + "/")
    wait_for(browser, "#run-list li", text="run-001")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#run-list li")) == 100
    browser.find_element(By.ID, "older-runs").click()
    wait_for(browser, "#run-list li", text="run-000")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#run-list li")) == 101
    assert not browser.find_element(By.ID, "older-runs").is_displayed()


def test_the_page_html_js_and_css_weigh_under_80_kb():
    size = sum(path.stat().st_size for path in LIVE.iterdir())
    print(f"live page: {size} bytes")
    assert size < 80 * 1024


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.external
def test_the_readme_screenshots_are_real_ones_of_a_seeded_fleet(browser, service, tmp_path):
    names = seed_fleet(service.url, datetime.now(UTC).replace(microsecond=0))
    failed = names["failed"]
    open_page(browser, f"{service.url}/#run={failed}&sort=failed")
    first = wait_for(browser, "#job-list .job")
    job = first.get_attribute("data-job")
    browser.get(f"{service.url}/#run={failed}&sort=failed&job={job}")
    wait_for(browser, "#event-list li", text="ConnectionResetError")
    shots = {"live-page": screenshot(browser, tmp_path, "readme-run")}
    browser.get(f"{service.url}/#view=failures")
    wait_for(browser, "#failure-list li", text="Lost: no report")
    shots["live-failures"] = screenshot(browser, tmp_path, "readme-failures")
    browser.get(f"{service.url}/#view=search&q=checkout-submit")
    wait_for(browser, "#result-list li mark", text="checkout-submit")
    shots["live-search"] = screenshot(browser, tmp_path, "readme-search")
    for name, shot in shots.items():
        assert shot.stat().st_size > 10_000, name
        if os.environ.get("ARMADA_SCREENSHOT_DOCS"):
            DOCS_SCREENSHOTS.mkdir(exist_ok=True)
            shutil.copyfile(shot, DOCS_SCREENSHOTS / f"{name}.png")
    assert page_errors(browser) == []


@pytest.mark.external
def test_the_page_and_its_files_carry_a_strict_csp_and_unknown_files_are_404(service):
    with urllib.request.urlopen(service.url + "/", timeout=5) as response:
        csp = response.headers["Content-Security-Policy"]
        assert response.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "http" not in csp
    with urllib.request.urlopen(service.url + "/ui/app.js", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/javascript")
    for path in ("/ui/page.py", "/ui/..%2Fpage.py", "/ui/index.html"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(service.url + path, timeout=5)
        assert refused.value.code == 404


@pytest.mark.browser
@pytest.mark.external
def test_it_reads_at_phone_width_and_in_dark_mode(browser, service, tmp_path):
    post_run(service.url, "run-1")
    post_job(service.url, "job-1", "run-1", agent="agent-one", status="Failed")
    post_event(service.url, "event-1", "job-1", content="Error: timeout")
    light = None
    try:
        open_page(browser, service.url + "/#run=run-1&job=job-1")
        wait_for(browser, "#event-list li", text="Error: timeout")
        light = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
        viewport(browser, 390, 844, mobile=True)
        color_scheme(browser, "dark")
        wait_for(browser, "#event-list li", text="Error: timeout")
        dark = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth")
        screenshot(browser, tmp_path, "phone-dark")
    finally:
        color_scheme(browser, "light")
        viewport(browser, 1280, 800)
    assert light == "rgb(255, 255, 255)" and dark != light
    assert overflow <= 0, f"the page is {overflow} px wider than a phone"


@pytest.mark.browser
@pytest.mark.external
def test_the_keyboard_reaches_a_run_and_opens_it(browser, service):
    post_run(service.url, "run-keyboard")
    post_job(service.url, "job-k", "run-keyboard", agent="agent-k")
    open_page(browser, service.url + "/")
    link = wait_for(browser, '#run-list li[data-run="run-keyboard"] a')
    # From the filters' last control, Tab reaches the first run's link.
    browser.execute_script("document.querySelector('#filters button').focus()")
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element == link
    link.send_keys(Keys.ENTER)
    wait_for(browser, "#job-list .job", text="agent-k")
    assert "run=run-keyboard" in browser.current_url


@pytest.mark.browser
@pytest.mark.external
def test_the_status_and_agent_filters_narrow_the_jobs_and_stay_in_the_url(browser, service):
    post_run(service.url, "run-1")
    post_job(service.url, "job-ok", "run-1", agent="agent-a", status="Success")
    post_job(service.url, "job-bad", "run-1", agent="agent-b", status="Failed")
    open_page(browser, service.url + "/#run=run-1")
    wait_for(browser, "#job-list .job", text="agent-b")
    Select(browser.find_element(By.NAME, "status")).select_by_visible_text("Failed")
    WebDriverWait(browser, 5).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#job-list .job")) == 1)
    assert "agent-b" in browser.find_element(By.ID, "job-list").text
    assert "status=Failed" in browser.current_url
    # Live too: a job of another status stays out, one of this status comes in.
    post_job(service.url, "job-ok-2", "run-1", agent="agent-c", status="Success")
    post_job(service.url, "job-bad-2", "run-1", agent="agent-d", status="Failed")
    wait_for(browser, "#job-list .job", LIVE_WITHIN, text="agent-d")
    assert "agent-c" not in browser.find_element(By.ID, "job-list").text


@pytest.mark.browser
@pytest.mark.external
def test_the_time_range_keeps_runs_outside_it_away_live_too(browser, service):
    post_run(service.url, "run-early", "2026-02-24T09:00:00.000")
    post_run(service.url, "run-inside", "2026-02-24T11:00:00.000")
    # datetime-local values are the browser's local time; the test browser runs in the
    # machine's zone, so the bounds are given in it.
    since = browser.execute_script(
        "const d = new Date('2026-02-24T10:00:00Z');"
        "return new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19)")
    open_page(browser, f"{service.url}/#since={since}")
    wait_for(browser, "#run-list li", text="run-inside")
    assert "run-early" not in browser.find_element(By.ID, "run-list").text
    assert browser.find_element(By.NAME, "since").get_attribute("value").startswith(since[:16])
    post_run(service.url, "run-early-live", "2026-02-24T08:00:00.000")
    post_run(service.url, "run-inside-live", "2026-02-24T12:00:00.000")
    wait_for(browser, "#run-list li", LIVE_WITHIN, text="run-inside-live")
    assert "run-early" not in browser.find_element(By.ID, "run-list").text


@pytest.mark.browser
@pytest.mark.external
def test_a_status_change_of_a_job_the_page_never_loaded_moves_its_runs_counts(browser, service):
    post_run(service.url, "run-1")
    post_job(service.url, "job-1", "run-1", status="Running")
    post_job(service.url, "job-2", "run-1", status="Running")
    open_page(browser, service.url + "/")
    wait_for(browser, '#run-list li[data-run="run-1"] .stack .s-running')
    call(service.url, "PATCH", "/api/jobs/status", {"job_uuid": "job-1", "job_status": "Failed"})
    # Read from that job and its run (one record each), not from the whole list again.
    WebDriverWait(browser, LIVE_WITHIN, poll_frequency=0.02,
                  ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element(By.CSS_SELECTOR, '#run-list li[data-run="run-1"] .stack')
        .get_attribute("title") == "1 running, 1 failed")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.external
def test_after_a_resync_a_job_status_change_counts_from_the_status_stored_now(browser, service):
    post_run(service.url, "run-1")
    post_job(service.url, "job-1", "run-1", status="Running")
    open_page(browser, service.url + "/#run=run-1")
    wait_for(browser, "#job-list .job", text="Running")
    browser.get(service.url + "/#")  # back to the list: job-1 stays known, with its status
    post_run(service.url, "run-2", "2026-02-24T11:00:00.000")  # a message: the page's cursor
    wait_for(browser, "#run-list li", LIVE_WITHIN, text="run-2")
    service.stop()
    service.start()
    # Changed while the page was away: it learns it from the resync's reload, not a message.
    call(service.url, "PATCH", "/api/jobs/status", {"job_uuid": "job-1", "job_status": "Failed"})
    wait_live(browser)
    stack = '#run-list li[data-run="run-1"] .stack'
    wait_for(browser, stack + " .s-failed")
    call(service.url, "PATCH", "/api/jobs/status", {"job_uuid": "job-1", "job_status": "Success"})
    WebDriverWait(browser, LIVE_WITHIN, poll_frequency=0.02,
                  ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element(By.CSS_SELECTOR, stack).get_attribute("title") == "1 success")


# Failure triage at a glance (docs/live-page.md)


def api_requests(browser: Any) -> list[str]:
    """The API reads the page made since it was loaded (fetches of api/...)."""
    return browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => n.includes('/api/'))")


@pytest.mark.browser
@pytest.mark.external
def test_runs_say_their_status_failures_progress_real_duration_full_name_and_failure_line(
        browser, service):
    name = "nightly-regression-2026-12-05-0400-eu-west-with-a-very-long-name-indeed"
    post_run(service.url, name, "2026-02-24T10:00:00.000")
    post_job(service.url, "5d1f0c2a-aaaa", name, agent="agent-7", status="Success",
             when="2026-02-24T10:01:00.000")
    post_job(service.url, "9b781ee4-bbbb", name, agent="agent-8", when="2026-02-24T10:02:00.000")
    post_event(service.url, "event-1", "9b781ee4-bbbb", when="2026-02-24T10:14:30.000",
               content="TimeoutError: checkout did not load\n  at step 3")
    call(service.url, "PATCH", "/api/jobs/status",
         {"job_uuid": "9b781ee4-bbbb", "job_status": "Failed"})
    post_job(service.url, "c0ffee00-cccc", name, agent="agent-9", status="Pending",
             when="2026-02-24T10:03:00.000")
    open_page(browser, service.url + "/")
    row = wait_for(browser, f'#run-list li[data-run="{name}"]')
    assert "Running" in row.find_element(By.CSS_SELECTOR, ".badge").text
    assert "2 of 3 jobs done" in row.text and "1 failed" in row.text
    failure = row.find_element(By.CSS_SELECTOR, ".failure").text
    assert "TimeoutError: checkout did not load" in failure and "agent-8 9b781ee4" in failure
    # The whole name, wrapped rather than cut.
    link = row.find_element(By.CSS_SELECTOR, "a.id")
    assert link.text.replace("\n", "") == name
    assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth + 1",
                                  link)
    # Finished: its duration runs from its first report to its last (14m 30s), live too.
    call(service.url, "PATCH", "/api/jobs/status",
         {"job_uuid": "c0ffee00-cccc", "job_status": "Cancelled"})
    wait_for(browser, f'#run-list li[data-run="{name}"] .badge', LIVE_WITHIN, text="Failed")
    wait_for(browser, f'#run-list li[data-run="{name}"] .duration', LIVE_WITHIN, text="14m 30s")
    # The failure line links to the failed job.
    browser.find_element(By.CSS_SELECTOR, f'#run-list li[data-run="{name}"] a.failure').click()
    wait_for(browser, "#event-list li", text="TimeoutError")
    assert "job=9b781ee4-bbbb" in browser.current_url
    assert page_errors(browser) == []


@pytest.mark.browser
@pytest.mark.external
def test_jobs_show_agent_and_short_id_duration_last_message_and_failed_first(browser, service):
    post_run(service.url, "run-1", "2026-02-24T10:00:00.000")
    post_job(service.url, "11111111-aaaa-job", "run-1", agent="agent-1", status="Success",
             when="2026-02-24T10:01:00.000")
    post_event(service.url, "ok-1", "11111111-aaaa-job", content="All 12 checks passed",
               when="2026-02-24T10:03:05.000")
    post_job(service.url, "22222222-bbbb-job", "run-1", agent="agent-1", status="Running",
             when="2026-02-24T10:02:00.000")
    post_job(service.url, "33333333-cccc-job", "run-1", agent="agent-2", status="Running",
             when="2026-02-24T09:59:00.000")
    post_event(service.url, "lost-1", "33333333-cccc-job", when="2026-02-24T10:31:00.000",
               content="Lost: no report from the job for 31 min 4 s")
    call(service.url, "PATCH", "/api/jobs/status",
         {"job_uuid": "33333333-cccc-job", "job_status": "Lost"})
    open_page(browser, service.url + "/#run=run-1")
    done = wait_for(browser, '#job-list .job[data-job="11111111-aaaa-job"]')
    # Two jobs of one agent are told apart by their ids.
    assert done.find_element(By.CSS_SELECTOR, ".jobid").text == "11111111"
    assert done.find_element(By.CSS_SELECTOR, ".duration").text == "2m 05s"
    assert done.find_element(By.CSS_SELECTOR, ".msg").text == "All 12 checks passed"
    lost = browser.find_element(By.CSS_SELECTOR, '#job-list .job[data-job="33333333-cccc-job"]')
    assert lost.find_element(By.CSS_SELECTOR, ".msg").text.startswith("Lost: no report")
    rows = lambda: [r.get_attribute("data-job") for r in  # noqa: E731
                    browser.find_elements(By.CSS_SELECTOR, "#job-list .job")]
    assert rows()[0] == "22222222-bbbb-job"
    browser.find_element(By.CSS_SELECTOR, "#job-filters input[name=sort]").click()
    WebDriverWait(browser, 5).until(lambda d: rows()[0] == "33333333-cccc-job")
    assert "sort=failed" in browser.current_url
    # Lost is offered by the status filter, and an empty result says so.
    Select(browser.find_element(By.NAME, "status")).select_by_visible_text("Lost")
    WebDriverWait(browser, 5).until(lambda d: rows() == ["33333333-cccc-job"])
    field = browser.find_element(By.CSS_SELECTOR, "#job-filters input[name=agent]")
    field.send_keys("agent-1")
    wait_for(browser, "#no-jobs", text="No job")
    field.clear()
    field.send_keys("2222")
    Select(browser.find_element(By.NAME, "status")).select_by_visible_text("any")
    WebDriverWait(browser, 5).until(lambda d: rows() == ["22222222-bbbb-job"])
    # A bar of the timeline opens its job.
    browser.find_element(By.CSS_SELECTOR, "#timeline .track a").click()
    wait_for(browser, '#job-list .job.selected[data-job="22222222-bbbb-job"]')
    assert "job=22222222-bbbb-job" in browser.current_url
    assert page_errors(browser) == []


@pytest.mark.browser
@pytest.mark.external
def test_a_jobs_events_sit_beside_its_jobs_oldest_or_newest_first_and_follow_the_newest(
        browser, service):
    post_run(service.url, "run-1", "2026-02-24T10:00:00.000")
    for n in range(25):
        post_job(service.url, f"job-{n:02}", "run-1", agent=f"agent-{n}",
                 when=f"2026-02-24T10:{n:02}:00.000")
    call(service.url, "POST", "/api/events/batch", {"events": [
        {"event_uuid": f"event-{n:02}", "job_uuid": "job-00", "event_content": f"step {n:02}",
         "event_datetime": f"2026-02-24T10:30:{n:02}.000"} for n in range(45)]})
    open_page(browser, service.url + "/#run=run-1&job=job-00")
    wait_for(browser, "#event-list li", text="step 44")
    # Beside the jobs, in view without scrolling (the 25th job's row is far below).
    jobs = browser.find_element(By.ID, "run").rect
    events = browser.find_element(By.ID, "event-list").rect
    assert events["x"] >= jobs["x"] + jobs["width"]
    assert events["y"] < 800
    first = lambda: browser.find_element(  # noqa: E731
        By.CSS_SELECTOR, "#event-list li .content").text
    assert first() == "step 44"
    Select(browser.find_element(By.NAME, "order")).select_by_visible_text("oldest first")
    WebDriverWait(browser, 5).until(lambda d: first() == "step 00")
    assert "order=oldest" in browser.current_url
    browser.find_element(By.CSS_SELECTOR, "#event-tools input[name=follow]").click()
    WebDriverWait(browser, 5).until(lambda d: "follow=1" in d.current_url)
    post_event(service.url, "event-new", "job-00", content="step new",
               when="2026-02-24T10:31:00.000")
    newest = wait_for(browser, "#event-list li:last-child", LIVE_WITHIN, text="step new")
    # Followed: the newest line is in the list's view, at its bottom.
    in_view = ("const list = document.getElementById('event-list');"
               "const box = list.getBoundingClientRect();"
               "const row = arguments[0].getBoundingClientRect();"
               "return list.scrollHeight > list.clientHeight && row.bottom <= box.bottom + 1 "
               "&& row.top >= box.top")
    WebDriverWait(browser, 2).until(lambda d: d.execute_script(in_view, newest))
    # At phone width, opening a job scrolls its events into view.
    try:
        viewport(browser, 390, 844, mobile=True)
        browser.get(service.url + "/#run=run-1")
        wait_for(browser, "#job-list .job", text="agent-24")
        browser.execute_script("scrollTo(0, 0)")
        browser.get(service.url + "/#run=run-1&job=job-00")
        wait_for(browser, "#event-list li", text="step new")
        WebDriverWait(browser, 5).until(lambda d: d.execute_script(
            "const r = document.getElementById('job-title').getBoundingClientRect();"
            "return scrollY > 0 && r.top >= 0 && r.bottom <= innerHeight"))
    finally:
        viewport(browser, 1280, 800)
    assert page_errors(browser) == []


@pytest.mark.browser
@pytest.mark.external
def test_the_failures_view_lists_failed_and_lost_jobs_of_every_run_newest_first_live(
        browser, service):
    post_job(service.url, "job-old", "run-a", agent="agent-1", status="Running",
             when="2026-02-24T09:00:00.000")
    post_event(service.url, "event-old", "job-old", content="AssertionError: 2 != 3\n  at x")
    call(service.url, "PATCH", "/api/jobs/status", {"job_uuid": "job-old", "job_status": "Failed"})
    post_job(service.url, "job-fine", "run-a", agent="agent-2", status="Success")
    open_page(browser, service.url + "/#view=failures")
    row = wait_for(browser, "#failure-list li", text="AssertionError: 2 != 3")
    assert "run-a" in row.text and "agent-1" in row.text and "at x" not in row.text
    assert "job-fine" not in browser.find_element(By.ID, "failure-list").text
    # Live: a job of another run found Lost comes in at the top, with its failure line.
    post_job(service.url, "job-new", "run-b", agent="agent-3", when="2026-02-24T11:00:00.000")
    # (An event after the status would bring the job back: docs/api.md "Lost jobs".)
    post_event(service.url, "event-lost", "job-new", content="Lost: no report for 31 min")
    call(service.url, "PATCH", "/api/jobs/status", {"job_uuid": "job-new", "job_status": "Lost"})
    wait_for(browser, "#failure-list li:first-child", 2 * LIVE_WITHIN, text="Lost: no report")
    first = browser.find_element(By.CSS_SELECTOR, "#failure-list li:first-child")
    assert "run-b" in first.text and "agent-3" in first.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#failure-list li")) == 2
    first.find_element(By.CSS_SELECTOR, ".head a").click()
    wait_for(browser, "#event-list li", text="Lost: no report")
    assert "run=run-b" in browser.current_url and "job=job-new" in browser.current_url
    assert page_errors(browser) == []


@pytest.mark.browser
@pytest.mark.external
def test_the_search_box_finds_events_in_all_a_run_or_a_job_and_links_to_their_job(
        browser, service):
    post_job(service.url, "job-a", "run-a", agent="agent-1")
    post_event(service.url, "event-a", "job-a", content="ReadTimeout on /api/cart",
               when="2026-02-24T10:33:00.000")
    post_job(service.url, "job-b", "run-b", agent="agent-2")
    post_event(service.url, "event-b", "job-b", content="ReadTimeout on /api/pay")
    open_page(browser, service.url + "/#run=run-a")
    wait_for(browser, "#job-list .job", text="agent-1")
    box = browser.find_element(By.CSS_SELECTOR, "#search input[name=q]")
    box.send_keys("readtimeout", Keys.ENTER)
    wait_for(browser, "#result-list li", text="/api/pay")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#result-list li")) == 2
    assert "view=search" in browser.current_url and "q=readtimeout" in browser.current_url
    mark = browser.find_element(By.CSS_SELECTOR, "#result-list li mark")
    assert mark.text == "ReadTimeout"
    Select(browser.find_element(By.CSS_SELECTOR, "#search select")).select_by_visible_text(
        "this run")
    browser.find_element(By.CSS_SELECTOR, "#search button").click()
    WebDriverWait(browser, 5).until(lambda d: len(
        d.find_elements(By.CSS_SELECTOR, "#result-list li")) == 1)
    assert "/api/cart" in browser.find_element(By.ID, "result-list").text
    assert "in run run-a" in browser.find_element(By.ID, "results-title").text
    browser.find_element(By.CSS_SELECTOR, "#result-list li .head a").click()
    wait_for(browser, "#event-list li", text="ReadTimeout on /api/cart")
    assert "job=job-a" in browser.current_url
    assert page_errors(browser) == []


@pytest.mark.browser
@pytest.mark.external
def test_times_show_their_zone_switchable_and_remembered(browser, service):
    post_run(service.url, "run-1", "2026-02-24T10:30:00.000")
    open_page(browser, service.url + "/")
    started = wait_for(browser, '#run-list li[data-run="run-1"] time')
    zone_button = browser.find_element(By.ID, "zone")
    try:
        browser.execute_script("localStorage.removeItem('armada.zone')")
        browser.refresh()
        started = wait_for(browser, '#run-list li[data-run="run-1"] time', text="UTC")
        assert started.text == "2026-02-24 10:30:00 UTC"
        zone_button = browser.find_element(By.ID, "zone")
        assert zone_button.text == "Times: UTC"
        zone_button.click()
        local = browser.execute_script(
            "const d = new Date('2026-02-24T10:30:00Z'), o = -d.getTimezoneOffset();"
            "const p = (n) => String(n).padStart(2, '0');"
            "return `${p(d.getHours())}:${p(d.getMinutes())}:00 UTC${o < 0 ? '-' : '+'}"
            "${p(Math.floor(Math.abs(o) / 60))}:${p(Math.abs(o) % 60)}`")
        wait_for(browser, '#run-list li[data-run="run-1"] time', text=local)
        browser.refresh()  # remembered
        wait_for(browser, '#run-list li[data-run="run-1"] time', text=local)
        assert browser.find_element(By.ID, "zone").text.startswith("Times: UTC") and \
            browser.find_element(By.ID, "zone").text != "Times: UTC"
    finally:
        browser.execute_script("localStorage.removeItem('armada.zone')")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.external
def test_a_thousand_job_run_opens_in_three_requests(browser, service):
    from concurrent.futures import ThreadPoolExecutor

    post_run(service.url, "run-big", "2026-02-24T10:00:00.000")
    statuses = ("Success", "Running", "Failed", "Lost", "Pending", "Cancelled")

    def job(n: int) -> None:
        post_job(service.url, f"job-{n:04}", "run-big", agent=f"agent-{n % 40}",
                 status=statuses[n % 6] if n % 6 != 3 else "Running",
                 when=f"2026-02-24T10:{n // 60 % 60:02}:{n % 60:02}.000")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(job, range(1000)))
    call(service.url, "POST", "/api/events/batch", {"events": [
        {"event_uuid": f"event-{n:04}", "job_uuid": f"job-{n:04}", "event_status": "Failed",
         "event_content": f"step {n} failed\ntrace", "event_datetime": "2026-02-24T11:00:00.000"}
        for n in range(1000)]})
    open_page(browser, f"{service.url}/#run=run-big&job=job-0002")
    wait_for(browser, "#event-list li", text="step 2 failed")
    wait_for(browser, "#jobs-shown", text="1000 of 1000 jobs")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#job-list .job")) == 1000
    requests = api_requests(browser)
    assert len(requests) <= 3, requests


@pytest.mark.browser
@pytest.mark.external
def test_a_run_deleted_while_its_failure_is_being_read_again_leaves_no_error(browser, service):
    post_job(service.url, "job-1", "run-1", agent="agent-1")
    open_page(browser, service.url + "/#run=run-1")
    wait_for(browser, "#job-list .job", text="agent-1")
    # The page reads the run again shortly after a job fails (once per burst); it is gone then.
    call(service.url, "PATCH", "/api/jobs/status", {"job_uuid": "job-1", "job_status": "Failed"})
    call(service.url, "DELETE", "/api/runs/run-1")
    WebDriverWait(browser, LIVE_WITHIN, poll_frequency=0.02).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, '#run-list li[data-run="run-1"]'))
    time.sleep(0.6)  # past the re-read, which must find the run gone quietly
    assert page_errors(browser) == []


@pytest.mark.browser
@pytest.mark.external
def test_an_event_redraws_its_jobs_row_and_leaves_the_others(browser, service):
    post_run(service.url, "run-1")
    for n in range(3):
        post_job(service.url, f"job-{n}", "run-1", agent=f"agent-{n}")
    open_page(browser, service.url + "/#run=run-1")
    wait_for(browser, "#job-list .job", text="agent-2")
    browser.execute_script("document.querySelectorAll('#job-list .job')"
                           ".forEach((row) => { row.kept = true; })")
    post_event(service.url, "event-1", "job-1", content="Step 4 of 9\nmore")
    wait_for(browser, '#job-list .job[data-job="job-1"] .msg', LIVE_WITHIN, text="Step 4 of 9")
    kept = browser.execute_script("return [...document.querySelectorAll('#job-list .job')]"
                                  ".map((row) => [row.dataset.job, row.kept === true])")
    assert sorted(kept) == [["job-0", True], ["job-1", False], ["job-2", True]]
