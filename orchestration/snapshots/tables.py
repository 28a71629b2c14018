"""What each hourly snapshot extracts from the source and which rows it quarantines.

Each table is described once: the source query for an hour window, the raw columns, the event
time that assigns a row to its hour, the key that identifies duplicates, and the quarantine
rules in the order they are tried (the first rule a row breaks is its reason).

A row whose event time is missing or later than the time it was recorded cannot be trusted to
pick its hour, so it is filed under the hour it was recorded in (`partition_at`). Everything
else is filed under its event hour.
"""

from __future__ import annotations

from dataclasses import dataclass

# A source row may describe a moment at most this far after it was recorded (clock skew).
FUTURE_TOLERANCE = "interval '5 minutes'"


@dataclass(frozen=True)
class SnapshotTable:
    name: str
    columns: tuple[str, ...]
    event_time: str
    # SQL over the source for the hour window [%(start)s, %(end)s) of partition_at, returning
    # `columns`, partition_at, account_known and any other column its rules read.
    source_query: str
    duplicate_key: tuple[str, ...]
    # (reason, predicate over the source query's columns), evaluated by the source server.
    rules: tuple[tuple[str, str], ...] = ()
    # Entity tables (accounts, subscriptions) are extracted cumulatively: every run reloads all
    # rows up to its window's end, so entities created before the first partition are present
    # and a run still replaces exactly what it read.
    cumulative: bool = False


def _event_query(table: str, columns: tuple[str, ...], event_time: str) -> str:
    """Rows of an event table whose partition hour falls in the window.

    The two OR branches keep both halves index-friendly: rows by event time, and rows filed
    under their recorded time because their event time is unusable.
    """
    cols = ", ".join(f"t.{c}" for c in columns)
    unusable = f"(t.{event_time} IS NULL OR t.{event_time} > t.recorded_at + {FUTURE_TOLERANCE})"
    return f"""
        SELECT {cols},
               CASE WHEN {unusable} THEN t.recorded_at ELSE t.{event_time} END AS partition_at,
               EXISTS (SELECT 1 FROM app.accounts a WHERE a.account_id = t.account_id)
                   AS account_known
        FROM app.{table} t
        WHERE (t.{event_time} >= %(start)s AND t.{event_time} < %(end)s AND NOT {unusable})
           OR (t.recorded_at >= %(start)s AND t.recorded_at < %(end)s AND {unusable})
    """


def _common_rules(event_time: str) -> tuple[tuple[str, str], ...]:
    return (
        ("missing_account_id", "account_id IS NULL"),
        (f"missing_{event_time}", f"{event_time} IS NULL"),
        ("timestamp_in_future", f"{event_time} > recorded_at + {FUTURE_TOLERANCE}"),
        ("unknown_account", "NOT account_known"),
    )


SESSION_COLUMNS = (
    "session_id", "account_id", "started_at", "ended_at", "audio_minutes",
    "audio_file_size_mb", "transcription_status", "recorded_at",
)
USAGE_EVENT_COLUMNS = (
    "event_id", "account_id", "occurred_at", "event_type", "export_format", "quantity",
    "recorded_at",
)
ACCOUNT_STATE_COLUMNS = (
    "hour_start", "account_id", "storage_used_mb", "plan_id", "billing_period",
    "subscription_status", "recorded_at",
)

SESSIONS = SnapshotTable(
    name="sessions",
    columns=SESSION_COLUMNS,
    event_time="started_at",
    source_query=_event_query("sessions", SESSION_COLUMNS, "started_at"),
    duplicate_key=("session_id",),
    rules=_common_rules("started_at") + (
        ("missing_session_id", "session_id IS NULL"),
        ("missing_ended_at", "ended_at IS NULL"),
        ("ended_before_started", "ended_at < started_at"),
        ("session_longer_than_24h", "ended_at > started_at + interval '24 hours'"),
        ("negative_quantity", "audio_minutes < 0 OR audio_file_size_mb < 0"),
        ("missing_quantity", "audio_minutes IS NULL OR audio_file_size_mb IS NULL"),
        ("unknown_transcription_status",
         "transcription_status IS NULL OR transcription_status NOT IN ('completed', 'failed')"),
    ),
)

