"""What each hourly snapshot extracts from the source and which rows it quarantines.

Each table is described once: the source query for an hour window, the raw columns, the event
time that assigns a row to its hour, the key that identifies duplicates, and the quarantine
rules in the order they are tried (the first rule a row breaks is its reason).

A row whose event time is missing or later than the time it was recorded cannot be trusted to
pick its hour, so it is filed under the hour it was recorded in (`partition_at`). Everything
else is filed under its event hour. This holds for every table, entity tables included: an
account "signed up" ten years from now is quarantined under the hour it was recorded, not left
for an hour no run will ever reach.

Rules read code lists and maxima as query parameters (`%(name)s`, orchestration/snapshots/domain.py).
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
    # The source table rows come from, looked up by `duplicate_key` for copies in other hours
    # (orchestration/snapshots/duplicates.py); None when every copy of a key that passes the rules
    # necessarily falls in the same hour (the key holds the event hour).
    keyed_source: str | None = None
    # A cheaper source query returning partition_at, recorded_at and account_id for the same rows,
    # for counting them (orchestration/snapshots/accounting.py); None: `source_query` is cheap.
    rows_query: str | None = None
    # Entity tables (accounts, subscriptions) are extracted cumulatively: every run reloads all
    # rows up to its window's end, so entities created before the first partition are present
    # and a run still replaces exactly what it read.
    cumulative: bool = False


def unusable_event_time(event_time: str, alias: str = "t") -> str:
    """The row's event time cannot place it: missing, or later than the row was recorded."""
    return (f"({alias}.{event_time} IS NULL "
            f"OR {alias}.{event_time} > {alias}.recorded_at + {FUTURE_TOLERANCE})")


def partition_in_window(event_time: str, alias: str = "t") -> str:
    """The row's partition hour falls in [%(start)s, %(end)s).

    The two OR branches keep both halves index-friendly: rows by event time, and rows filed
    under their recorded time because their event time is unusable.
    """
    unusable = unusable_event_time(event_time, alias)
    return (f"(({alias}.{event_time} >= %(start)s AND {alias}.{event_time} < %(end)s AND NOT {unusable})"
            f" OR ({alias}.recorded_at >= %(start)s AND {alias}.recorded_at < %(end)s AND {unusable}))")


def _windowed_query(table: str, columns: tuple[str, ...], event_time: str, known: str) -> str:
    """Rows of a source table whose partition hour falls in the window, with the lookups rules read."""
    cols = ", ".join(f"t.{c}" for c in columns)
    unusable = unusable_event_time(event_time)
    return f"""
        SELECT {cols},
               CASE WHEN {unusable} THEN t.recorded_at ELSE t.{event_time} END AS partition_at,
               {known}
        FROM app.{table} t
        WHERE {partition_in_window(event_time)}
    """


_ACCOUNT_KNOWN = "EXISTS (SELECT 1 FROM app.accounts a WHERE a.account_id = t.account_id) AS account_known"


def _future(event_time: str) -> tuple[str, str]:
    return ("timestamp_in_future", f"{event_time} > recorded_at + {FUTURE_TOLERANCE}")


def _not_in(column: str, values: str) -> str:
    """`column` is missing or not one of the code list parameter `values`."""
    return f"{column} IS NULL OR {column} <> ALL(%({values})s)"


def _common_rules(event_time: str) -> tuple[tuple[str, str], ...]:
    return (
        ("missing_account_id", "account_id IS NULL"),
        (f"missing_{event_time}", f"{event_time} IS NULL"),
        _future(event_time),
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
    source_query=_windowed_query("sessions", SESSION_COLUMNS, "started_at", _ACCOUNT_KNOWN),
    duplicate_key=("session_id",),
    keyed_source="sessions",
    rules=_common_rules("started_at") + (
        ("missing_session_id", "session_id IS NULL"),
        ("missing_ended_at", "ended_at IS NULL"),
        ("ended_before_started", "ended_at < started_at"),
        ("session_longer_than_24h", "ended_at > started_at + interval '24 hours'"),
        ("negative_quantity", "audio_minutes < 0 OR audio_file_size_mb < 0"),
        ("missing_quantity", "audio_minutes IS NULL OR audio_file_size_mb IS NULL"),
        ("audio_minutes_above_maximum", "audio_minutes > %(max_session_audio_minutes)s"),
        ("file_size_above_maximum", "audio_file_size_mb > %(max_session_file_size_mb)s"),
        ("unknown_transcription_status", _not_in("transcription_status", "transcription_statuses")),
    ),
)

