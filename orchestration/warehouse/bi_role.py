"""The read-only role BI tools connect as.

It may read the `marts` schema and the model outputs listed in `BI_ML_TABLES`, nothing else: no
USAGE on raw, quarantine, reports, the source or any other schema is ever granted, so those are
refused. Table-level SELECT on marts is granted by dbt (`+grants` in dbt_project.yml) each time a
mart is built; the ml tables are created by migrations, so this module grants them by name (a new
ml table stays private until it is added to the list). The role is cluster-wide, so concurrent
starts may race to create it.
"""

from __future__ import annotations

import contextlib

import psycopg
from psycopg import sql

# Model outputs an analyst reads: forecasts and their backtests, churn risk and its evaluation,
# probability alive, daily and hourly anomalies and the detector's evaluation, limit projections and insights.
# Keyed by account_id at most: no names, e-mails or other personal data (tests/test_no_personal_data.py
# checks every value the role can read against the source's names and e-mails).
BI_ML_TABLES = (
    "forecasts", "forecast_backtests",
    "account_usage_forecasts", "account_forecast_backtests", "account_forecast_families",
    "churn_risk_scores", "model_evaluations",
    "activity_alive", "bgnbd_fits",
    "usage_anomalies", "hourly_usage_anomalies", "anomaly_evaluations",
    "limit_projections", "account_insights",
)


def ensure_bi_role(url: str, role: str, password: str | None = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            # another process may create it first
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        if password:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
            )
        dbname = conn.info.dbname
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(dbname), sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA marts TO {}").format(sql.Identifier(role)))
        _grant_ml_tables(conn, role)


def _grant_ml_tables(conn: psycopg.Connection, role: str) -> None:
    """USAGE on ml and SELECT on the BI_ML_TABLES that exist (the migrations create them)."""
    existing = [name for (name,) in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'ml' AND table_name = ANY(%s)",
        (list(BI_ML_TABLES),))]
    if not existing:
        return
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA ml TO {}").format(sql.Identifier(role)))
    conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
        sql.SQL(", ").join(sql.Identifier("ml", name) for name in sorted(existing)), sql.Identifier(role)))
