"""Platform statistics (daily) and user acquisition (weekly): signups, activity, funnel."""

from __future__ import annotations

import pandas as pd

from reports.catalogue import ReportSpec
from reports.charts import bar_chart, series_chart
from reports.document import Chart, Document, Metric, Table, empty_document
from reports.periods import Period

FUNNEL = ["signups", "activated_accounts", "trial_accounts", "paid_accounts"]
ACTIVITY = [("active_accounts", "Active accounts", "integer"), ("sessions_created", "Sessions", "integer"),
            ("audio_minutes_processed", "Audio minutes", "number"),
            ("transcriptions_completed", "Transcriptions completed", "integer"),
            ("exports_generated", "Exports", "integer"), ("api_calls", "API calls", "integer"),
            ("share_links_created", "Share links created", "integer"),
            ("share_links_accessed", "Share links accessed", "integer")]


def signups_by(signups: pd.DataFrame, column: str) -> pd.DataFrame:
    """Signups per value of `column`, largest first, with each value's share of the total."""
    grouped = (signups.groupby(column, as_index=False)["signups"].sum()
               .sort_values(["signups", column], ascending=[False, True]).reset_index(drop=True))
    total = grouped["signups"].sum()
    grouped["share_pct"] = 100 * grouped["signups"] / total if total else 0.0
    return grouped


def funnel_by_user_type(funnel: pd.DataFrame) -> pd.DataFrame:
    """Funnel counts per user type and the conversion rates from signup."""
    grouped = funnel.groupby("user_type", as_index=False)[FUNNEL].sum().sort_values("user_type")
    with_total = pd.concat([grouped, pd.DataFrame([{"user_type": "all", **grouped[FUNNEL].sum().to_dict()}])])
    signups = with_total["signups"].where(with_total["signups"] > 0)
    with_total["activation_pct"] = 100 * with_total["activated_accounts"] / signups
    with_total["paid_conversion_pct"] = 100 * with_total["paid_accounts"] / signups
    return with_total.reset_index(drop=True)


_KINDS = {"signups": "integer", "share_pct": "percent", "activated_accounts": "integer",
          "trial_accounts": "integer", "paid_accounts": "integer", "activation_pct": "percent",
          "paid_conversion_pct": "percent"}


def _funnel_metrics(funnel: pd.DataFrame) -> list[Metric]:
    total = funnel[FUNNEL].sum()
    signups = float(total["signups"])
    return [Metric("Activated (first session within the window)", total["activated_accounts"], "integer"),
            Metric("Started a trial", total["trial_accounts"], "integer"),
            Metric("Converted to paid", total["paid_accounts"], "integer"),
            Metric("Paid conversion", total["paid_accounts"] / signups if signups else None, "ratio")]


def build_platform_stats(spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame]) -> list[Document]:
    signups, activity, funnel = dataset["signups"], dataset["activity"], dataset["funnel"]
    if signups.empty and activity.empty:
        return [empty_document(spec.id, spec.title, period.label, period.key)]
    summary = [Metric("Signups", signups["signups"].sum() if len(signups) else 0, "integer"),
               Metric("Accounts", activity["accounts"].max() if len(activity) else 0, "integer")]
    summary += [Metric(label, activity[column].sum() if len(activity) else 0, kind)
                for column, label, kind in ACTIVITY]
    summary += _funnel_metrics(funnel)
    tables = [Table("Signups by channel", signups_by(signups, "acquisition_channel"), _KINDS),
              Table("Signups by user type", signups_by(signups, "user_type"), _KINDS),
              Table("Signups by country", signups_by(signups, "country"), _KINDS),
              Table("Funnel by user type", funnel_by_user_type(funnel), _KINDS)]
    by_channel = tables[0].frame
    charts = [Chart("Signups by channel", bar_chart(by_channel["acquisition_channel"].tolist(),
                                                     by_channel["signups"].astype(float).tolist(), "signups",
                                                     horizontal=True, height=1.8))] if len(by_channel) else []
    log = activity.reset_index(drop=True)
    return [Document(spec.id, spec.title, period.label, period.key, None, None, summary=summary, tables=tables,
                     charts=charts, daily_log=Table("Daily activity", log, {c: k for c, _, k in ACTIVITY}
                                                    | {"accounts": "integer"}),
                     notes=["Funnel counts are as of the build: recent signups are still maturing."])]


def build_user_acquisition(spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame]) -> list[Document]:
    signups, funnel = dataset["signups"], dataset["funnel"]
    if signups.empty:
        return [empty_document(spec.id, spec.title, period.label, period.key)]
    channels = signups_by(signups, "acquisition_channel")
    countries = signups_by(signups, "country")
    summary = [Metric("Signups", signups["signups"].sum(), "integer"),
               Metric("Top channel", f"{channels.iloc[0]['acquisition_channel']} ({channels.iloc[0]['signups']:,})",
                      "text"),
               Metric("Top country", f"{countries.iloc[0]['country']} ({countries.iloc[0]['signups']:,})", "text"),
               *_funnel_metrics(funnel)]
    tables = [Table("Signups by channel", channels, _KINDS),
              Table("Signups by user type", signups_by(signups, "user_type"), _KINDS),
              Table("Signups by country", countries, _KINDS),
              Table("Funnel by user type", funnel_by_user_type(funnel), _KINDS)]
    days = pd.date_range(period.start, period.end, inclusive="left").date
    pivot = (signups.pivot_table(index="signup_date", columns="acquisition_channel", values="signups",
                                 aggfunc="sum", fill_value=0).reindex(days, fill_value=0))
    charts = [Chart("Signups per day by channel", series_chart(
        [f"{d:%a %d}" for d in pivot.index], {c: pivot[c].astype(float) for c in pivot.columns}, "signups"))]
    log = pivot.reset_index().rename(columns={"index": "signup_date"})
    log.columns.name = None
    log.insert(1, "signups", log.drop(columns="signup_date").sum(axis=1))
    return [Document(spec.id, spec.title, period.label, period.key, None, None, summary=summary, tables=tables,
                     charts=charts, daily_log=Table("Daily signups by channel", log,
                                                    {c: "integer" for c in log.columns if c != "signup_date"}),
                     notes=["Funnel counts are as of the build: recent signups are still maturing."])]
