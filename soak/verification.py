"""What a soak proves at its end, each check a number for the summary (0 is good, except counts).

- drifted cells: every usage, MRR and revenue mart cell compared with the independent pandas
  computations from the source the tests use (tests/usage_expectations.py,
  tests/revenue_expectations.py); a row missing on either side counts all its value cells;
- deliveries: every period the report schedules asked for has ledger rows, each ledger row is
  'sent', and the mail server received each sent Message-ID exactly once (lost / duplicate e-mails);
  the CR/LF account's owner is among the recipients of the monthly usage summary;
- alerts: the operator e-mails received, matched to the faults that should have caused them;
- runs left STARTED in the Dagster instance;
- source rows in neither raw nor quarantine, per extracted table, over the extracted window.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import dagster as dg
import pandas as pd
import psycopg

from orchestration.snapshots.tables import HOURLY_SNAPSHOT_TABLES
from soak.faults import FaultPlan
from soak.smtp import SoakSmtpServer
from tests.revenue_expectations import expected_mrr_monthly, expected_revenue_monthly
from tests.usage_expectations import COUNT_METRICS, expected_daily, expected_hourly, read

FLOAT_METRICS = ["audio_minutes_processed", "storage_used_mb"]
USAGE_METRICS = COUNT_METRICS + ["concurrent_sessions_peak"] + FLOAT_METRICS
MRR_COLUMNS = ["mrr", "previous_mrr", "mrr_change", "movement"]
REVENUE_COLUMNS = ["invoices", "subscription_revenue", "overage_revenue", "total_revenue", "collected_revenue"]


def drifted_cells(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str], columns: list[str]
                  ) -> tuple[int, list[dict]]:
    """Cells that differ (a row on one side only counts every column); up to 5 examples."""
    merged = actual.merge(expected, on=keys, how="outer", suffixes=("", "_expected"), indicator=True)
    one_sided = merged[merged._merge != "both"]
    both = merged[merged._merge == "both"]
    drift = len(one_sided) * len(columns)
    examples = one_sided[keys + ["_merge"]].head(3).astype(str).to_dict("records")
    for column in columns:
        a, e = both[column], both[f"{column}_expected"]
        if column in FLOAT_METRICS:
            a, e = a.astype(float), e.astype(float)
            bad = ~(((a - e).abs() < 1e-6) | (a.isna() & e.isna()))
        else:  # exact: counts, Decimals (0.00 == 0), movement labels
            bad = (a != e) & ~(a.isna() & e.isna())
        drift += int(bad.sum())
        examples += both[bad][keys + [column, f"{column}_expected"]].head(2).astype(str).to_dict("records")
    return drift, examples[:5]


def mart_drift(warehouse: psycopg.Connection, source: psycopg.Connection, first_hour: datetime,
               end: datetime) -> dict[str, dict]:
    """Per mart: drifted cells over the complete periods in [first_hour, end)."""
    start, stop = pd.Timestamp(first_hour), pd.Timestamp(end)
    hourly = expected_hourly(source)
    hourly = hourly[(hourly.hour_start >= start) & (hourly.hour_start < stop)]
    actual = read(warehouse, "SELECT * FROM marts.fct_usage_hourly WHERE hour_start >= %s AND hour_start < %s",
                  (first_hour, end))
    actual["hour_start"] = pd.to_datetime(actual.hour_start, utc=True)
    out = {"fct_usage_hourly": drifted_cells(actual, hourly, ["account_id", "hour_start"], USAGE_METRICS)}

    days = list(pd.date_range(start.ceil("D"), stop.floor("D") - pd.Timedelta(days=1), freq="D"))
    daily = expected_daily(source, hourly, days)
    actual = read(warehouse, "SELECT * FROM marts.fct_usage_daily WHERE usage_date >= %s AND usage_date < %s",
                  (days[0].date(), stop.floor("D").date()))
    actual["usage_date"] = pd.to_datetime(actual.usage_date).dt.tz_localize("UTC")
    out["fct_usage_daily"] = drifted_cells(actual, daily, ["account_id", "usage_date"], USAGE_METRICS)

    daily["usage_month"] = daily.usage_date.dt.tz_localize(None).dt.to_period("M").dt.start_time
    months = [m for m in daily.usage_month.unique()
              if pd.Timestamp(m).tz_localize("UTC") >= start and (pd.Timestamp(m) + pd.offsets.MonthBegin()
                                                                  ).tz_localize("UTC") <= stop.floor("D")]
    monthly = daily[daily.usage_month.isin(months)].sort_values("usage_date").groupby(
        ["account_id", "usage_month"]).agg(
        **{m: (m, "sum") for m in COUNT_METRICS + ["audio_minutes_processed"]},
        concurrent_sessions_peak=("concurrent_sessions_peak", "max"),
        storage_used_mb=("storage_used_mb", "last"),
    ).reset_index()
    actual = read(warehouse, "SELECT * FROM marts.fct_usage_monthly")
    actual["usage_month"] = pd.to_datetime(actual.usage_month)
    actual = actual[actual.usage_month.isin(months)]
    out["fct_usage_monthly"] = drifted_cells(actual, monthly, ["account_id", "usage_month"], USAGE_METRICS)

    actual = read(warehouse, "SELECT account_id, mrr_month, mrr, previous_mrr, mrr_change, movement "
                             "FROM marts.fct_mrr_monthly")
    out["fct_mrr_monthly"] = drifted_cells(actual, expected_mrr_monthly(source, end), ["account_id", "mrr_month"],
                                           MRR_COLUMNS)
    actual = read(warehouse, "SELECT * FROM marts.fct_revenue_monthly")
    expected = expected_revenue_monthly(source, first_hour, end)
    out["fct_revenue_monthly"] = drifted_cells(actual, expected, ["revenue_month", "plan_id"], REVENUE_COLUMNS)
    return {name: {"drifted_cells": n, "examples": ex} for name, (n, ex) in out.items()}


def unaccounted_source_rows(warehouse: psycopg.Connection, source: psycopg.Connection, first_hour: datetime,
                            end: datetime) -> dict[str, int]:
    """Per table: source rows of the extracted window minus rows in raw and quarantine (0: all there)."""
    out = {}
    for table in HOURLY_SNAPSHOT_TABLES:
        lower = "-infinity" if table.cumulative else first_hour
        query = psycopg.ClientCursor(source).mogrify(table.source_query, {"start": lower, "end": end})
        in_source = source.execute(f"SELECT count(*) FROM ({query}) q").fetchone()[0]
        in_raw = warehouse.execute(f"SELECT count(*) FROM raw.{table.name} WHERE {table.event_time} >= %s "
                                   f"AND {table.event_time} < %s", (lower, end)).fetchone()[0]
        quarantined = warehouse.execute(f"SELECT count(*) FROM quarantine.{table.name} WHERE partition_hour >= %s "
                                        "AND partition_hour < %s", (lower, end)).fetchone()[0]
        out[table.name] = in_source - in_raw - quarantined
    return out


def deliveries(warehouse: psycopg.Connection, smtp: SoakSmtpServer, scheduled: list[tuple[str, str]],
               report_kinds: dict[str, list[str]], crlf_owner: str | None, operator: str) -> dict:
    """Lost and duplicate e-mails, from the ledger and what the mail server received."""
    ledger = read(warehouse, "SELECT report_id, period, recipient, status, message_id FROM reports.delivery_ledger")
    received = Counter(str(m["Message-ID"]) for rcpts, m in smtp.messages if operator not in rcpts)
    missing_periods = [(report, period) for job, period in scheduled for report in report_kinds.get(job, [])
                       if ledger[(ledger.report_id == report) & (ledger.period == period)].empty]
    not_sent = ledger[ledger.status != "sent"]
    sent = ledger[ledger.status == "sent"]
    never_arrived = sent[~sent.message_id.isin(list(received))]
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    crlf_served = bool(crlf_owner) and not sent[(sent.report_id == "usage_summary")
                                               & (sent.recipient == crlf_owner)].empty
    return {
        "deliveries": len(sent),
        "scheduled_periods": len(scheduled),
        "periods_without_delivery": [f"{r} {p}" for r, p in missing_periods],
        "lost_emails": len(not_sent) + len(never_arrived) + len(missing_periods),
        "lost_examples": not_sent.head(5).astype(str).to_dict("records"),
        "duplicate_emails": duplicates,
        "crash_window_duplicates": 0,  # no delivery is killed between the server's 250 and the ledger write
        "crlf_owner_served": crlf_served,
    }


def alerts(smtp: SoakSmtpServer, operator: str, faults: FaultPlan) -> dict:
    """Operator e-mails received, each matched to the faults whose marker it carries (a run id, an
    account, a report period); one e-mail may tell of two faults met by the same delivery."""
    mails = [m for rcpts, m in smtp.messages if operator in rcpts]
    markers = faults.alert_markers()
    per_fault = {kind: 0 for kind in faults.faults}
    unexpected = []
    for mail in mails:
        body = mail.get_body(("plain",)).get_content() if mail.is_multipart() else mail.get_content()
        matched = [kind for kind, marker in markers.items() if marker in body]
        for kind in matched:
            per_fault[kind] += 1
        if not matched:
            unexpected.append(str(mail["Subject"]))
    return {"alerts": len(mails), "alerts_per_fault": per_fault, "unexpected_alerts": unexpected}


def runs_left_started(instance: dg.DagsterInstance) -> list[str]:
    return [r.run_id for r in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))]
