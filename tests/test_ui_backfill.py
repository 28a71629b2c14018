"""The Dagster UI, used as an operator uses it: a 48-hour backfill launched from the asset graph.

`dagster dev` (webserver + daemon, which runs the backfill) serves the code location on loopback
against this test's own database and DAGSTER_HOME; headless Debian chromium, driven by Selenium,
opens the asset graph, selects the hourly snapshot and fct_usage_hourly, launches a backfill of
48 hourly partitions from the launch dialog's partition selection and waits for it to succeed.
The marts must then hold exactly those hours, equal to an independent computation from the
source rows. Screenshots go to the test's temporary folder; `UPDATE_SCREENSHOTS=1` refreshes the
README's copies in docs/ (a test run never modifies tracked files otherwise). Every process started here is killed, and
every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from orchestration.settings import PROJECT_ROOT
from tests.conftest import reset_warehouse
from tests.usage_expectations import COUNT_METRICS, expected_hourly, read

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FIRST_HOUR, END = datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC)  # 48 hours
RANGE = "[2026-03-10-00:00...2026-03-11-23:00]"
DOCS = PROJECT_ROOT / "docs"
SERVER_START_SECONDS, BACKFILL_SECONDS, ELEMENT_SECONDS = 180, 420, 60


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or (str(CHROMIUM) if CHROMIUM.exists() else None)
    driver = shutil.which("chromedriver") or (str(CHROMEDRIVER) if CHROMEDRIVER.exists() else None)
    if chromium and driver:
        return chromium, driver
    reason = "chromium and chromedriver (Debian packages chromium, chromium-driver) are needed for the UI test"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " and CI=true: install them (see .ci/run)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Stop the process and everything it started (its own session), escalating to SIGKILL."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            # the group may outlive its leader (run workers): make sure it is gone
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue
        return


@pytest.fixture(scope="module")
def webserver(warehouse_url: str, tmp_path_factory) -> Iterator[str]:
    from orchestration.source.simulator import apply_source_schema, simulate_history

    _browser_paths()  # fail or skip before doing any work
    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        apply_source_schema(conn)
        simulate_history(conn, accounts=10, days=3, seed=3, end=END)
        conn.commit()
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = _free_port()
    env = {
        **os.environ, "DAGSTER_HOME": str(home), "WAREHOUSE_URL": warehouse_url,
        # a configured source: the demo simulator schedule stays off and the source stays as simulated
        "SOURCE_URL": warehouse_url, "PARTITIONS_START": "2026-03-09",
        "ARTIFACTS_DIR": str(tmp_path_factory.mktemp("artifacts")),
    }
    env.pop("OPERATOR_EMAIL", None)
    log = open(home / "dagster_dev.log", "wb")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster"), "dev", "-m", "orchestration.definitions",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert process.poll() is None, f"dagster dev exited: see {home / 'dagster_dev.log'}"
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"dagster dev not serving after {SERVER_START_SECONDS} s"
            time.sleep(1)
        yield url
    finally:
        _stop(process)
        log.close()


@pytest.fixture(scope="module")
def browser(webserver: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = _browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage", "--window-size=1600,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(ELEMENT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()  # ends chromedriver and the browser it started


def _wait(driver, xpath: str, seconds: float = ELEMENT_SECONDS):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(ec.element_to_be_clickable((By.XPATH, xpath)))


def _select_partitions(driver, selection: str, expected: str, attempts: int = 4) -> None:
    """Type a partition selection into the launch dialog until it shows `expected`.

    On a busy machine the dialog may still be loading its partition data when the text is typed,
    and re-rendering then replaces what was typed (seen once in CI): type it again.
    """
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.keys import Keys

    for attempt in range(attempts):
        field = _wait(driver, "//*[@role='dialog']//input[@type='text']")
        field.clear()
        field.send_keys(selection, Keys.ENTER)
        try:
            _wait(driver, f"//*[normalize-space(text())='{expected}']", ELEMENT_SECONDS / 2)
            return
        except TimeoutException:
            if attempt == attempts - 1:
                raise


def _skip_community_dialog(driver) -> None:
    """The first visit asks to join the Dagster community: Skip, if it shows within a few seconds."""
    from selenium.common.exceptions import TimeoutException

    with contextlib.suppress(TimeoutException):
        _wait(driver, "//button[normalize-space()='Skip']", 10).click()


def _wait_until_loaded(driver) -> None:
    """Both nodes show their partition counts (they read "Loading..." until their status arrives)."""
    from selenium.webdriver.support.ui import WebDriverWait

    footer = "//*[local-name()='foreignObject']//*[contains(normalize-space(text()), ' partitions')]"
    WebDriverWait(driver, ELEMENT_SECONDS).until(lambda d: len(d.find_elements("xpath", footer)) >= 2)
    time.sleep(1)


def _backfill_status(driver, url: str) -> str:
    driver.get(url)
    _wait(driver, "//*[normalize-space(text())='Partition selection']")
    time.sleep(1)  # statuses arrive after the page frame
    found = re.search(r"Status\n(\w[\w ]*)", driver.find_element("tag name", "body").text)
    return found.group(1) if found else "unknown"


def test_backfill_launched_from_the_asset_graph_fills_the_marts(webserver, browser, warehouse_url, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    shots = DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path

    node = "//*[local-name()='foreignObject']//*[normalize-space(text())='{}']"
    tree_item = "//div[contains(@class,'AssetSidebarNode_itemContainer')]"
    # the asset graph filtered to the hourly layer, both groups expanded
    browser.get(f"{webserver}/asset-groups~key%3A%22raw%2Fsessions%22%20or%20key%3A%22marts%2Ffct_usage_hourly%22"
                "?expanded=global%40global%3Araw%2Cglobal%40global%3Amarts")
    _skip_community_dialog(browser)
    _wait(browser, node.format("fct_usage_hourly"))
    _wait_until_loaded(browser)
    for late_dialog in browser.find_elements("xpath", "//button[normalize-space()='Skip']"):
        late_dialog.click()  # it may also open only once the graph has loaded
    browser.save_screenshot(str(shots / "ui_asset_graph.png"))
    _wait(browser, node.format("sessions")).click()  # the hourly snapshot (a multi-asset)
    _wait(browser, "//*[normalize-space(text())='freshness_check']")  # its sidebar, with the freshness check
    _wait(browser, f"{tree_item}[.//div[@title='marts']]/button[.//*[@aria-label='arrow_drop_down']]").click()
    mart = _wait(browser, f"{tree_item}//div[@title='fct_usage_hourly']")
    ActionChains(browser).key_down(Keys.SHIFT).click(mart).key_up(Keys.SHIFT).perform()
    _wait(browser, "//button[normalize-space()='Materialize selected (2)…']").click()
    _wait(browser, "//button[normalize-space()='Confirm']").click()  # the rest of the multi-asset comes along
    _wait(browser, "//*[normalize-space(text())='Show all partitions']").click()
    _select_partitions(browser, RANGE, "48 partitions")
    _wait(browser, "//button[normalize-space()='Launch backfill']").click()

    browser.get(f"{webserver}/runs?view=backfills")
    backfill = _wait(browser, "//a[contains(@href, '/runs/b/')]").get_attribute("href")
    deadline, status = time.monotonic() + BACKFILL_SECONDS, "unknown"
    while time.monotonic() < deadline:
        status = _backfill_status(browser, backfill)
        if status not in ("In progress", "Requested", "unknown"):
            break
        time.sleep(5)
    browser.save_screenshot(str(shots / "ui_backfill_done.png"))
    assert status == "Succeeded", f"backfill {backfill} ended as {status!r} (or not within {BACKFILL_SECONDS} s)"

    with psycopg.connect(warehouse_url) as db:
        hours = read(db, "SELECT DISTINCT hour_start FROM marts.fct_usage_hourly").hour_start
        assert pd.to_datetime(hours, utc=True).between(FIRST_HOUR, END, inclusive="left").all()
        actual = read(db, "SELECT * FROM marts.fct_usage_hourly")
        expected = expected_hourly(db)
    actual["hour_start"] = pd.to_datetime(actual.hour_start, utc=True)
    expected = expected[(expected.hour_start >= FIRST_HOUR) & (expected.hour_start < END)]
    # Hours where only a session started before the range was running are not the range's to count.
    active = COUNT_METRICS + ["audio_minutes_processed"]
    actual = actual[actual[active].astype(float).sum(axis=1) > 0]
    expected = expected[expected[active].astype(float).sum(axis=1) > 0]
    merged = actual.merge(expected, on=["account_id", "hour_start"], how="outer", suffixes=("", "_expected"),
                          indicator=True)
    assert len(merged) > 24 and (merged._merge == "both").all(), merged[merged._merge != "both"].head()
    for column in COUNT_METRICS:
        assert (merged[column].astype("int64") == merged[f"{column}_expected"]).all(), column
    for column in ("audio_minutes_processed", "storage_used_mb"):
        a, e = merged[column].astype(float), merged[f"{column}_expected"].astype(float)
        assert (((a - e).abs() < 1e-6) | (a.isna() & e.isna())).all(), column


def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    import tests.test_ui_backfill as ui

    monkeypatch.setenv("PATH", str(tmp_path))  # neither chromium nor chromedriver on it
    monkeypatch.setattr(ui, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.setattr(ui, "CHROMEDRIVER", tmp_path / "chromedriver")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        ui._browser_paths()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="chromium-driver"):
        ui._browser_paths()
