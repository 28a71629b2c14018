"""Screenshots of the Dagster UI after a demo, for the README and docs/ (issue 13's "healthy UI").

Run it while `make demo` keeps the UI up (or `make ui` serves a finished demo's instance):

    .venv/bin/python docs/capture_ui.py [--url http://127.0.0.1:3000] [--out docs]

It drives Debian's headless chromium (packages chromium and chromium-driver; never a downloaded
browser), dismisses the first-visit "Join the Dagster community" dialog, and saves one PNG per page
of `PAGES`: the asset lineage, the overview, an hourly asset's partitions, a daily rollup's partitions and checks,
the runs list and the automation (schedules and sensors) overview. What a page shows is the
instance's state: take them after a demo that ended with "Demo done".
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

# (file name, path under the UI's URL, text that must be on the page before the shot)
PAGES: tuple[tuple[str, str, str], ...] = (
    ("ui_demo_asset_lineage.png", "/asset-groups", "Global asset lineage"),
    ("ui_demo_overview.png", "/overview", "Overview"),
    ("ui_demo_hourly_partitions.png", "/assets/raw/sessions?view=partitions", "Partitions"),
    ("ui_demo_daily_partitions.png", "/assets/marts/fct_usage_daily?view=partitions", "Partitions"),
    ("ui_demo_daily_checks.png", "/assets/marts/fct_usage_daily?view=checks", "freshness_check"),
    ("ui_demo_runs.png", "/runs", "Runs"),
    ("ui_demo_automation.png", "/automation", "hourly_snapshot_schedule"),
)
WAIT_SECONDS = 60


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        raise SystemExit("chromium and chromedriver are needed (Debian packages chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--window-size=1600,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def _dismiss_welcome(browser) -> None:
    """The first visit's community dialog covers the page until it is skipped."""
    from selenium.webdriver.common.by import By

    for button in browser.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
        if button.is_displayed():
            button.click()
            time.sleep(1)


def _wait_for_text(browser, text: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while text not in browser.page_source:
        if time.monotonic() > deadline:
            raise SystemExit(f"{browser.current_url}: {text!r} did not appear within {WAIT_SECONDS} s")
        time.sleep(1)


def capture(url: str, out: Path) -> list[Path]:
    """One screenshot per page of PAGES into `out`; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    browser = _browser()
    try:
        for name, path, text in PAGES:
            browser.get(url.rstrip("/") + path)
            _dismiss_welcome(browser)
            _wait_for_text(browser, text)
            time.sleep(3)  # the page's own queries (partition health, check status) settle after its frame
            _dismiss_welcome(browser)
            browser.save_screenshot(str(out / name))
            written.append(out / name)
    finally:
        browser.quit()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python docs/capture_ui.py", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the running Dagster UI")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="folder for the PNG files")
    args = parser.parse_args(argv)
    for path in capture(args.url, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