USAGE_EVENTS = SnapshotTable(
    name="usage_events",
    columns=USAGE_EVENT_COLUMNS,
    event_time="occurred_at",
    source_query=_windowed_query("usage_events", USAGE_EVENT_COLUMNS, "occurred_at", _ACCOUNT_KNOWN),
    duplicate_key=("event_id",),
    keyed_source="usage_events",
    rules=_common_rules("occurred_at") + (
        ("missing_event_id", "event_id IS NULL"),
        ("missing_quantity", "quantity IS NULL"),
        ("negative_quantity", "quantity < 0"),
        ("quantity_above_maximum", "quantity > %(max_event_quantity)s"),
        ("unknown_event_type", _not_in("event_type", "event_types")),
        ("unknown_export_format", f"event_type = 'export' AND ({_not_in('export_format', 'export_formats')})"),
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
_READINGS = f"""
    SELECT date_trunc('hour', r.measured_at - interval '1 microsecond') AS hour_start,
           r.measured_at, r.account_id, r.storage_used_mb, r.recorded_at
    FROM app.storage_readings r
    WHERE (r.measured_at > %(start)s AND r.measured_at <= %(end)s
           AND r.measured_at <= r.recorded_at + {FUTURE_TOLERANCE})
       OR (r.recorded_at >= %(start)s AND r.recorded_at < %(end)s
           AND (r.measured_at IS NULL
                OR r.measured_at > r.recorded_at + {FUTURE_TOLERANCE}))
"""

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
        readings AS ({_READINGS})
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
    rows_query=f"""
        SELECT r.account_id, r.recorded_at,
               CASE WHEN r.measured_at IS NULL OR r.measured_at > r.recorded_at + {FUTURE_TOLERANCE}
                    THEN r.recorded_at ELSE r.hour_start END AS partition_at
        FROM ({_READINGS}) r
    """,
    rules=(
        ("missing_account_id", "account_id IS NULL"),
        ("missing_measured_at", "measured_at IS NULL"),
        ("timestamp_in_future", f"measured_at > recorded_at + {FUTURE_TOLERANCE}"),
        ("unknown_account", "NOT account_known"),
        ("missing_quantity", "storage_used_mb IS NULL"),
        ("negative_quantity", "storage_used_mb < 0"),
        ("storage_above_maximum", "storage_used_mb > %(max_storage_mb)s"),
    ),
)


_PLAN_KNOWN = "EXISTS (SELECT 1 FROM app.plans p WHERE p.plan_id = t.plan_id) AS plan_known"


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
    source_query=_windowed_query("accounts", ACCOUNT_COLUMNS, "signup_at", "true AS account_known"),
    duplicate_key=("account_id",),
    keyed_source="accounts",
    cumulative=True,
    rules=(
        _future("signup_at"),
        ("unknown_user_type", _not_in("user_type", "user_types")),
        ("unknown_country", _not_in("country", "country_codes")),
        ("unknown_acquisition_channel", _not_in("acquisition_channel", "acquisition_channels")),
    ),
)

SUBSCRIPTIONS = SnapshotTable(
    name="subscriptions",
    columns=SUBSCRIPTION_COLUMNS,
    event_time="updated_at",
    source_query=_windowed_query("subscriptions", SUBSCRIPTION_COLUMNS, "updated_at",
                                 f"{_ACCOUNT_KNOWN}, {_PLAN_KNOWN}"),
    duplicate_key=("subscription_id", "updated_at"),
    cumulative=True,
    rules=(
        _future("updated_at"),
        ("unknown_account", "NOT account_known"),
        ("unknown_plan", "NOT plan_known"),
        ("unknown_billing_period", _not_in("billing_period", "billing_periods")),
        ("unknown_subscription_status", _not_in("status", "subscription_statuses")),
        ("ended_before_started", "ended_at < started_at"),
    ),
)

INVOICES = SnapshotTable(
    name="invoices",
    columns=INVOICE_COLUMNS,
    event_time="issued_at",
    source_query=_windowed_query("invoices", INVOICE_COLUMNS, "issued_at", _ACCOUNT_KNOWN),
    duplicate_key=("invoice_id",),
    keyed_source="invoices",
    rules=(
        _future("issued_at"),
        ("unknown_account", "NOT account_known"),
        ("negative_quantity", "subscription_fee < 0 OR overage_fee < 0"),
        ("amount_above_maximum",
         "greatest(subscription_fee, overage_fee, total) > %(max_invoice_amount)s"),
        ("total_mismatch", "total <> subscription_fee + overage_fee"),
        ("unknown_currency", _not_in("currency", "currency_codes")),
        ("unknown_invoice_status", _not_in("status", "invoice_statuses")),
    ),
)

HOURLY_SNAPSHOT_TABLES: tuple[SnapshotTable, ...] = (
    ACCOUNTS, SUBSCRIPTIONS, SESSIONS, USAGE_EVENTS, ACCOUNT_STATE_HOURLY, INVOICES,
)
