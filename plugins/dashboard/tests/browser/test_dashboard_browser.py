"""The dashboard in Debian's chromium (headless, through Debian's chromedriver and selenium)
against a running rtpgate with calls and RTP flowing.  Nothing downloads a browser: the test
uses /usr/bin/chromium and /usr/bin/chromedriver (the Debian packages chromium and
chromium-driver; .ci/run installs them) and skips, saying so, where they are missing.

The screenshot goes to ``$RTPGATE_TEST_ARTEFACTS`` (tox: ``.tox/artefacts``), else to the
test's temporary directory; its path is printed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_traffic import Traffic, statistics
from rtpgate.api import hash_password
from rtpgate.testing import ServerProcess, media_ports, worker_count

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1680,1050",
         "--hide-scrollbars")


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not os.access(binary, os.X_OK):
            pytest.skip(f"{binary} is missing (Debian packages chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    process = ServerProcess(["--dashboard", "--interface=127.0.0.1", *media_ports(1000),
                             "--delete-delay=0"]).start()
    try:
        yield process
    finally:
        process.stop()


def artefact_dir(tmp_path: Path) -> Path:
    where = Path(os.environ.get("RTPGATE_TEST_ARTEFACTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def shown(driver: webdriver.Chrome, element_id: str) -> int | None:
    value = driver.find_element(By.ID, element_id).get_attribute("data-value")
    return int(value) if value else None


def matches_within_refresh(driver: webdriver.Chrome, server: ServerProcess, element_id: str,
                           read: Callable[[dict[str, Any]], int]) -> int:
    """The value ``statistics`` reports now is on the page now or after the next refresh."""
    expected = read(statistics(server)["currentstatistics"])
    wait_for(lambda: shown(driver, element_id) == expected, 2.5,
             f"#{element_id} showing {expected} (it shows {shown(driver, element_id)})")
    return expected


def page_calls(driver: webdriver.Chrome) -> set[str]:
    """The call-ids in the page's calls table."""
    script = "return [...document.querySelectorAll('tr[data-call-id]')].map(r => r.dataset.callId)"
    return set(driver.execute_script(script))


def test_dashboard_in_chromium(browser: webdriver.Chrome, server: ServerProcess,
                               tmp_path: Path) -> None:
    workers = worker_count()
    traffic = Traffic(server, pps=50)
    for number, label in enumerate(("alice-bob", "carol-dave", "erin-frank", "grace-heidi",
                                    "ivan-judy", "mallory-oscar")):
        # with several workers (RTPGATE_TEST_WORKERS), each owns some of the calls
        traffic.call(label=label if number % 2 == 0 else "", owner=number % workers)
    traffic.start()

    def sessions(stats: dict[str, Any]) -> int:
        return int(stats["sessionsown"] + stats["sessionsforeign"])

    try:
        browser.get(server.url(path="/dashboard"))
        wait_for(lambda: browser.find_element(By.ID, "conn-text").text == "live", 10,
                 "the WebSocket connected")
        wait_for(lambda: (shown(browser, "packet-rate") or 0) > 0, 10, "packets flowing")
        # every worker's calls, whichever worker serves the page
        wait_for(lambda: page_calls(browser) == set(traffic.calls), 5,
                 f"every call in the table (it shows {page_calls(browser)})")

        # the session count and the packet rate are statistics' own, within one refresh
        assert matches_within_refresh(browser, server, "sessions-total", sessions) == 6
        for _ in range(3):
            if workers == 1:
                rate = matches_within_refresh(browser, server, "packet-rate",
                                              lambda s: s["packetrate"])
            else:
                # every worker's rate, summed; each is the worker's own last second, read by
                # the page and by statistics at instants up to a second apart, so the two
                # sums agree as two readings of the same steady traffic do
                expected = statistics(server)["currentstatistics"]["packetrate"]
                wait_for(lambda e=expected: abs((shown(browser, "packet-rate") or 0) - e)
                         <= e * 0.15, 2.5, f"#packet-rate near statistics' {expected}")
                rate = expected
            assert rate > 0

        # a call set up now is in the table within 2 s, its page opens from the worker that
        # owns it, and it is gone after its delete
        for owner in range(workers):
            call_id = traffic.call(label="watch-me", owner=owner)
            row = f'tr[data-call-id="{call_id}"]'
            wait_for(lambda row=row: browser.find_elements(By.CSS_SELECTOR, row), 2.0,
                     f"{call_id} in the calls table")
            matches_within_refresh(browser, server, "sessions-total", sessions)

            # its own page: every stream with counters and a sparkline, RTCP loss and jitter
            browser.find_element(By.CSS_SELECTOR, row).click()
            wait_for(lambda: "RTCP reports" in browser.find_element(By.ID, "call-body").text,
                     3, "the call's page")
            wait_for(lambda: "5.1 % · 30.0 ms" in browser.find_element(By.ID, "call-body").text,
                     5, "loss and jitter from the parties' RTCP receiver reports")
            time.sleep(3)  # a few sparkline points
            browser.save_screenshot(str(artefact_dir(tmp_path) / "dashboard-call.png"))
            browser.find_element(By.ID, "call-close").click()
            wait_for(lambda: not browser.find_element(By.ID, "call-page").is_displayed(), 2,
                     "the call's page closed")

            traffic.delete(call_id)
            wait_for(lambda row=row: not browser.find_elements(By.CSS_SELECTOR, row), 2.0,
                     f"{call_id} gone from the calls table")

        time.sleep(2)
        screenshot = artefact_dir(tmp_path) / "dashboard.png"
        assert browser.save_screenshot(str(screenshot))
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        print(f"screenshots: {screenshot} and {screenshot.with_name('dashboard-call.png')}")

        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == [], errors
    finally:
        traffic.stop()


def test_dashboard_behind_a_login_in_chromium(browser: webdriver.Chrome, tmp_path: Path) -> None:
    """rtpgate's access control with HTTP basic (--http-auth-loopback makes this loopback
    connection count as another host's): the browser's login for the page also opens the
    WebSocket, so the data arrives; without it, neither the page nor the data."""
    users = tmp_path / "users"
    users.write_text(f"operator:{hash_password('s3cret')}\n")
    process = ServerProcess(["--dashboard", f"--http-auth-basic-file={users}",
                             "--http-auth-loopback", "--http-auth-exempt=/ng-plain",
                             "--interface=127.0.0.1", *media_ports(1000),
                             "--delete-delay=0"]).start()
    try:
        traffic = Traffic(process)
        # one call on each worker: the page shows them all
        call_ids = [traffic.call(label="behind-login", owner=index)
                    for index in range(worker_count())]
        host, port = process.address()
        browser.get(f"http://{host}:{port}/dashboard")
        assert "rtpgate dashboard" not in browser.title
        assert not browser.find_elements(By.ID, "calls-body")
        browser.get(f"http://operator:s3cret@{host}:{port}/dashboard")
        wait_for(lambda: browser.find_element(By.ID, "conn-text").text == "live", 10,
                 "the WebSocket connected with the page's login")
        wait_for(lambda: page_calls(browser) == set(call_ids), 3, "every call in the table")
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
                  and "401" not in e["message"]]  # the first, refused visit
        assert errors == [], errors
        traffic.stop()
    finally:
        process.stop()
