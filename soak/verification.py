"""What a soak proves at its end, each check a number for the summary (0 is good, except counts).

- drifted cells: every usage, MRR, revenue and customer mart cell compared with the independent
  pandas computations from the source the tests use (tests/usage_expectations.py,
  tests/revenue_expectations.py, tests/customer_expectations.py); a row missing on either side
  counts all its value cells;
- deliveries: every period the report schedules asked for has ledger rows, each ledger row is
  'sent', and the mail server received each sent Message-ID exactly once (lost / duplicate e-mails);
  the CR/LF account's owner is among the recipients of the monthly usage summary;
- alerts: the operator e-mails received, matched to the faults that should have caused them;
- runs left STARTED in the Dagster instance;
- source rows in neither raw nor quarantine, per extracted table, over the extracted window.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import dagster as dg
import pandas as pd
import psycopg

from orchestration.snapshots.tables import HOURLY_SNAPSHOT_TABLES
from soak.faults import FaultPlan
from soak.smtp import SoakSmtpServer
from tests.customer_expectations import (
    expected_activity_churn_monthly,
    expected_cohort_retention_monthly,
    expected_customer_ltv,
    expected_funnel_daily,
    expected_plan_utilization_monthly,
    expected_signups_daily,
    expected_subscription_churn_monthly,
)
from tests.revenue_expectations import expected_mrr_monthly, expected_revenue_monthly
from tests.usage_expectations import COUNT_METRICS, expected_daily, expected_hourly, read

FLOAT_METRICS = ["audio_minutes_processed", "storage_used_mb"]
USAGE_METRICS = COUNT_METRICS + ["concurrent_sessions_peak"] + FLOAT_METRICS
MRR_COLUMNS = ["mrr", "previous_mrr", "mrr_change", "movement"]
REVENUE_COLUMNS = ["invoices", "subscription_revenue", "overage_revenue", "total_revenue", "collected_revenue"]
# the customer marts' compared columns; rounded numerics within these tolerances, the rest exact
RATE, MONEY, PERCENT = 1e-6, 0.006, 0.011
CUSTOMER_MARTS: dict[str, tuple[list[str], dict[str, float]]] = {
    "fct_signups_daily": (["signups", "is_peak"], {}),
    "fct_funnel_daily": (["signups", "activated_accounts", "trial_accounts", "paid_accounts",
                          "trial_and_paid_accounts"], {"paid_conversion_rate": RATE}),
    "fct_subscription_churn_monthly": (
        ["is_complete_month", "paying_accounts_at_month_start", "churned_accounts", "voluntary_churned_accounts",
         "involuntary_churned_accounts", "churned_accounts_paying_at_start", "voluntary_churned_paying_at_start",
         "involuntary_churned_paying_at_start"], {"subscription_churn_rate": RATE}),
    "fct_activity_churn_monthly": (["activity_churn_days", "active_accounts_before_month_start",
                                    "activity_churned_accounts"], {"activity_churn_rate": RATE}),
    "fct_plan_utilization_monthly": (["plan_id"], {
        "audio_minutes_utilization_pct": PERCENT, "sessions_utilization_pct": PERCENT,
        "exports_utilization_pct": PERCENT, "storage_utilization_pct": PERCENT, "max_utilization_pct": PERCENT,
        "max_utilization_pct_change_mom": 2 * PERCENT}),
    "fct_cohort_retention_monthly": (["months_since_signup", "cohort_accounts", "paying_accounts",
                                      "active_accounts"], {"mrr": MONEY, "logo_retention_rate": RATE}),
    "fct_customer_ltv": (["paying_account_months", "churned_account_months"], {"arpa": MONEY, "ltv": PERCENT}),
}
# Late rows arrive up to 72 h after their hour (the soak's simulator); the daemon wakes at least daily.
LATEST_ARRIVAL = timedelta(hours=73)
LONGEST_SLEEP = timedelta(hours=24)


def drifted_cells(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str], columns: list[str],
                  tolerances: dict[str, float] | None = None) -> tuple[int, list[dict]]:
    """Cells that differ (a row on one side only counts every column); up to 5 examples.

    Columns in `tolerances` (compared too) are compared as floats within their tolerance (NULL only
    equals NULL), the usage marts' float metrics within 1e-6, any other column exactly."""
    columns = columns + [c for c in tolerances or {} if c not in columns]
    tolerances = {**dict.fromkeys(FLOAT_METRICS, 1e-6), **(tolerances or {})}
    merged = actual.merge(expected, on=keys, how="outer", suffixes=("", "_expected"), indicator=True)
    one_sided = merged[merged._merge != "both"]
    both = merged[merged._merge == "both"]
    drift = len(one_sided) * len(columns)
    examples = one_sided[keys + ["_merge"]].head(3).astype(str).to_dict("records")
    for column in columns:
        a, e = both[column], both[f"{column}_expected"]
        if column in tolerances:
            a, e = a.astype(float), e.astype(float)
            bad = ~(((a - e).abs() <= tolerances[column]) | (a.isna() & e.isna()))
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
    out.update(customer_mart_drift(warehouse, source, monthly[["account_id", "usage_month"]]))
    return {name: {"drifted_cells": n, "examples": ex} for name, (n, ex) in out.items()}


