#!/usr/bin/env python3
"""Makes the README's picture of the dashboard (not a test): a server with a few minutes of
varied traffic behind it, photographed by Debian's headless chromium.

    .venv/bin/python plugins/dashboard/tests/browser/readme_screenshot.py docs/images/dashboard.png
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard_traffic import Traffic, ng
from rtpgate.testing import ServerProcess, media_ports
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter")


def main() -> int:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "dashboard.png")
    random.seed(7)
    server = ServerProcess(["--dashboard", "--interface=127.0.0.1", *media_ports(1000),
                            "--delete-delay=0"]).start()
    traffic = Traffic(server, pps=25).start()
    try:
        minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
        end = time.monotonic() + minutes * 60
        while time.monotonic() < end:
            phase = 1 - (end - time.monotonic()) / (minutes * 60)
            wanted = int(8 + 30 * phase + random.randint(-3, 3))
            if len(traffic.calls) < wanted:
                a, b = random.sample(NAMES, 2)
                traffic.call(label=f"{a}-{b}" if random.random() < 0.7 else "")
            elif traffic.calls and random.random() < 0.3:
                traffic.delete(random.choice(list(traffic.calls)))
            if random.random() < 0.05:  # a client asking for a call that is not there
                with contextlib.suppress(AssertionError):  # ng() insists on "ok"
                    ng(server, "query", call_id="no-such-call")
            time.sleep(random.uniform(0.5, 2.0))
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--window-size=1600,1160", "--hide-scrollbars"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        try:
            driver.get(server.url(path="/dashboard"))
            time.sleep(4)
            driver.save_screenshot(str(target))
        finally:
            driver.quit()
    finally:
        traffic.stop()
        server.stop()
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
