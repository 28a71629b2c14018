"""The semantic layer (dbt semantic models and MetricFlow metrics, dbt_project/models/semantic/)
answers as the marts do: `mf validate-configs` passes against the warehouse, and metrics queried
by name with `mf query`, the way an analyst does (docs/bi.md), equal the marts' columns.

The simulator writes 60 accounts over 75 days up to 2026-03-20 (seed 44, as tests/
test_revenue_marts.py: every MRR movement kind occurs) and the layers run over the last 3 days:
accounts and subscriptions are extracted cumulatively, so the signup and MRR marts hold the whole
history (MRR from 2025, complete months through February 2026), the usage and revenue marts the
run's days (invoices are extracted by issue hour).

mf runs as its own process, as an analyst runs it (docs/bi.md), in a parsed copy of the dbt project
(SemanticProject), offline: its start-up check for a newer release on PyPI is pointed at a closed
local port, and it carries on without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from orchestration.settings import PROJECT_ROOT
from orchestration.warehouse.connection import dbt_env
from tests.conftest import reset_warehouse
from tests.usage_expectations import read

END = datetime(2026, 3, 20, tzinfo=UTC)
DAYS = 75
RUN_START = END - timedelta(days=3)
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
BIN = Path(sys.executable).parent  # dbt and mf are installed beside the interpreter

USAGE_METRICS = [
    "sessions_created", "audio_minutes_processed", "transcriptions_completed", "transcriptions_failed",
    "exports_generated", "api_calls", "share_links_created", "share_links_accessed",
]
# semantic metric -> fct_mrr_summary_monthly column, and the decimals the mart rounds it to
BRIDGE = {
    "starting_mrr": ("starting_mrr", 2), "new_mrr": ("new_mrr", 2), "expansion_mrr": ("expansion_mrr", 2),
    "contraction_mrr": ("contraction_mrr", 2), "churned_mrr": ("churned_mrr", 2),
    "reactivation_mrr": ("reactivation_mrr", 2), "mrr": ("ending_mrr", 2), "arr": ("arr", 2),
    "paying_customers": ("paying_customers", 0), "starting_customers": ("starting_customers", 0),
    "new_customers": ("new_customers", 0), "reactivated_customers": ("reactivated_customers", 0),
    "churned_customers": ("churned_customers", 0), "arpa": ("arpa", 2), "nrr": ("nrr", 4),
    "grr": ("grr", 4), "logo_churn_rate": ("logo_churn_rate", 4),
}


@pytest.fixture(scope="module")
def built(warehouse_url: str, dagster_instance) -> str:
    from orchestration.definitions import defs
    from orchestration.pipeline import run_layers
    from orchestration.source.simulator import apply_source_schema, simulate_history

    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        apply_source_schema(conn)
        simulate_history(conn, accounts=60, days=DAYS, seed=44, end=END, late_rate=0.02, bad_rate=0.01)
        conn.commit()
    runs = run_layers(defs, dagster_instance, RUN_START, END)
    assert all(r.success for r in runs), runs
    return warehouse_url


@dataclass(frozen=True)
class SemanticProject:
    """A private copy of the dbt project, parsed for the test database, where `mf` runs.

    mf reads `<project>/target/semantic_manifest.json`, which names the database the parse was
    configured for; a parse in the shared project by another test session (on another database)
    would swap it under our feet, so this module parses and queries in a copy of its own.
    """

    url: str
    project_dir: Path

    def run(self, command: list[str]) -> subprocess.CompletedProcess:
        """dbt or mf in the project on the test database; mf's PyPI update check gets no network."""
        offline = "http://127.0.0.1:9"  # the discard port: nothing listens, the request fails at once
        env = {**os.environ, **dbt_env(self.url), "DBT_PROFILES_DIR": str(self.project_dir),
               "DBT_PROJECT_DIR": str(self.project_dir), "HTTPS_PROXY": offline, "HTTP_PROXY": offline}
        result = subprocess.run(command, cwd=self.project_dir, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
        return result

    def query(self, tmp_path: Path, metrics: list[str], group_by: list[str]) -> pd.DataFrame:
        out = tmp_path / f"{'_'.join(metrics)[:60]}.csv"
        self.run([str(BIN / "mf"), "query", "--metrics", ",".join(metrics), "--group-by", ",".join(group_by),
                  "--csv", str(out)])
        return pd.read_csv(out)


@pytest.fixture(scope="module")
def semantic(built: str, tmp_path_factory: pytest.TempPathFactory) -> SemanticProject:
    """The project copied without its target and logs, then `dbt parse`d: mf's semantic manifest
    (Dagster's own parse does not keep one)."""
    project_dir = tmp_path_factory.mktemp("semantic") / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    project = SemanticProject(built, project_dir)
    project.run([str(BIN / "dbt"), "parse", "--quiet"])
    return project


def test_validate_configs_passes_against_the_warehouse(semantic):
    """Semantic rules, then every semantic model, dimension, entity, measure and metric queried in the warehouse."""
    result = semantic.run([str(BIN / "mf"), "validate-configs"])
    assert "ERRORS: 0," in result.stdout and "against data warehouse (ERRORS: 0," in result.stdout, result.stdout
    assert "ERROR:" not in result.stdout, result.stdout


def test_mrr_bridge_by_month_equals_the_mart(semantic, db, tmp_path):
    mart = read(db, "SELECT * FROM marts.fct_mrr_summary_monthly ORDER BY mrr_month")
    assert len(mart) > 3 and (mart.reactivation_mrr > 0).any()
    got = semantic.query(tmp_path, list(BRIDGE), ["metric_time__month"])
    got["mrr_month"] = pd.to_datetime(got.metric_time__month).dt.date
    merged = mart.merge(got, on="mrr_month", how="outer", suffixes=("_mart", ""), indicator=True)
    assert (merged._merge == "both").all(), merged[["mrr_month", "_merge"]]
    for metric, (column, decimals) in BRIDGE.items():
        expected = merged[column if column != metric else f"{column}_mart"].astype(float)
        actual = merged[metric].astype(float).round(decimals)
        same = (actual == expected.round(decimals)) | (actual.isna() & expected.isna())
        assert same.all(), (metric, merged.loc[~same, ["mrr_month", metric]], expected[~same])


def test_mrr_by_user_type_joins_the_account_dimension(semantic, db, tmp_path):
    expected = read(db, """
        SELECT m.mrr_month, a.user_type, sum(m.mrr) AS mrr
        FROM marts.fct_mrr_monthly m JOIN marts.dim_accounts a USING (account_id)
        GROUP BY 1, 2""")
    got = semantic.query(tmp_path, ["mrr"], ["metric_time__month", "account__user_type"])
    got["mrr_month"] = pd.to_datetime(got.metric_time__month).dt.date
    merged = expected.merge(got.rename(columns={"account__user_type": "user_type"}),
                            on=["mrr_month", "user_type"], suffixes=("_mart", ""))
    assert len(merged) == len(expected) > 0
    assert (merged.mrr.astype(float).round(2) == merged.mrr_mart.astype(float)).all()


def test_a_quarter_reads_balances_at_its_ends_and_sums_movements(semantic, db, tmp_path):
    mart = read(db, "SELECT * FROM marts.fct_mrr_summary_monthly ORDER BY mrr_month")
    mart["quarter"] = pd.to_datetime(mart.mrr_month).dt.to_period("Q").dt.start_time.dt.date
    got = semantic.query(tmp_path, ["starting_mrr", "net_new_mrr", "mrr"], ["metric_time__quarter"])
    got["quarter"] = pd.to_datetime(got.metric_time__quarter).dt.date
    quarters = mart.groupby("quarter").agg(starting=("starting_mrr", "first"), ending=("ending_mrr", "last"))
    merged = quarters.merge(got, left_index=True, right_on="quarter")
    assert len(merged) == len(quarters) > 1
    assert (merged.starting_mrr.round(2) == merged.starting.astype(float)).all()
    assert (merged.mrr.round(2) == merged.ending.astype(float)).all()
    assert ((merged.starting_mrr + merged.net_new_mrr - merged.mrr).abs() < 0.005).all()


def test_signups_by_day_equal_the_mart(semantic, db, tmp_path):
    mart = read(db, "SELECT signup_date, sum(signups) AS signups FROM marts.fct_signups_daily GROUP BY 1")
    got = semantic.query(tmp_path, ["signups"], ["metric_time__day"])
    got["signup_date"] = pd.to_datetime(got.metric_time__day).dt.date
    merged = mart.merge(got, on="signup_date", how="outer", suffixes=("_mart", ""), indicator=True)
    assert (merged._merge == "both").all() and len(merged) > 0
    assert (merged.signups == merged.signups_mart).all()


def test_usage_metrics_and_active_accounts_by_day_equal_the_mart(semantic, db, tmp_path):
    mart = read(db, f"""
        SELECT usage_date, {', '.join(f'sum({m}) AS {m}' for m in USAGE_METRICS)},
               count(*) FILTER (WHERE sessions_created + exports_generated + api_calls
                                      + share_links_created + share_links_accessed > 0) AS active_accounts
        FROM marts.fct_usage_daily GROUP BY 1""")
    got = semantic.query(tmp_path, [*USAGE_METRICS, "active_accounts"], ["metric_time__day"])
    got["usage_date"] = pd.to_datetime(got.metric_time__day).dt.date
    merged = mart.merge(got, on="usage_date", how="outer", suffixes=("_mart", ""), indicator=True)
    assert (merged._merge == "both").all() and len(merged) >= 3
    assert (merged.active_accounts_mart > 0).any()
    for metric in [*USAGE_METRICS, "active_accounts"]:
        assert ((merged[metric].astype(float) - merged[f"{metric}_mart"].astype(float)).abs() < 1e-6).all(), metric


def test_monthly_active_accounts_count_each_account_once(semantic, db, tmp_path):
    mart = read(db, """
        SELECT usage_month, count(*) AS active_accounts FROM marts.fct_usage_monthly
        WHERE sessions_created + exports_generated + api_calls + share_links_created + share_links_accessed > 0
        GROUP BY 1""")
    got = semantic.query(tmp_path, ["active_accounts"], ["metric_time__month"])
    got["usage_month"] = pd.to_datetime(got.metric_time__month).dt.date
    merged = mart.merge(got, on="usage_month", suffixes=("_mart", ""))
    assert len(merged) == len(mart) > 0  # the complete months the monthly layer built
    assert (merged.active_accounts == merged.active_accounts_mart).all()


def test_invoiced_revenue_by_month_and_currency_equals_the_mart(semantic, db, tmp_path):
    mart = read(db, """
        SELECT revenue_month, currency, sum(total_revenue) AS invoiced_revenue,
               sum(overage_revenue) AS overage_revenue, sum(invoices) AS invoices
        FROM marts.fct_revenue_monthly GROUP BY 1, 2""")
    got = semantic.query(tmp_path, ["invoiced_revenue", "overage_revenue", "invoices"],
                         ["metric_time__month", "revenue__currency"])
    got["revenue_month"] = pd.to_datetime(got.metric_time__month).dt.date
    merged = mart.merge(got.rename(columns={"revenue__currency": "currency"}), on=["revenue_month", "currency"],
                        how="outer", suffixes=("_mart", ""), indicator=True)
    assert (merged._merge == "both").all() and len(merged) > 0, merged
    for metric in ("invoiced_revenue", "overage_revenue", "invoices"):
        assert (merged[metric].astype(float).round(2) == merged[f"{metric}_mart"].astype(float)).all(), metric
