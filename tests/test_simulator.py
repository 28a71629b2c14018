"""The source simulator against a real PostgreSQL: reproducible, realistic, dirty on purpose.

Each test rebuilds schema `app` itself (simulate_history truncates it first), because the test
database is shared with the rest of the suite.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from orchestration.source.__main__ import main
from orchestration.source.simulator import append_activity, simulate_history

TABLES = ("plans", "accounts", "subscriptions", "invoices", "sessions", "usage_events",
          "storage_readings")
END = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday 00:00, so the last 8 days are whole days
SMALL = {"accounts": 60, "days": 6, "seed": 11, "end": END}
EVENT_TABLES = {  # table: (time column, column made negative, time the row happened)
    "sessions": ("started_at", "audio_minutes", "ended_at"),
    "usage_events": ("occurred_at", "quantity", "occurred_at"),
    "storage_readings": ("measured_at", "storage_used_mb", "measured_at"),
}


def digests(db: psycopg.Connection, where: str = "true") -> dict[str, str]:
    """md5 of each table's rows in sorted text form."""
    return {
        table: db.execute(
            f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
            f"FROM app.{table} t WHERE {where}").fetchone()[0]
        for table in TABLES
    }


def scalar(db: psycopg.Connection, sql: str) -> int:
    return db.execute(sql).fetchone()[0]


def test_same_arguments_give_identical_tables(db: psycopg.Connection) -> None:
    first_counts = simulate_history(db, **SMALL)
    first = digests(db)
    assert simulate_history(db, **SMALL) == first_counts
    assert digests(db) == first
    simulate_history(db, **{**SMALL, "seed": 12})
    other = digests(db)
    assert all(other[t] != first[t] for t in TABLES if t != "plans")


def test_history_has_a_realistic_shape(db: psycopg.Connection) -> None:
    counts = simulate_history(db, accounts=120, days=8, seed=3, end=END, bad_rate=0.0)
    assert counts["accounts"] == scalar(db, "SELECT count(*) FROM app.accounts") > 80
    assert scalar(db, "SELECT max(recorded_at) FROM app.sessions") <= END

    weekday, weekend = db.execute("""
        SELECT (avg(n) FILTER (WHERE extract(isodow FROM d) < 6))::float,
               (avg(n) FILTER (WHERE extract(isodow FROM d) >= 6))::float
        FROM (SELECT (started_at AT TIME ZONE 'UTC')::date AS d, count(*) AS n FROM app.sessions
              WHERE started_at >= %s GROUP BY 1) per_day""", (END - timedelta(days=8),)).fetchone()
    assert weekday > 1.5 * weekend

    assert scalar(db, """SELECT count(*) FROM app.sessions WHERE ended_at - started_at > '12 hours'
                         OR audio_minutes > extract(epoch FROM ended_at - started_at) / 60""") == 0
    assert scalar(db, """SELECT count(*) FROM app.sessions a JOIN app.sessions b
                         ON a.account_id = b.account_id AND a.session_id < b.session_id
                         AND a.started_at < b.ended_at AND b.started_at < a.ended_at""") > 0
    kinds = dict(db.execute("SELECT event_type, count(*) FROM app.usage_events GROUP BY 1"))
    assert kinds["share_link_accessed"] > kinds["share_link_created"] > 0
    assert kinds["api_call"] > kinds["export"] > 0
    assert scalar(db, "SELECT min(storage_used_mb) FROM app.storage_readings") >= 0
    # one reading per existing account and hour, on the hour
    assert scalar(db, """SELECT count(*) FROM app.storage_readings
                         WHERE measured_at <> date_trunc('hour', measured_at)""") == 0
    assert scalar(db, """SELECT count(*) FROM (SELECT 1 FROM app.storage_readings
                         GROUP BY account_id, measured_at HAVING count(*) > 1) d""") == 0

    assert scalar(db, "SELECT count(*) FROM app.invoices WHERE total <> subscription_fee + "
                      "overage_fee OR currency <> 'USD'") == 0
    assert scalar(db, "SELECT count(*) FROM app.invoices") > 0
    # an account's rows never overlap; a row may start exactly when the previous one ended
    assert scalar(db, """SELECT count(*) FROM (
            SELECT started_at, lag(ended_at) OVER w AS prev_end,
                   lag(subscription_id) OVER w AS prev_id
            FROM app.subscriptions WINDOW w AS (PARTITION BY account_id
                                                ORDER BY started_at, subscription_id)) s
        WHERE prev_id IS NOT NULL AND (prev_end IS NULL OR prev_end > started_at)""") == 0
    assert scalar(db, """SELECT count(*) FROM app.subscriptions WHERE
            (ended_at IS NULL) <> (status IN ('active', 'trialing', 'past_due'))
            OR (ended_at IS NOT NULL AND (updated_at <> ended_at OR end_reason IS NULL))""") == 0


