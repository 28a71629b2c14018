"""Warehouse portability (issue 17, item 3): moving the warehouse is a profile change.

- Every model whose SQL (or a non-dispatched project macro it calls) still holds a
  PostgreSQL-only construct is on dbt_project/portability_allowlist.yml, with a reason, and only
  those: the list may only shrink (a model made portable must leave it).
- The whole project compiles for a second adapter, dbt-duckdb.
- The usage rollups built by dbt-duckdb from the same raw rows equal PostgreSQL's, built by the
  platform's Dagster runs, cell by cell, and a partition re-run on DuckDB replaces its window.

dbt-duckdb is installed only in CI (.ci/run, the pin below): without it the DuckDB tests skip,
except under CI=true, where they fail. docs/portability.md explains the rest.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml

from orchestration.settings import PROJECT_ROOT
from tests.conftest import reset_warehouse

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
ALLOWLIST = DBT_PROJECT_DIR / "portability_allowlist.yml"
DBT = Path(sys.executable).parent / "dbt"
DBT_DUCKDB = "dbt-duckdb==1.11.1"  # the version .ci/run installs

# PostgreSQL-only constructs, each with its portable replacement (docs/portability.md). Function
# names preceded by a dot are dbt's cross-database macros (dbt.date_trunc), not SQL.
PG_ONLY = {
    "'::' cast (cast(x as type))": r"::",
    "generate_series (time_series())": r"(?<![.\w])generate_series\b",
    "FILTER (WHERE ...) (sum(case when ...))": r"\bfilter\s*\(\s*where\b",
    "interval '...' literal (dbt.dateadd)": r"\binterval\s*'",
    "extract(epoch ...) (dbt.datediff)": r"\bextract\s*\(\s*epoch\b",
    "DISTINCT ON (row_number())": r"\bdistinct\s+on\b",
    "LATERAL (time_series(), a window function or a join)": r"\blateral\b",
    "date_trunc() (dbt.date_trunc)": r"(?<![.\w])date_trunc\s*\(",
    "age() (dbt.datediff)": r"(?<![.\w])age\s*\(",
    "array subscript (...)[n] (row_number())": r"\)\s*\[",
    "string_agg (dbt.listagg)": r"(?<![.\w])string_agg\b",
    "to_char (a dispatched macro)": r"(?<![.\w])to_char\b",
    "now() (current_timestamp)": r"(?<![.\w])now\s*\(",
    "ILIKE (lower(x) like ...)": r"\bilike\b",
}
# Comments are left out; Jinja expressions are kept, since SQL passed to a macro as a string
# (in_force_at("... interval '1 month' ...")) is SQL too.
COMMENTS = re.compile(r"\{#.*?#\}|--[^\n]*|/\*.*?\*/", re.DOTALL)
# Adapter implementations of a dispatched macro (postgres__x, duckdb__x) may use their dialect;
# default__ implementations are meant to be portable and are checked.
ADAPTER_IMPLEMENTATION = re.compile(r"^(?!default__)[a-z0-9]+__")

# The usage rollups (and the daily activity table built with them) compared across adapters.
ROLLUPS = {
    "marts.fct_usage_hourly": ("account_id", "hour_start"),
    "marts.fct_usage_daily": ("account_id", "usage_date"),
    "marts.fct_usage_monthly": ("account_id", "usage_month"),
    "intermediate.int_account_activity_days": ("account_id", "activity_date"),
}
ROLLUP_JOBS = ("hourly_snapshot_job", "daily_rollup_job", "monthly_rollup_job")
END = datetime(2026, 3, 5, tzinfo=UTC)
DAYS = 3
# PostgreSQL type (information_schema.data_type) -> DuckDB type (prefix).
TYPES = {
    "bigint": "BIGINT", "integer": "INTEGER", "numeric": "DECIMAL", "text": "VARCHAR", "date": "DATE",
    "boolean": "BOOLEAN", "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
}


def pg_only_constructs(sql: str) -> list[str]:
    """The PostgreSQL-only constructs in a model's or macro's SQL, comments left out."""
    text = COMMENTS.sub(" ", sql).lower()
    return [name for name, pattern in PG_ONLY.items() if re.search(pattern, text)]


def pg_only_models(manifest: dict) -> dict[str, list[str]]:
    """Model name -> 'where: construct' for each model that is not portable yet."""
    macros = manifest["macros"]
    project = manifest["metadata"].get("project_name", "usage_analytics")
    found: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        findings = [f"model: {c}" for c in pg_only_constructs(node["raw_code"])]
        pending, seen = list(node["depends_on"]["macros"]), set()
        while pending:
            uid = pending.pop()
            macro = macros.get(uid)
            if uid in seen or macro is None or macro["package_name"] != project:
                continue
            seen.add(uid)
            pending.extend(macro["depends_on"]["macros"])
            if not ADAPTER_IMPLEMENTATION.match(macro["name"]):
                findings += [f"macro {macro['name']}: {c}" for c in pg_only_constructs(macro["macro_sql"])]
        if findings:
            found[node["name"]] = sorted(set(findings))
    return found


def run_dbt(args: list[str], work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(DBT), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"
    return result


def require_dbt_duckdb() -> None:
    if importlib.util.find_spec("dbt.adapters.duckdb") is not None:
        return
    reason = f"dbt-duckdb is not installed (CI installs it: .venv/bin/pip install '{DBT_DUCKDB}')"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " and CI=true: .ci/run must install it")
    pytest.skip(reason)


def test_only_allowlisted_models_hold_postgresql_only_sql(tmp_path):
    run_dbt(["parse"], tmp_path, {})
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    found = pg_only_models(manifest)
    allowlist = yaml.safe_load(ALLOWLIST.read_text())["models"] or {}
    assert all(str(entry.get("reason", "")).strip() for entry in allowlist.values()), \
        "every allowlisted model needs a reason"
    unlisted = {m: found[m] for m in sorted(set(found) - set(allowlist))}
    assert not unlisted, (
        "PostgreSQL-only SQL outside adapter-dispatched macros (use dbt's cross-database macros or "
        f"dispatch; docs/portability.md), in models not on {ALLOWLIST.name}: {unlisted}"
    )
    portable = sorted(set(allowlist) - set(found))
    assert not portable, f"portable now: remove {portable} from {ALLOWLIST.name}"


def test_project_compiles_for_duckdb(tmp_path):
    require_dbt_duckdb()
    env = {"DBT_DUCKDB_PATH": str(tmp_path / "compile.duckdb")}
    run_dbt(["compile", "--target", "duckdb"], tmp_path, env)
    compiled = list((tmp_path / "target" / "compiled").rglob("*.sql"))
    models = {p.stem for p in (DBT_PROJECT_DIR / "models").rglob("*.sql")}
    assert models <= {p.stem for p in compiled}, models - {p.stem for p in compiled}


def duckdb_type(data_type: str, precision: int | None, scale: int | None) -> str:
    if data_type == "numeric":
        return f"decimal({precision}, {scale})" if precision is not None else "double"
    if data_type not in TYPES:
        raise ValueError(f"no DuckDB type for the PostgreSQL type {data_type!r}")
    return TYPES[data_type].lower()


def copy_raw_tables(pg: psycopg.Connection, duck, folder: Path) -> None:
    """Every raw table the dbt sources name, copied with COPY through CSV, same columns and types."""
    sources = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "__sources.yml").read_text())
    tables = [t["name"] for s in sources["sources"] if s["schema"] == "raw" for t in s["tables"]]
    duck.execute("create schema raw")
    for table in tables:
        columns = pg.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns"
            " WHERE table_schema = 'raw' AND table_name = %s ORDER BY ordinal_position", (table,)
        ).fetchall()
        assert columns, f"raw.{table} is not in the warehouse"
        duck.execute(f"create table raw.{table} ({', '.join(f'{c} {duckdb_type(*t)}' for c, *t in columns)})")
        path = folder / f"{table}.csv"
        with path.open("wb") as out, pg.cursor().copy(f"COPY raw.{table} TO STDOUT (FORMAT csv, HEADER)") as copy:
            for chunk in copy:
                out.write(chunk)
        duck.execute(f"copy raw.{table} from '{path}' (format csv, header, allow_quoted_nulls false)")
        rows = pg.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
        assert duck.execute(f"select count(*) from raw.{table}").fetchone()[0] == rows, table


@pytest.fixture(scope="module")
def duckdb_rollups(warehouse_url: str, dagster_instance, tmp_path_factory) -> Iterator[Path]:
    """The rollups built on PostgreSQL by the platform's runs, and on DuckDB by dbt from a copy
    of the same raw tables, with the windows the partitioned runs give (hours and days of the
    range, the range's month)."""
    require_dbt_duckdb()
    import duckdb

    from orchestration.definitions import defs
    from orchestration.pipeline import run_layers
    from orchestration.source.simulator import apply_source_schema, simulate_history

    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        apply_source_schema(conn)
        simulate_history(conn, accounts=25, days=DAYS, seed=17, end=END, late_rate=0.02, bad_rate=0.01)
        conn.commit()
    start = END - timedelta(days=DAYS)
    # The rollup layers; the business marts' run (dimensions_job) is other tests' concern.
    runs = [r for r in run_layers(defs, dagster_instance, start, END) if r.job in ROLLUP_JOBS]
    assert len(runs) == len(ROLLUP_JOBS) and all(r.success for r in runs), runs

    work = tmp_path_factory.mktemp("duckdb")
    path = work / "warehouse.duckdb"
    with psycopg.connect(warehouse_url, options="-c timezone=UTC") as pg, duckdb.connect(str(path)) as duck:
        copy_raw_tables(pg, duck, work)
    month = (start.replace(day=1), (start.replace(day=1) + timedelta(days=32)).replace(day=1))
    for tag, (window_start, window_end) in (("hourly", (start, END)), ("daily", (start, END)), ("monthly", month)):
        env = {"DBT_DUCKDB_PATH": str(path), "DBT_WINDOW_START": window_start.isoformat(),
               "DBT_WINDOW_END": window_end.isoformat()}
        run_dbt(["build", "--target", "duckdb", "--select", f"tag:{tag}"], work, env)
    yield path


def read_table(query, table: str, keys: tuple[str, ...]) -> tuple[list[str], list[tuple]]:
    cursor = query(f"select * from {table} order by {', '.join(keys)}")
    return [d[0] for d in cursor.description], [tuple(row) for row in cursor.fetchall()]


def assert_same_rollups(duckdb_path: Path, db: psycopg.Connection) -> None:
    import duckdb

    with duckdb.connect(str(duckdb_path), read_only=True) as duck:
        for table, keys in ROLLUPS.items():
            schema, name = table.split(".")
            pg_types = db.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position", (schema, name)
            ).fetchall()
            duck_types = duck.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position", [schema, name]
            ).fetchall()
            assert [(c, TYPES[t]) for c, t in pg_types] == [(c, t.split("(")[0]) for c, t in duck_types], table
            pg_columns, pg_rows = read_table(db.execute, table, keys)
            duck_columns, duck_rows = read_table(duck.execute, table, keys)
            assert duck_columns == pg_columns, table
            assert len(duck_rows) == len(pg_rows) > 0, (table, len(duck_rows), len(pg_rows))
            differing = [
                (dict(zip(keys, pg_row[:len(keys)], strict=True)), column, pg_value, duck_value)
                for pg_row, duck_row in zip(pg_rows, duck_rows, strict=True)
                for column, pg_value, duck_value in zip(pg_columns, pg_row, duck_row, strict=True)
                if pg_value != duck_value
            ]
            assert not differing, (table, len(differing), differing[:5])


def test_usage_rollups_on_duckdb_equal_postgresql(duckdb_rollups, db):
    assert_same_rollups(duckdb_rollups, db)


def test_rerunning_a_day_and_its_month_on_duckdb_changes_nothing(duckdb_rollups, db, tmp_path):
    """window_replace on DuckDB: the day's window is deleted and rebuilt, nothing else moves."""
    day = (END - timedelta(days=2), END - timedelta(days=1))
    month = (day[0].replace(day=1), (day[0].replace(day=1) + timedelta(days=32)).replace(day=1))
    for tags, (window_start, window_end) in ((["tag:hourly", "tag:daily"], day), (["tag:monthly"], month)):
        env = {"DBT_DUCKDB_PATH": str(duckdb_rollups), "DBT_WINDOW_START": window_start.isoformat(),
               "DBT_WINDOW_END": window_end.isoformat()}
        run_dbt(["run", "--target", "duckdb", "--select", *tags], tmp_path, env)
    assert_same_rollups(duckdb_rollups, db)
