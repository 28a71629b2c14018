"""A report's input dataset: its named tables for one period, read from marts/ml with SQL.

The one exception is the account's name, which greets the account's own owner: it is personal
data (often the owner's name), so it is read from the private intermediate.int_account_names,
which the BI role cannot read.

Queries live in reports/sql/<report>/<table>.sql (or sql/shared/) and receive the half-open
window as `%(period_start)s` / `%(period_end)s`. Types are normalised here once, so every
consumer (expectations, renderers, the data hash) sees the same frame: PostgreSQL numerics as
float, integer columns with NULLs as nullable Int64, dates as `datetime.date`.

For per-account reports the first input lists the audience (one row per account); every other
table is restricted to those accounts, so a file never carries another account's rows.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pandas as pd
import psycopg

from orchestration.warehouse.connection import connect
from orchestration.warehouse.frames import query_frame
from reports.catalogue import ReportSpec


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


def read_table(conn: psycopg.Connection, query: str, period_start: date, period_end: date) -> pd.DataFrame:
    return _normalise(query_frame(conn, query, {"period_start": period_start, "period_end": period_end}))


def load_dataset(url: str, spec: ReportSpec, period_start: date, period_end: date) -> dict[str, pd.DataFrame]:
    """The spec's input tables for `[period_start, period_end)`, read in one consistent snapshot."""
    if period_start >= period_end:
        raise ValueError(f"report {spec.id}: period start {period_start} is not before its end {period_end}")
    tables: dict[str, pd.DataFrame] = {}
    with connect(url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for name in spec.inputs:
            tables[name] = read_table(conn, spec.sql_path(name).read_text(), period_start, period_end)
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