def test_bad_and_late_rows_come_at_their_rates(db: psycopg.Connection) -> None:
    bad_rate, late_rate = 0.05, 0.05
    simulate_history(db, accounts=80, days=5, seed=5, end=END, bad_rate=bad_rate,
                     late_rate=late_rate)
    for table, (time_column, negative_column, happened) in EVENT_TABLES.items():
        found = {
            "null_account": "account_id IS NULL",
            "null_time": f"{time_column} IS NULL",
            "negative": f"{negative_column} < 0",
            "unknown_account": "account_id >= 9000000000",
            "future": f"{time_column} > recorded_at + interval '1 day'",
        }
        if table == "sessions":
            found["ended_before_started"] = "ended_at < started_at"
        total = scalar(db, f"SELECT count(*) FROM app.{table}")
        counts = {kind: scalar(db, f"SELECT count(*) FROM app.{table} WHERE {cond}")
                  for kind, cond in found.items()}
        counts["duplicate"] = total - scalar(
            db, f"SELECT count(*) FROM (SELECT DISTINCT * FROM app.{table}) d")
        assert all(n > 0 for n in counts.values()), (table, counts)
        assert 0.5 * bad_rate < sum(counts.values()) / total < 1.5 * bad_rate, (table, counts)
        if table != "sessions":  # enough rows for a per-kind rate
            expected = bad_rate / len(counts) * total
            assert all(0.4 * expected < n < 2.0 * expected for n in counts.values()), counts

        late = scalar(db, f"SELECT count(*) FROM app.{table} "
                          f"WHERE recorded_at - {happened} >= interval '2 hours'")
        assert 0.4 * late_rate < late / total < 1.5 * late_rate, (table, late, total)
        assert scalar(db, f"SELECT max(recorded_at) FROM app.{table}") <= END


def test_append_adds_only_rows_recorded_in_its_window(db: psycopg.Connection) -> None:
    simulate_history(db, **SMALL)
    before = digests(db, f"recorded_at <= '{END.isoformat()}'")
    until = END + timedelta(hours=6)
    counts = append_activity(db, until=until)
    assert counts["sessions"] > 0 and counts["storage_readings"] > 0
    assert scalar(db, f"SELECT count(*) FROM app.usage_events WHERE recorded_at > '{END}'") == \
        counts["usage_events"]
    for table in TABLES:
        assert scalar(db, f"SELECT max(recorded_at) FROM app.{table}") <= until
    # old rows are untouched except subscriptions, which are updated in place when they change
    after_old = digests(db, f"recorded_at <= '{END.isoformat()}'")
    assert {t for t in TABLES if after_old[t] != before[t]} <= {"subscriptions"}
    # late rows delivered by the append happened well before its window
    assert scalar(db, f"""SELECT count(*) FROM app.usage_events WHERE recorded_at > '{END}'
                          AND occurred_at < '{END}'::timestamptz - interval '1 hour'""") > 0

    snapshot = digests(db)
    assert set(append_activity(db, until=until).values()) == {0}
    assert digests(db) == snapshot


def test_appends_are_the_same_however_they_are_chunked(db: psycopg.Connection) -> None:
    simulate_history(db, **SMALL)
    append_activity(db, until=END + timedelta(hours=1))
    append_activity(db, until=END + timedelta(hours=7))
    append_activity(db, until=END + timedelta(hours=30))
    chunked = digests(db)
    simulate_history(db, **SMALL)
    append_activity(db, until=END + timedelta(hours=30))
    assert digests(db) == chunked


def test_cli_builds_history_and_rejects_bad_arguments(
        db: psycopg.Connection, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--accounts", "20", "--days", "2", "--seed", "1",
                 "--end", "2026-03-02T00:00:00Z"]) == 0
    assert "usage_events" in capsys.readouterr().out
    assert scalar(db, "SELECT count(*) FROM app.accounts") > 0
    assert main(["--append-until", "2026-03-02T03:00:00Z"]) == 0
    for argv, name in ((["--accounts", "0"], "--accounts"), (["--end", "tomorrow"], "--end"),
                       (["--seed", "-1"], "--seed"),
                       (["--bad-rate", "2"], "--bad-rate"),
                       (["--append-until", "now", "--seed", "3"], "--append-until")):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code != 0
        assert name in capsys.readouterr().err
