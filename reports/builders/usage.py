"""The monthly usage summary, one Document per account on a plan at the month's end."""

from __future__ import annotations

import pandas as pd

from reports.catalogue import ReportSpec
from reports.charts import bar_chart
from reports.document import Chart, Document, Metric, Table, empty_document
from reports.formatting import change_note, format_value
from reports.periods import Period

# (column, label, kind) in the order the report lists them
METRICS = [
    ("audio_minutes_processed", "Audio minutes", "number"),
    ("sessions_created", "Sessions", "integer"),
    ("transcriptions_completed", "Transcriptions completed", "integer"),
    ("exports_generated", "Exports", "integer"),
    ("api_calls", "API calls", "integer"),
    ("share_links_created", "Share links created", "integer"),
    ("storage_used_mb", "Storage at month end (MB)", "number"),
    ("concurrent_sessions_peak", "Peak concurrent sessions", "integer"),
]
# limited dimensions: (label, usage column, limit column, utilization column, projection column)
LIMITS = [
    ("Audio minutes", "audio_minutes_processed", "limit_audio_minutes", "audio_minutes_utilization_pct",
     "projected_audio_minutes"),
    ("Sessions", "sessions_created", "limit_sessions", "sessions_utilization_pct", "projected_sessions"),
    ("Exports", "exports_generated", "limit_exports", "exports_utilization_pct", "projected_exports"),
    ("Storage (MB)", "storage_used_mb", "limit_storage_mb", "storage_utilization_pct", "projected_storage_mb"),
]
ACTIVITY = ["sessions_created", "exports_generated", "api_calls", "share_links_created"]
DAILY_COLUMNS = ["usage_date", "sessions_created", "audio_minutes_processed", "transcriptions_completed",
                 "exports_generated", "api_calls", "share_links_created", "storage_used_mb"]


def peak_day(daily: pd.DataFrame) -> tuple[object, float] | None:
    """The day with the most audio minutes (earliest on ties); None without any."""
    if daily.empty or daily["audio_minutes_processed"].fillna(0).max() <= 0:
        return None
    ordered = daily.sort_values(["audio_minutes_processed", "usage_date"], ascending=[False, True])
    top = ordered.iloc[0]
    return top["usage_date"], float(top["audio_minutes_processed"])


def over_limit_since(daily: pd.DataFrame, column: str, limit: object) -> object | None:
    """The first day of the month the usage is over the plan's limit: the running total for a
    counted metric, the day's reading for storage (a level). None within the limit or without one."""
    if limit is None or pd.isna(limit) or daily.empty:
        return None
    ordered = daily.sort_values("usage_date")
    values = ordered[column].fillna(0).astype(float)
    level = values if column == "storage_used_mb" else values.cumsum()
    over = ordered["usage_date"][level > float(limit)]
    return over.iloc[0] if len(over) else None


def limit_status(utilization_pct: object, since: object | None) -> str:
    """How a customer reads their use of a limit: in words once it is over 100 %, where a
    percentage of several thousands says nothing more than "over"."""
    if utilization_pct is None or pd.isna(utilization_pct):
        return "no limit"
    if float(utilization_pct) > 100:
        return f"over your plan's limit since {format_value(since)}" if since is not None \
            else "over your plan's limit"
    return "within your plan's limit"


def _row(frame: pd.DataFrame, **match) -> pd.Series | None:
    mask = pd.Series(True, index=frame.index)
    for column, value in match.items():
        mask &= frame[column] == value
    return frame[mask].iloc[0] if mask.any() else None


def _has_usage(current: pd.Series | None, daily: pd.DataFrame) -> bool:
    if current is not None and any(float(current[c] or 0) > 0 for c in ACTIVITY + ["audio_minutes_processed"]):
        return True
    return bool(len(daily)) and bool((daily[ACTIVITY].fillna(0).to_numpy() > 0).any())


