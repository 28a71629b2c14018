"""The measurements, one function per figure; bench/run.py sequences them and repeats them.

Every function works on the benchmark database (WAREHOUSE_URL, set by bench/database.py) and returns
plain numbers: seconds are wall-clock (`time.perf_counter`), rows are counted by the code that moved
them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from orchestration.settings import PROJECT_ROOT
from orchestration.warehouse.connection import connect, dbt_env

FLOOR_SQL = Path(__file__).with_name("floor.sql")
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
USAGE_LAYERS = ("hourly_snapshot_job", "daily_rollup_job", "monthly_rollup_job")
HOUR = timedelta(hours=1)
STORAGE_URL_ENV = "BENCH_DAGSTER_STORAGE_URL"


def simulate(url: str, accounts: int, days: int, seed: int, end: datetime) -> dict:
    """The source product's history, without bad rows so that the floor and the platform agree."""
    from orchestration.source.simulator import apply_source_schema, simulate_history
    from orchestration.warehouse.migrate import migrate

    migrate(url)
    began = time.perf_counter()
    with connect(url) as conn:
        apply_source_schema(conn)
        counts = simulate_history(conn, accounts=accounts, days=days, seed=seed, end=end, bad_rate=0.0)
        conn.commit()
    return {"seconds": time.perf_counter() - began, "rows": counts}


def usage_rows(url: str) -> int:
    with connect(url) as conn:
        return sum(conn.execute(f"SELECT count(*) FROM app.{t}").fetchone()[0]
                   for t in ("sessions", "usage_events", "storage_readings"))


def ingest(url: str, start: datetime, end: datetime) -> dict:
    """Source rows into empty raw tables through the platform's own extraction (COPY, classify,
    replace windows). The tables are emptied first and end up as they were: every run loads the
    same rows from the same state, as a first backfill does.
    """
    from orchestration.snapshots.run import snapshot_window
    from orchestration.snapshots.tables import HOURLY_SNAPSHOT_TABLES

    tables = [f"{schema}.{t.name}" for t in HOURLY_SNAPSHOT_TABLES for schema in ("raw", "quarantine")]
    with connect(url) as conn:
        conn.execute(f"TRUNCATE {', '.join(tables)}, raw.snapshot_log")
        conn.commit()
    began = time.perf_counter()
    results = snapshot_window(url, url, start, end)
    seconds = time.perf_counter() - began
    rows = sum(r.rows_loaded + r.rows_quarantined for r in results)
    return {"seconds": seconds, "rows": rows, "rows_per_second": rows / seconds}


def _instance_dir(path: Path) -> str:
    """A fresh Dagster home configured as `make` configures one (orchestration/dagster_instance.py):
    PostgreSQL storage (an empty database on the benchmark's server), batched event writes, telemetry
    off. The storage URL reaches the child processes through the environment, not the file.
    """
    from bench.database import fresh_dagster_storage
    from orchestration.dagster_instance import apply_event_settings, instance_yaml, storage_url

    path.mkdir(parents=True, exist_ok=True)
    os.environ[STORAGE_URL_ENV] = storage_url(fresh_dagster_storage())
    apply_event_settings()
    (path / "dagster.yaml").write_text(instance_yaml(url_env=STORAGE_URL_ENV))
    return str(path)


def backfill(start: datetime, end: datetime, instance_dir: Path) -> dict:
    """Every layer through Dagster in a child process (bench/backfill_child.py); parent-side wall time."""
    _instance_dir(instance_dir)
    began = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "bench.backfill_child", start.isoformat(), end.isoformat(),
                          str(instance_dir)], cwd=PROJECT_ROOT, env=os.environ.copy(), check=True,
                         capture_output=True, text=True)
    wall = time.perf_counter() - began
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not all(layer["success"] for layer in result["layers"]):
        raise RuntimeError(f"backfill failed: {result['layers']}\n{out.stderr[-3000:]}")
    layers = {layer["job"]: layer["seconds"] for layer in result["layers"]}
    return {**result, "wall_seconds": wall,
            "usage_layers_seconds": sum(layers.get(job, 0.0) for job in USAGE_LAYERS),
            "dimensions_seconds": layers.get("dimensions_job", 0.0)}


def _floor_statements() -> list[tuple[str, list[str]]]:
    steps = re.split(r"^-- step: (\w+)\n", FLOOR_SQL.read_text(), flags=re.M)[1:]
    out = []
    for name, body in zip(steps[::2], steps[1::2], strict=True):
        statements = [s.strip() for s in re.split(r";\s*$", body, flags=re.M)]
        out.append((name, [s for s in statements if s and not all(
            line.startswith("--") for line in s.splitlines())]))
    return out


def floor(url: str, start: datetime, end: datetime) -> dict:
    """bench/floor.sql in one session; seconds per step and in total (without the reset step)."""
    params = {"start": start, "end": end}
    steps = {}
    with connect(url, autocommit=True) as conn:
        for name, statements in _floor_statements():
            began = time.perf_counter()
            for statement in statements:
                conn.execute(statement, params if "%(" in statement else None)
            steps[name] = time.perf_counter() - began
        extracted = sum(conn.execute(f"SELECT count(*) FROM bench_floor.{t}").fetchone()[0] for t in (
            "accounts", "subscriptions", "sessions", "usage_events", "invoices", "account_state_hourly"))
    return {"steps": steps, "seconds": sum(v for k, v in steps.items() if k != "reset"),
            "extracted_rows": extracted, "extract_rows_per_second": extracted / steps["extract"]}