USAGE_EVENTS = SnapshotTable(
    name="usage_events",
    columns=USAGE_EVENT_COLUMNS,
    event_time="occurred_at",
    source_query=_event_query("usage_events", USAGE_EVENT_COLUMNS, "occurred_at"),
    duplicate_key=("event_id",),
    rules=_common_rules("occurred_at") + (
        ("missing_event_id", "event_id IS NULL"),
        ("missing_quantity", "quantity IS NULL"),
        ("negative_quantity", "quantity < 0"),
        ("unknown_event_type",
         "event_type IS NULL OR event_type NOT IN "
         "('api_call', 'export', 'share_link_created', 'share_link_accessed')"),
        ("unknown_export_format",
         "event_type = 'export' AND (export_format IS NULL OR "
         "export_format NOT IN ('csv', 'pdf', 'xlsx', 'txt'))"),
    ),
)

# A storage reading measured at 10:00:00 is the state at the end of the hour 09:00-10:00, so it
# belongs to partition 09:00. The subscription joined is the one active at that instant: the latest
# started of those with started_at < measured_at <= ended_at. Instead of looking that up once per
# reading (millions of index probes), each account's subscriptions are cut into segments (lo, hi]
# between consecutive start/end instants, during which the answer cannot change, and kept as one
# timeline row per account (segment starts in order, the answer per segment). A reading then takes
# its account's timeline by hash join and its segment by width_bucket (segment i holds
# (starts[i], starts[i+1]]; 0, before the first start, reads as NULL); readings stay in scan (time)
# order, which is the order raw's primary key is cheapest to fill in.
ACCOUNT_STATE_HOURLY = SnapshotTable(
    name="account_state_hourly",
    columns=ACCOUNT_STATE_COLUMNS,
    event_time="hour_start",
    source_query=f"""
        WITH bounds AS (
            SELECT account_id, started_at AS instant FROM app.subscriptions
            UNION
            SELECT account_id, ended_at FROM app.subscriptions WHERE ended_at IS NOT NULL
        ),
        segments AS (
            SELECT account_id, instant AS lo,
                   lead(instant) OVER (PARTITION BY account_id ORDER BY instant) AS hi
            FROM bounds
        ),
        active AS (
            SELECT DISTINCT ON (g.account_id, g.lo) g.account_id, g.lo,
                   s.plan_id, s.billing_period, s.status
            FROM segments g
            LEFT JOIN app.subscriptions s
              ON s.account_id = g.account_id AND s.started_at <= g.lo
             AND (s.ended_at IS NULL OR s.ended_at >= coalesce(g.hi, 'infinity'))
            ORDER BY g.account_id, g.lo, s.started_at DESC, s.subscription_id DESC
        ),
        timelines AS (
            SELECT account_id, array_agg(lo ORDER BY lo) AS starts,
                   array_agg(plan_id ORDER BY lo) AS plan_ids,
                   array_agg(billing_period ORDER BY lo) AS billing_periods,
                   array_agg(status ORDER BY lo) AS statuses
            FROM active GROUP BY account_id
        ),
        readings AS (
            SELECT date_trunc('hour', r.measured_at - interval '1 microsecond') AS hour_start,
                   r.measured_at, r.account_id, r.storage_used_mb, r.recorded_at
            FROM app.storage_readings r
            WHERE (r.measured_at > %(start)s AND r.measured_at <= %(end)s
                   AND r.measured_at <= r.recorded_at + {FUTURE_TOLERANCE})
               OR (r.recorded_at >= %(start)s AND r.recorded_at < %(end)s
                   AND (r.measured_at IS NULL
                        OR r.measured_at > r.recorded_at + {FUTURE_TOLERANCE}))
        )
        SELECT r.hour_start, r.account_id, r.storage_used_mb, t.plan_ids[g.segment] AS plan_id,
               t.billing_periods[g.segment] AS billing_period,
               t.statuses[g.segment] AS subscription_status, r.recorded_at,
               CASE WHEN r.measured_at IS NULL
                         OR r.measured_at > r.recorded_at + {FUTURE_TOLERANCE}
                    THEN r.recorded_at ELSE r.hour_start END AS partition_at,
               EXISTS (SELECT 1 FROM app.accounts k WHERE k.account_id = r.account_id)
                   AS account_known,
               r.measured_at
        FROM readings r
        LEFT JOIN timelines t ON t.account_id = r.account_id
        CROSS JOIN LATERAL (
            SELECT width_bucket(r.measured_at - interval '1 microsecond', t.starts) AS segment
        ) g
    """,
    duplicate_key=("account_id", "hour_start"),
    rules=(
        ("missing_account_id", "account_id IS NULL"),
        ("missing_measured_at", "measured_at IS NULL"),
        ("timestamp_in_future", f"measured_at > recorded_at + {FUTURE_TOLERANCE}"),
        ("unknown_account", "NOT account_known"),
        ("missing_quantity", "storage_used_mb IS NULL"),
        ("negative_quantity", "storage_used_mb < 0"),
    ),
)


