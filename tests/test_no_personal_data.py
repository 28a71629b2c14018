"""No personal value of the source reaches anything the BI role can read, by value, not by column name.

A simulated product the size of the issue's reproduction (150 accounts, a third of them with an
account name that is, or contains, the owner's name) goes through every layer and the ml job.
Then every table and column the BI role may SELECT (found from the catalog with the role's own
privileges, so a grant added later is covered) is read as that role, and no owner name, owner
e-mail or account name of the source may occur in any value, as a substring, ignoring case.
Account names are checked whole because any of them can be a person's name; owners' first and
last names are also checked on their own, as whole words ("Mia" in "Mia's team").
"""

from __future__ import annotations

import re

import pandas as pd
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.settings import get_settings
from orchestration.warehouse.bi_role import BI_ML_TABLES
from tests.warehouse_fixtures import SimulatedHistory, WarehouseBuilder

END = pd.Timestamp("2026-03-15", tz="UTC").to_pydatetime()
DAYS = 30
ACCOUNTS = 150
HISTORY = SimulatedHistory(accounts=ACCOUNTS, days=DAYS, seed=12, end=END)

# Source columns that hold a person's name or e-mail, or can (an account name can be the owner's
# name); and the name-like source columns that are not personal. Every text column of the source
# whose name mentions a name or an e-mail must be in one of the two (test below).
PERSONAL_COLUMNS = {("accounts", "account_name"), ("accounts", "owner_name"), ("accounts", "owner_email")}
NOT_PERSONAL_COLUMNS = {("plans", "plan_name"), ("simulation_pending", "table_name")}

BI_READABLE_COLUMNS = """
SELECT n.nspname, c.relname, array_agg(a.attname ORDER BY a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
  AND has_schema_privilege(%(role)s, n.oid, 'USAGE')
  AND has_column_privilege(%(role)s, c.oid, a.attnum, 'SELECT')
GROUP BY 1, 2
ORDER BY 1, 2
"""


@pytest.fixture(scope="module")
def built(build_warehouse: WarehouseBuilder) -> str:
    from orchestration.definitions import defs

    build_warehouse.simulated(HISTORY)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    assert defs.resolve_job_def("ml_job").execute_in_process(instance=build_warehouse.instance,
                                                             run_config=quiet).success
    return build_warehouse.url


def bi_readable_values(url: str, role: str) -> dict[str, str]:
    """Every column the BI role may SELECT -> its distinct values as text, one a line, read as the role."""
    with psycopg.connect(url) as conn:
        tables = conn.execute(BI_READABLE_COLUMNS, {"role": role}).fetchall()
    values: dict[str, str] = {}
    bi_url = make_conninfo(**{**conninfo_to_dict(url), "user": role})
    with psycopg.connect(bi_url) as conn:
        for schema, table, columns in tables:
            aggregates = sql.SQL(", ").join(
                sql.SQL("coalesce(string_agg(DISTINCT {}::text, E'\\n'), '')").format(sql.Identifier(c))
                for c in columns)
            row = conn.execute(sql.SQL("SELECT {} FROM {}").format(
                aggregates, sql.Identifier(schema, table))).fetchone()
            values.update({f"{schema}.{table}.{c}": text for c, text in zip(columns, row, strict=True)})
    return values


def personal_values(conn: psycopg.Connection) -> set[str]:
    """The source's values of PERSONAL_COLUMNS, lowercase."""
    found: set[str] = set()
    for table, column in sorted(PERSONAL_COLUMNS):
        found |= {v.lower() for (v,) in conn.execute(
            sql.SQL("SELECT DISTINCT {} FROM {} WHERE {} IS NOT NULL").format(
                sql.Identifier(column), sql.Identifier("app", table), sql.Identifier(column)))}
    return found


def test_every_name_or_email_column_of_the_source_is_classified(built, db):
    columns = {(t, c) for t, c in db.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'app'"
        " AND data_type = 'text' AND (column_name LIKE '%name%' OR column_name LIKE '%mail%')")}
    assert columns == PERSONAL_COLUMNS | NOT_PERSONAL_COLUMNS


def name_parts(conn: psycopg.Connection) -> re.Pattern[str]:
    """Owners' first and last names of 3+ letters, as whole words (case kept: they are proper nouns)."""
    parts = {part for (name,) in conn.execute("SELECT DISTINCT owner_name FROM app.accounts")
             for part in name.split() if len(part) >= 3}
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True)) + r")(?!\w)")


def test_no_source_name_or_email_in_any_column_the_bi_role_can_read(built, db):
    personal, parts = personal_values(db), name_parts(db)
    people = db.execute("SELECT count(*) FILTER (WHERE strpos(account_name, split_part(owner_name, ' ', 1)) > 0)"
                        " FROM app.accounts").fetchone()[0]
    assert len(personal) > 2 * ACCOUNTS * 0.9 and people > ACCOUNTS // 5  # the data can leak: names hold owners'
    readable = bi_readable_values(built, get_settings().bi_role)
    tables = {column.rsplit(".", 1)[0] for column in readable}
    assert {"marts.dim_accounts", "marts.fct_usage_daily"} | {f"ml.{t}" for t in BI_ML_TABLES} <= tables
    assert readable["marts.dim_accounts.account_id"]  # read as the role, with rows

    leaks = {column: sorted({v for v in personal if v in text.lower()} | set(parts.findall(text)))
             for column, text in readable.items()}
    assert not {column: found[:5] for column, found in leaks.items() if found}