def floor_check(url: str) -> dict:
    """The floor and the platform computed the same thing: totals and row counts side by side."""
    queries = {
        "hourly": "SELECT count(*), sum(sessions_created), sum(api_calls), round(sum(audio_minutes_processed), 3), "
                  "sum(concurrent_sessions_peak) FROM {}",
        "daily": "SELECT count(*), sum(sessions_created), sum(exports_generated), "
                 "round(sum(coalesce(storage_used_mb, 0)), 3) FROM {}",
        "monthly": "SELECT count(*), sum(api_calls), sum(concurrent_sessions_peak) FROM {}",
    }
    tables = {"hourly": ("marts.fct_usage_hourly", "bench_floor.usage_hourly"),
              "daily": ("marts.fct_usage_daily", "bench_floor.usage_daily"),
              "monthly": ("marts.fct_usage_monthly", "bench_floor.usage_monthly")}
    out = {}
    with connect(url) as conn:
        for grain, query in queries.items():
            platform, plain = (
                [str(v) for v in conn.execute(query.format(t)).fetchone()] for t in tables[grain])
            out[grain] = {"platform": platform, "floor": plain, "equal": platform == plain}
    return out


def _dbt_seconds(result) -> float:
    """dbt's own execution time of the models and tests in a run (dagster-dbt's "Execution Duration")."""
    durations: dict[str, float] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        value = materialization.metadata.get("Execution Duration")
        if value is not None:
            durations[materialization.asset_key.to_user_string()] = float(value.value)
    for evaluation in result.get_asset_check_evaluations():
        value = evaluation.metadata.get("Execution Duration")
        if value is not None:
            durations[f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"] = float(value.value)
    return sum(durations.values())


def hourly_ticks(url: str, history_start: datetime | None, history_end: datetime, ticks: int,
                 instance_dir: Path) -> list[dict]:
    """The scheduled hourly run, `ticks` times: new source activity for one hour, then the run the
    schedule would request for it (late-data look-back included), in process with definitions loaded.

    With `history_start`, the hourly layer is first built over [history_start, history_end) (all the
    tick reads). One warm-up tick is not recorded: it pays one-off costs (dbt's first parse in this
    process) and extracts, once, the look-back hours before a short history began.

    Broken out: the extraction SQL (the run's window re-extracted by `snapshot_window` right after, the
    same work since writes replace windows), dbt's own model and test execution time, and the rest -
    Dagster run orchestration, event log writes and the dbt process start-up - as overhead.
    """
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.schedules import HOURLY_KEY_FORMAT, hourly_tick_request
    from orchestration.settings import get_settings
    from orchestration.snapshots.run import snapshot_window
    from orchestration.source.simulator import append_activity

    job = defs.resolve_job_def("hourly_snapshot_job")
    out = []
    with dg.DagsterInstance.local_temp(tempdir=_instance_dir(instance_dir)) as instance:
        if history_start is not None:
            tags = {"dagster/asset_partition_range_start": history_start.strftime(HOURLY_KEY_FORMAT),
                    "dagster/asset_partition_range_end": (history_end - HOUR).strftime(HOURLY_KEY_FORMAT)}
            job.execute_in_process(instance=instance, tags=tags, run_config=QUIET, raise_on_error=True)
        for k in range(1, ticks + 2):
            hour_end = history_end + k * HOUR
            with connect(url) as conn:
                append_activity(conn, until=hour_end, bad_rate=0.0)
                conn.commit()
            request = hourly_tick_request(hour_end + timedelta(minutes=5), url, url,
                                          get_settings().late_data_lookback_hours, instance)
            began = time.perf_counter()
            result = job.execute_in_process(instance=instance, tags=request.tags, run_config=QUIET,
                                            raise_on_error=True)
            wall = time.perf_counter() - began
            first = datetime.strptime(request.tags["dagster/asset_partition_range_start"], HOURLY_KEY_FORMAT)
            last = datetime.strptime(request.tags["dagster/asset_partition_range_end"], HOURLY_KEY_FORMAT)
            first, last = first.replace(tzinfo=history_end.tzinfo), last.replace(tzinfo=history_end.tzinfo)
            began = time.perf_counter()
            snapshot_window(url, url, first, last + HOUR)
            snapshot_sql = time.perf_counter() - began
            dbt_sql = _dbt_seconds(result)
            if k == 1:
                continue  # warm-up
            out.append({"wall_seconds": wall, "snapshot_sql_seconds": snapshot_sql, "dbt_sql_seconds": dbt_sql,
                        "overhead_seconds": wall - snapshot_sql - dbt_sql,
                        "hours": int((last - first) / HOUR) + 1})
    return out


def code_load_seconds() -> float:
    """A fresh process importing the code location: what each run launched in its own process pays."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import orchestration.definitions"], cwd=PROJECT_ROOT,
                   env=os.environ.copy(), check=True, capture_output=True)
    return time.perf_counter() - began


def dbt_invocation_seconds(url: str) -> float:
    """One `dbt build` of fct_usage_hourly over an hour with no data: dbt's fixed cost per invocation."""
    project = PROJECT_ROOT / "dbt_project"
    window = {"DBT_WINDOW_START": "2000-01-01T00:00:00+00:00", "DBT_WINDOW_END": "2000-01-01T01:00:00+00:00"}
    began = time.perf_counter()
    dbt = str(Path(sys.executable).with_name("dbt"))
    subprocess.run([dbt, "build", "--select", "fct_usage_hourly", "--exclude-resource-type", "unit_test",
                    "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"],
                   env={**os.environ, **dbt_env(url), **window}, check=True, capture_output=True)
    return time.perf_counter() - began
