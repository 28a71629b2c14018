"""Demo mode: the simulator plays the product and writes new activity every hour.

The job and its schedule are defined in every environment (definitions do not depend on it); what
they do is decided when they run. With SOURCE_URL set, the platform reads a real product database:
the schedule's ticks skip, saying why, and a launch of the job by hand fails before writing anything,
so the simulator never writes to a product's database. Without SOURCE_URL the demo source lives in
the warehouse server (app.*) and the schedule appends its activity at one past each hour.
"""

from datetime import UTC, datetime

import dagster as dg

from orchestration.settings import get_settings
from orchestration.source.simulator import append_activity
from orchestration.warehouse.connection import connect, source_url

REAL_SOURCE = "SOURCE_URL is set: the platform reads a real product database, which the demo simulator never writes"


@dg.op(description="Append simulated product activity up to now to the demo source (app.*).")
def append_simulated_activity(context: dg.OpExecutionContext) -> None:
    if not get_settings().demo_source:
        raise dg.Failure(description=REAL_SOURCE)
    with connect(source_url()) as conn:
        rows = append_activity(conn, until=datetime.now(UTC))
        conn.commit()
    context.log.info("Simulated activity appended: %s", rows)


@dg.job(description="Demo only (no SOURCE_URL): the simulated product writes its newest activity.")
def demo_source_activity_job() -> None:
    append_simulated_activity()


@dg.schedule(
    job=demo_source_activity_job,
    cron_schedule="1 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Demo only: the simulated product's hourly activity. Skips while SOURCE_URL names a real "
                "product database.",
)
def demo_source_activity_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    if not get_settings().demo_source:
        return dg.SkipReason(REAL_SOURCE)
    return dg.RunRequest()