def customer_mart_drift(warehouse: psycopg.Connection, source: psycopg.Connection, usage_months: pd.DataFrame
                        ) -> dict[str, tuple[int, list[dict]]]:
    """The customer marts over the periods that were final when the soak last rebuilt them.

    They are unpartitioned and rebuilt at :20 of each tick from the snapshot taken at its :05
    (the data horizon: the simulator's last hour), but read activity from the daily layer, which the
    automation brings up to date at :25, after that rebuild: at the last rebuild it held the days as
    of the tick before, taken at least LONGEST_SLEEP earlier. A day's activity is final once no late
    row can arrive after that: it ended LATEST_ARRIVAL before it. Periods (days, months) compared
    end by `horizon` where only accounts and subscriptions count, by `activity_end` where activity
    does; `usage_months` are the (account_id, usage_month) keys of the independent monthly usage.
    """
    horizon = source.execute("SELECT horizon FROM app.simulation_state").fetchone()[0]
    activity_end = pd.Timestamp(horizon - LONGEST_SLEEP - LATEST_ARRIVAL).floor("D")
    horizon_day = pd.Timestamp(horizon).floor("D")

    def ended_by(dates: pd.Series, end: pd.Timestamp, length: pd.DateOffset | pd.Timedelta) -> pd.Series:
        return pd.to_datetime(dates).dt.tz_localize("UTC") + length <= end

    day, month = pd.Timedelta(days=1), pd.offsets.MonthBegin(1)
    window = pd.Timedelta(days=8)  # the signup day and its activation window
    months = usage_months.assign(usage_month=lambda k: pd.to_datetime(k.usage_month).dt.date)
    expected = {
        "fct_signups_daily": (expected_signups_daily(source), ["signup_date", "user_type", "acquisition_channel",
                                                               "country"], "signup_date", horizon_day, day),
        "fct_funnel_daily": (expected_funnel_daily(source, activity_end), ["signup_date", "user_type"],
                             "signup_date", activity_end, window),
        "fct_subscription_churn_monthly": (expected_subscription_churn_monthly(source, horizon), ["month_start"],
                                           "month_start", pd.Timestamp(horizon), month),
        "fct_activity_churn_monthly": (expected_activity_churn_monthly(source, horizon, activity_end),
                                       ["month_start"], "month_start", activity_end, month),
        "fct_plan_utilization_monthly": (expected_plan_utilization_monthly(source, months),
                                         ["account_id", "usage_month"], "usage_month", activity_end, month),
        "fct_cohort_retention_monthly": (expected_cohort_retention_monthly(source, horizon, activity_end),
                                         ["cohort_month", "period_month"], "period_month", activity_end, month),
        "fct_customer_ltv": (expected_customer_ltv(source, horizon), ["plan_id", "cohort_month"], None, None, None),
    }
    out = {}
    for mart, (frame, keys, period, end, length) in expected.items():
        actual = read(warehouse, f"SELECT * FROM marts.{mart}")
        if period:  # LTV sums over every complete month of its cohort: the horizon bounds it as a whole
            actual = actual[ended_by(actual[period], end, length)]
            frame = frame[ended_by(frame[period], end, length)]
        columns, tolerances = CUSTOMER_MARTS[mart]
        out[mart] = drifted_cells(actual, frame, keys, columns, tolerances)
    return out


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
