"""A report's input dataset: its named tables for one period, read from its dbt input models.

Every rule that makes a number lives in the models (dbt_project/models/reports, views over the
marts and ml tables, covering all periods); this module only reads the rows whose `period_start`
falls in the half-open period, in `(period_start, row_in_period)` order, and drops those two
columns. The account's name, which greets the account's own owner, is personal data: it comes
from the private intermediate.int_account_names, through a view in `report_inputs`, a schema the
BI role cannot read.

Types are normalised here once, so every consumer (expectations, renderers, the data hash) sees
the same frame: PostgreSQL numerics as float, integer columns with NULLs as nullable Int64, dates
as `datetime.date`.

For per-account reports the first input lists the audience (one row per account); every other
table is restricted to those accounts, so a file never carries another account's rows.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pandas as pd
import psycopg
from psycopg import sql

from orchestration.defs.pools import dbt_pool, warehouse_lock
from orchestration.warehouse.connection import connect
from orchestration.warehouse.frames import query_frame
from reports.catalogue import ReportSpec
from reports.lineage import REPORT_INPUTS_SCHEMA

PERIOD_COLUMNS = ["period_start", "row_in_period"]


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        values = frame[column].dropna()
        if values.empty:
            continue
        first = values.iloc[0]
        if isinstance(first, Decimal):
            frame[column] = pd.array([None if v is None else float(v) for v in frame[column]], dtype="float64")
        elif isinstance(first, bool):
            frame[column] = frame[column].astype("boolean")
        elif isinstance(first, int) and frame[column].isna().any():
            frame[column] = frame[column].astype("Int64")
    return frame


def read_input(conn: psycopg.Connection, model: str, period_start: date, period_end: date) -> pd.DataFrame:
    """One input model's rows for `[period_start, period_end)`, in its own row order."""
    query = sql.SQL("SELECT * FROM {} WHERE period_start >= %(period_start)s AND period_start < %(period_end)s "
                    "ORDER BY period_start, row_in_period").format(sql.Identifier(REPORT_INPUTS_SCHEMA, model))
    frame = query_frame(conn, query, {"period_start": period_start, "period_end": period_end})
    return _normalise(frame.drop(columns=PERIOD_COLUMNS).reset_index(drop=True))


def load_dataset(url: str, spec: ReportSpec, period_start: date, period_end: date) -> dict[str, pd.DataFrame]:
    """The spec's input tables for `[period_start, period_end)`, read in one consistent snapshot.

    The input views read tables the foundation dbt run replaces, and dbt-postgres drops a replaced
    table with CASCADE, its views with it, until the same run recreates them. That run holds its
    pool's warehouse lock (orchestration/defs/pools.py) throughout, so the dataset is read while
    holding it too: between two runs, never in the middle of one.
    """
    if period_start >= period_end:
        raise ValueError(f"report {spec.id}: period start {period_start} is not before its end {period_end}")
    tables: dict[str, pd.DataFrame] = {}
    with warehouse_lock(url, dbt_pool("foundation")), connect(url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for name, model in zip(spec.inputs, spec.input_models, strict=True):
            try:
                tables[name] = read_input(conn, model, period_start, period_end)
            except psycopg.errors.UndefinedTable as exc:
                raise LookupError(f"report {spec.id}: its input model {REPORT_INPUTS_SCHEMA}.{model} does not exist "
                                  "in the warehouse; dbt builds it with the unpartitioned models (dimensions_job)"
                                  ) from exc
    if spec.audience == "account":
        audience = tables[spec.inputs[0]]
        for name, frame in tables.items():
            if "account_id" not in frame.columns:
                raise ValueError(f"report {spec.id}: input {name!r} has no account_id column")
            tables[name] = frame[frame["account_id"].isin(audience["account_id"])].reset_index(drop=True)
    return tables


def row_counts(dataset: dict[str, pd.DataFrame]) -> dict[str, int]:
    return {name: len(frame) for name, frame in dataset.items()}


def data_hash(dataset: dict[str, pd.DataFrame]) -> str:
    """sha256 of the dataset's content: tables by name, each as CSV with its header.

    Stable across runs on the same data (rows keep their query order), so an unchanged period
    gives the same hash and a changed mart gives a different one.
    """
    digest = hashlib.sha256()
    for name in sorted(dataset):
        digest.update(f"# {name}\n".encode())
        digest.update(dataset[name].to_csv(index=False, lineterminator="\n", na_rep="").encode())
    return digest.hexdigest()
