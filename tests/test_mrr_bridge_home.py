"""The MRR bridge's closing has one home: the dbt test assert_mrr_bridge_reconciles on
fct_mrr_summary_monthly. The report and warehouse suites no longer check it (the revenue report
reads the mart as it is), so this shows that home fails a month that does not close, and one that
does not start where the previous month ended, by running the real dbt test on a hand-made mart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from orchestration.settings import PROJECT_ROOT
from orchestration.warehouse.connection import dbt_env
from tests.conftest import reset_warehouse

# mrr_month, starting, new, expansion, contraction, churned, reactivation, ending
CLOSING = [("2026-01-01", 0, 100, 0, 0, 0, 0, 100),
           ("2026-02-01", 100, 20, 10, -5, -15, 0, 110),
           ("2026-03-01", 110, 0, 0, 0, -10, 5, 105)]


def _run_bridge_test(url: str, target: Path) -> subprocess.CompletedProcess:
    project = PROJECT_ROOT / "dbt_project"
    return subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "test", "--select", "assert_mrr_bridge_reconciles",
         "--project-dir", str(project), "--profiles-dir", str(project), "--target-path", str(target)],
        env={**os.environ, **dbt_env(url)}, capture_output=True, text=True, check=False)


def _write_summary(db: psycopg.Connection, rows: list[tuple]) -> None:
    db.execute("DROP TABLE IF EXISTS marts.fct_mrr_summary_monthly")
    db.execute("""CREATE TABLE marts.fct_mrr_summary_monthly (
        mrr_month date, starting_mrr numeric(14, 2), new_mrr numeric(14, 2), expansion_mrr numeric(14, 2),
        contraction_mrr numeric(14, 2), churned_mrr numeric(14, 2), reactivation_mrr numeric(14, 2),
        ending_mrr numeric(14, 2))""")
    with db.cursor() as cur:
        cur.executemany("INSERT INTO marts.fct_mrr_summary_monthly VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)


def test_the_dbt_bridge_test_passes_a_closing_bridge_and_fails_a_broken_one(warehouse_url, db, tmp_path):
    reset_warehouse(warehouse_url)
    _write_summary(db, CLOSING)
    passed = _run_bridge_test(warehouse_url, tmp_path / "pass")
    assert passed.returncode == 0, passed.stdout[-3000:]

    # February ends 10 higher than its movements say, so March no longer starts where February ended
    broken = [CLOSING[0], (*CLOSING[1][:7], 120), CLOSING[2]]
    _write_summary(db, broken)
    failed = _run_bridge_test(warehouse_url, tmp_path / "fail")
    assert failed.returncode != 0
    assert "assert_mrr_bridge_reconciles" in failed.stdout and "Got 2 results" in failed.stdout, failed.stdout[-3000:]
