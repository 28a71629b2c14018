"""Demo mode only: the simulator plays the product and writes new activity every hour.

Present in the definitions only when no SOURCE_URL is configured; a real deployment reads a
real product database and has nothing to simulate.
"""

from datetime import UTC, datetime

import dagster as dg

from orchestration.source.simulator import append_activity
from orchestration.warehouse.connection import connect, source_url


@dg.op(description="Append simulated product activity up to now to the demo source (app.*).")
def append_simulated_activity(context: dg.OpExecutionContext) -> None:
    with connect(source_url()) as conn:
        rows = append_activity(conn, until=datetime.now(UTC))
        conn.commit()
    context.log.info("Simulated activity appended: %s", rows)


@dg.job(description="Demo: the simulated product writes its newest activity.")
def demo_source_activity_job() -> None:
    append_simulated_activity()


demo_source_activity_schedule = dg.ScheduleDefinition(
    job=demo_source_activity_job,
    cron_schedule="1 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
