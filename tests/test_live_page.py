"""The live page at `/` in a real browser: Debian's Chromium, driven through chromedriver by
selenium, against a real `armada serve` (and a real nginx for `/tracking/`).

Screenshots go to the test's temporary folder; ARMADA_SCREENSHOT_DOCS=1 also writes the one
the README shows (docs/live-page.png).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
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
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "live-page.png"


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


def page_errors(browser: Any) -> list[str]:
    """Console errors (a CSP refusal, a script error), favicon 404s aside."""
    return [entry["message"] for entry in browser.get_log("browser")
            if entry["level"] == "SEVERE" and "favicon" not in entry["message"]]


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


def test_a_run_job_event_and_status_change_posted_over_rest_each_appear_within_a_second(
        browser, service, tmp_path):
    post_run(service.url, "run-1")
    post_job(service.url, "job-1", "run-1", agent="agent-one")
    open_page(browser, service.url + "/#run=run-1&job=job-1")
    wait_for(browser, "#job-list tr", text="agent-one")
    browser.execute_script("window.notReloaded = true")

    started = time.monotonic()
    post_run(service.url, "run-2", "2026-02-24T12:00:00.000")
    wait_for(browser, "#run-list li", LIVE_WITHIN, text="run-2")
    post_job(service.url, "job-2", "run-1", agent="agent-two", when="2026-02-24T10:35:00.000")
    wait_for(browser, "#job-list tr", LIVE_WITHIN, text="agent-two")
    wait_for(browser, '#run-list li[data-run="run-1"]', LIVE_WITHIN, text="2 jobs")
    post_event(service.url, "event-1", "job-1", content="Form submitted")
    wait_for(browser, "#event-list li", LIVE_WITHIN, text="Form submitted")
    call(service.url, "PATCH", "/api/jobs/status", {"job_uuid": "job-1", "job_status": "Failed"})
    wait_for(browser, '#job-list tr[data-job="job-1"] .badge', LIVE_WITHIN, text="Failed")
    wait_for(browser, '#run-list li[data-run="run-1"] .stack .s-failed', LIVE_WITHIN)
    call(service.url, "PATCH", "/api/events/status",
         {"event_uuid": "event-1", "event_status": "Success"})
    wait_for(browser, '#event-list li[data-event="event-1"] .badge', LIVE_WITHIN, text="Success")
    assert time.monotonic() - started < 10
    # The timeline: one bar per job, coloured by its status.
    bars = browser.find_elements(By.CSS_SELECTOR, "#timeline .track span")
    assert sorted(bar.get_attribute("class") for bar in bars) == ["s-failed", "s-running"]
    assert browser.execute_script("return window.notReloaded") is True
    screenshot(browser, tmp_path, "live-changes")
    call(service.url, "DELETE", "/api/runs/run-1")
    WebDriverWait(browser, LIVE_WITHIN, poll_frequency=0.02).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, '#run-list li[data-run="run-1"]'))
    wait_for(browser, "#run-list li", text="run-2")
    assert "run=" not in browser.current_url
    assert not browser.find_element(By.ID, "run").is_displayed()
    assert page_errors(browser) == []


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


def test_with_a_read_token_the_page_asks_for_it_then_works(browser, tmp_path):
    service = PageService(tmp_path / "armada.db", tmp_path, ARMADA_READ_TOKENS=READ_TOKEN)
    service.start()
    try:
        post_run(service.url, "run-secret")
        browser.get("about:blank")
        browser.get_log("browser")
        browser.get(service.url + "/")
        field = wait_for(browser, "#token input[name=token]")
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


def test_a_hundred_runs_render_in_under_100_ms_and_older_ones_follow(browser, service):
    for n in range(101):
        call(service.url, "POST", "/api/jobs/", {
            "run_uuid": f"run-{n:03}", "job_uuid": f"job-{n:03}",
            "job_datetime": f"2026-02-24T10:{n // 60:02}:{n % 60:02}.000",
            "job_status": ("Running", "Success", "Failed")[n % 3]})
    open_page(browser, service.url + "/")
    wait_for(browser, "#run-list li", text="run-001")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#run-list li")) == 100
    # A render of the list, its layout included: the median of 9 (the first, cold, is printed;
    # on a loaded 2-core machine it varies most).
    cold = browser.execute_script("return window.armada.renderMs[0]")
    times = browser.execute_script(
        "for (let i = 0; i < 9; i++) window.armada.renderRuns();"
        "return window.armada.renderMs.slice(-9).sort((a, b) => a - b)")
    render_ms = times[4]
    print(f"100 runs rendered in {render_ms:.1f} ms (median of 9; first render {cold:.1f} ms)")
    assert render_ms < 100
    browser.find_element(By.ID, "older-runs").click()
    wait_for(browser, "#run-list li", text="run-000")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#run-list li")) == 101
    assert not browser.find_element(By.ID, "older-runs").is_displayed()


def test_the_page_html_js_and_css_weigh_under_60_kb():
    size = sum(path.stat().st_size for path in LIVE.iterdir())
    print(f"live page: {size} bytes")
    assert size < 60 * 1024


def test_the_readme_screenshot_is_a_real_one(browser, service, tmp_path):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=12)

    def at(minutes: float) -> str:
        return (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000")

    post_run(service.url, "2f1c9a6e-launch", at(0))
    post_run(service.url, "8d03b7c4-nightly", at(-600))
    statuses = ["Success", "Success", "Failed", "Running", "Running", "Pending"]
    for n, status in enumerate(statuses):
        post_job(service.url, f"job-{n}", "2f1c9a6e-launch", agent=f"agent-{n + 1}",
                 status=status, when=at(n))
        for m in range(3):
            post_event(service.url, f"event-{n}-{m}", f"job-{n}", content=f"Step {m + 1} done",
                       when=at(n + m * 2 + 0.5))
    post_job(service.url, "job-night", "8d03b7c4-nightly", status="Success", when=at(-599))
    open_page(browser, service.url + "/#run=2f1c9a6e-launch&job=job-2")
    wait_for(browser, "#event-list li", text="Step 3 done")
    shot = screenshot(browser, tmp_path, "readme")
    if os.environ.get("ARMADA_SCREENSHOT_DOCS"):
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_SCREENSHOT)
    assert shot.stat().st_size > 10_000


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
    wait_for(browser, "#job-list tr", text="agent-k")
    assert "run=run-keyboard" in browser.current_url


def test_the_status_and_agent_filters_narrow_the_jobs_and_stay_in_the_url(browser, service):
    post_run(service.url, "run-1")
    post_job(service.url, "job-ok", "run-1", agent="agent-a", status="Success")
    post_job(service.url, "job-bad", "run-1", agent="agent-b", status="Failed")
    open_page(browser, service.url + "/#run=run-1")
    wait_for(browser, "#job-list tr", text="agent-b")
    Select(browser.find_element(By.NAME, "status")).select_by_visible_text("Failed")
    WebDriverWait(browser, 5).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#job-list tr")) == 1)
    assert "agent-b" in browser.find_element(By.ID, "job-list").text
    assert "status=Failed" in browser.current_url
    # Live too: a job of another status stays out, one of this status comes in.
    post_job(service.url, "job-ok-2", "run-1", agent="agent-c", status="Success")
    post_job(service.url, "job-bad-2", "run-1", agent="agent-d", status="Failed")
    wait_for(browser, "#job-list tr", LIVE_WITHIN, text="agent-d")
    assert "agent-c" not in browser.find_element(By.ID, "job-list").text


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


def test_after_a_resync_a_job_status_change_counts_from_the_status_stored_now(browser, service):
    post_run(service.url, "run-1")
    post_job(service.url, "job-1", "run-1", status="Running")
    open_page(browser, service.url + "/#run=run-1")
    wait_for(browser, "#job-list tr", text="Running")
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