def _entity_query(table: str, columns: tuple[str, ...], event_time: str) -> str:
    """Rows of an OLTP table (primary key, NOT NULL columns) changed in the window."""
    cols = ", ".join(f"t.{c}" for c in columns)
    known = (
        "true" if table == "accounts"
        else "EXISTS (SELECT 1 FROM app.accounts a WHERE a.account_id = t.account_id)"
    )
    return f"""
        SELECT {cols}, t.{event_time} AS partition_at, {known} AS account_known
        FROM app.{table} t
        WHERE t.{event_time} >= %(start)s AND t.{event_time} < %(end)s
    """


ACCOUNT_COLUMNS = (
    "account_id", "account_name", "owner_name", "owner_email", "user_type", "country",
    "timezone", "acquisition_channel", "signup_at", "recorded_at",
)
SUBSCRIPTION_COLUMNS = (
    "subscription_id", "account_id", "plan_id", "billing_period", "is_trial", "started_at",
    "ended_at", "end_reason", "status", "updated_at", "recorded_at",
)
INVOICE_COLUMNS = (
    "invoice_id", "account_id", "subscription_id", "period_start", "period_end", "issued_at",
    "subscription_fee", "overage_fee", "total", "currency", "status", "recorded_at",
)

ACCOUNTS = SnapshotTable(
    name="accounts",
    columns=ACCOUNT_COLUMNS,
    event_time="signup_at",
    source_query=_entity_query("accounts", ACCOUNT_COLUMNS, "signup_at"),
    duplicate_key=("account_id",),
    cumulative=True,
)

SUBSCRIPTIONS = SnapshotTable(
    name="subscriptions",
    columns=SUBSCRIPTION_COLUMNS,
    event_time="updated_at",
    source_query=_entity_query("subscriptions", SUBSCRIPTION_COLUMNS, "updated_at"),
    duplicate_key=("subscription_id", "updated_at"),
    cumulative=True,
    rules=(
        ("unknown_account", "NOT account_known"),
        ("ended_before_started", "ended_at < started_at"),
    ),
)

INVOICES = SnapshotTable(
    name="invoices",
    columns=INVOICE_COLUMNS,
    event_time="issued_at",
    source_query=_entity_query("invoices", INVOICE_COLUMNS, "issued_at"),
    duplicate_key=("invoice_id",),
    rules=(
        ("unknown_account", "NOT account_known"),
        ("negative_quantity", "subscription_fee < 0 OR overage_fee < 0"),
        ("total_mismatch", "total <> subscription_fee + overage_fee"),
    ),
)

HOURLY_SNAPSHOT_TABLES: tuple[SnapshotTable, ...] = (
    ACCOUNTS, SUBSCRIPTIONS, SESSIONS, USAGE_EVENTS, ACCOUNT_STATE_HOURLY, INVOICES,
)