def account_document(spec: ReportSpec, period: Period, account: pd.Series, dataset: dict[str, pd.DataFrame]
                     ) -> Document:
    account_id = int(account["account_id"])
    monthly = dataset["usage_monthly"][dataset["usage_monthly"]["account_id"] == account_id]
    daily = dataset["usage_daily"][dataset["usage_daily"]["account_id"] == account_id]
    current = _row(monthly, usage_month=period.start)
    previous = _row(monthly, usage_month=period.previous().start)
    if not _has_usage(current, daily):
        return empty_document(spec.id, spec.title, period.label, period.key, account_id, account["account_name"])

    plan = str(account["plan_name"] or account["plan_id"]) + (" (trial)" if bool(account["is_trial"]) else "")
    summary = [Metric("Plan", plan, "text")]
    trend_rows = []
    for column, label, kind in METRICS:
        now = current[column] if current is not None else None
        before = previous[column] if previous is not None else None
        summary.append(Metric(label, now, kind, change_note(now, before)))
        trend_rows.append({"metric": label, "last_month": before, "this_month": now,
                           "change": None if now is None or before is None or pd.isna(now) or pd.isna(before)
                           else float(now) - float(before)})
    peak = peak_day(daily)
    if peak is not None:
        summary.append(Metric("Peak day", f"{format_value(peak[0])} ({format_value(peak[1])} audio minutes)", "text"))

    utilization = _row(dataset["utilization"], account_id=account_id)
    limit_rows = []
    for label, used, limit, pct, _ in LIMITS:
        plan_limit = None if utilization is None or pd.isna(utilization[limit]) else utilization[limit]
        share = None if utilization is None or plan_limit is None else utilization[pct]
        over = share is not None and not pd.isna(share) and float(share) > 100
        limit_rows.append({
            "metric": label,
            "used": current[used] if current is not None else None,
            "plan_limit": "unlimited" if plan_limit is None else plan_limit,
            "utilization_pct": None if over else share,
            "status": limit_status(share, over_limit_since(daily, used, plan_limit) if over else None),
        })
    tables = [
        Table("Usage vs plan limits", pd.DataFrame(limit_rows),
              {"used": "number", "plan_limit": "number", "utilization_pct": "percent"}),
        Table("Trend vs last month", pd.DataFrame(trend_rows),
              {"last_month": "number", "this_month": "number", "change": "number"}),
    ]
    notes = []
    projection = _row(dataset["projections"], account_id=account_id)
    if projection is not None:
        no_limit = "no current plan" if pd.isna(projection["plan_id"]) else "unlimited"
        rows = []
        for label, _, limit, _, proj in LIMITS:
            share = None if pd.isna(projection[limit]) or not projection[limit] \
                else 100 * float(projection[proj]) / float(projection[limit])
            rows.append({"metric": label, "projected": projection[proj],
                         "plan_limit": no_limit if pd.isna(projection[limit]) else projection[limit],
                         "projected_pct_of_limit": None if share is None or share > 100 else share,
                         "outlook": "no limit" if share is None else
                         "over your plan's limit" if share > 100 else "within your plan's limit"})
        month = period.end.strftime("%B %Y")
        tables.append(Table(f"Projected usage for {month}", pd.DataFrame(rows),
                            {"projected": "number", "plan_limit": "number", "projected_pct_of_limit": "percent"}))
        days = int(projection["days_observed"])
        notes.append(f"Projection for {month} as of {format_value(projection['as_of_date'])}, "
                     f"from the month-to-date run-rate: based on {days} day{'s' if days != 1 else ''} of data"
                     + (", so it can still change a lot." if days < 7 else "."))

    log = daily[DAILY_COLUMNS].reset_index(drop=True)
    chart = Chart("Audio minutes per day", bar_chart(
        [f"{d:%d}" for d in log["usage_date"]], log["audio_minutes_processed"].fillna(0).astype(float).tolist(),
        "audio minutes"))
    return Document(spec.id, spec.title, period.label, period.key, account_id, str(account["account_name"]),
                    summary=summary, tables=tables, charts=[chart], notes=notes,
                    daily_log=Table("Daily usage", log, {c: "number" for c in DAILY_COLUMNS[1:]}))


def build_usage_summary(spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame]) -> list[Document]:
    accounts = dataset["accounts"]
    if accounts.empty:
        return [empty_document(spec.id, spec.title, period.label, period.key)]
    return [account_document(spec, period, account, dataset) for _, account in accounts.iterrows()]
