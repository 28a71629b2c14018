"""Column layouts of the app.* tables as the simulator writes them (see schema.sql)."""

from __future__ import annotations

from orchestration.source.copy_writer import Table
from orchestration.source.plans import PLANS_TABLE

ACCOUNTS = Table(
    "app.accounts",
    (("account_id", "int8"), ("account_name", "text"), ("owner_name", "text"),
     ("owner_email", "text"), ("user_type", "text"), ("country", "text"), ("timezone", "text"),
     ("acquisition_channel", "text"), ("signup_at", "ts"), ("recorded_at", "ts")),
)
SUBSCRIPTIONS = Table(
    "app.subscriptions",
    (("subscription_id", "int8"), ("account_id", "int8"), ("plan_id", "text"),
     ("billing_period", "text"), ("is_trial", "bool"), ("started_at", "ts"), ("ended_at", "ts"),
     ("end_reason", "text"), ("status", "text"), ("updated_at", "ts"), ("recorded_at", "ts")),
)
SESSIONS = Table(
    "app.sessions",
    (("session_id", "int8"), ("account_id", "int8"), ("started_at", "ts"), ("ended_at", "ts"),
     ("audio_minutes", "num3"), ("audio_file_size_mb", "num3"), ("transcription_status", "text"),
     ("recorded_at", "ts")),
)
USAGE_EVENTS = Table(
    "app.usage_events",
    (("event_id", "int8"), ("account_id", "int8"), ("occurred_at", "ts"), ("event_type", "text"),
     ("export_format", "text"), ("quantity", "int4"), ("recorded_at", "ts")),
)
STORAGE_READINGS = Table(
    "app.storage_readings",
    (("account_id", "int8"), ("measured_at", "ts"), ("storage_used_mb", "num3"),
     ("recorded_at", "ts")),
)
INVOICES = Table(
    "app.invoices",
    (("invoice_id", "int8"), ("account_id", "int8"), ("subscription_id", "int8"),
     ("period_start", "ts"), ("period_end", "ts"), ("issued_at", "ts"),
     ("subscription_fee", "num2"), ("overage_fee", "num2"), ("total", "num2"),
     ("currency", "text"), ("status", "text"), ("recorded_at", "ts")),
)

# Write order: referenced tables first, so a reader never sees a row before its parent.
ALL = {t.name: t for t in (PLANS_TABLE, ACCOUNTS, SUBSCRIPTIONS, INVOICES, SESSIONS,
                           USAGE_EVENTS, STORAGE_READINGS)}
