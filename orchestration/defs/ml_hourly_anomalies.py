"""Platform usage anomalies by the hour (issue 14), so an outage shows up within the hour, not the next day.

Every hour (ten minutes past, after the hourly snapshot has rebuilt marts.fct_usage_hourly) the last
`HISTORY_DAYS` days of platform-wide hourly usage per metric go through `detect_anomalies`, which infers the
season from the data (24 or 168 hours) and scores each hour in sigma units. The table keeps the latest run's
scores of the whole window, with the period used.
"""

import dagster as dg
import pandas as pd

from orchestration.defs.resources import WarehouseResource
from orchestration.ml.anomalies import detect_anomalies
from orchestration.ml.platform_series import USAGE_METRICS
from orchestration.warehouse.frames import read_frame, replace_rows

HISTORY_DAYS = 28
COLUMNS = ["metric", "hour_start", "value", "expected", "score", "is_anomaly", "season_length"]


@dg.asset(
    key=["ml", "hourly_usage_anomalies"], group_name="ml", deps=[["marts", "fct_usage_hourly"]],
    automation_condition=dg.AutomationCondition.on_cron("10 * * * *"),
    description="Robust seasonal anomaly scores (sigma units) of platform-wide hourly usage per metric, "
                "last 28 days, refreshed every hour.",
)
def hourly_usage_anomalies(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    sums = ", ".join(f"sum({m}) AS {m}" for m in USAGE_METRICS)
    hourly = read_frame(warehouse.url, f"""
        SELECT hour_start, {sums} FROM marts.fct_usage_hourly
        WHERE hour_start > (SELECT max(hour_start) FROM marts.fct_usage_hourly) - make_interval(days => %(days)s)
        GROUP BY 1 ORDER BY 1""", {"days": HISTORY_DAYS})
    frames, periods = [], {}
    if not hourly.empty:
        index = pd.DatetimeIndex(pd.to_datetime(hourly.hour_start, utc=True)).tz_convert(None)
        grid = pd.date_range(index.min(), index.max(), freq="h")
        for metric in USAGE_METRICS:
            values = pd.Series(hourly[metric].astype(float).to_numpy(), index=index).reindex(grid, fill_value=0.0)
            scored = detect_anomalies(values)
            periods[metric] = {"season_length": scored.attrs["season_length"],
                               "why": scored.attrs["season_reason"]}
            frames.append(pd.DataFrame({
                "metric": metric, "hour_start": grid.tz_localize("UTC"), "value": values.to_numpy(),
                "expected": scored["expected"].to_numpy(), "score": scored["score"].to_numpy(),
                "is_anomaly": scored["is_anomaly"].to_numpy(), "season_length": scored.attrs["season_length"],
            }))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    replace_rows(warehouse.url, "ml.hourly_usage_anomalies", frame[COLUMNS])
    flagged = frame[frame.is_anomaly.astype(bool)]
    context.log.info("Hourly anomalies: %d flagged hours over %d metrics", len(flagged), len(frames))
    return dg.MaterializeResult(metadata={
        "rows": len(frame), "anomalies": len(flagged),
        "periods": dg.MetadataValue.json(periods),
        "latest_anomalies": dg.MetadataValue.json(
            flagged.tail(10).assign(hour_start=flagged.hour_start.astype(str))[
                ["metric", "hour_start", "score"]].to_dict("records")),
    })
