"""Erase one account everywhere the platform keeps it, and keep it erased.

Everywhere means every base table with an `account_id` column in raw, quarantine, marts, ml and
reports (found from the catalog, so tables added later are covered), the report files listed for
the account in reports.report_artifacts, and the delivery ledger, whose rows are kept as
tombstones (recipient replaced) so the ledger still proves what was sent. The source database is
never touched. The account id goes on ops.erased_accounts in the same transaction, which the
hourly snapshot consults: its rows are not loaded again (see orchestration/snapshots/extract.py).
Marts are rebuilt from raw, so a rebuild after erasure stays clean; aggregate marts without an
account column (platform totals) simply lose the account's share on their next rebuild.

Idempotent: a second erasure of the same account removes nothing and reports zeros.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from orchestration.settings import get_settings
from orchestration.warehouse.connection import connect

log = logging.getLogger(__name__)

ERASABLE_SCHEMAS = ("raw", "quarantine", "staging", "intermediate", "marts", "ml", "reports")
LEDGER = ("reports", "delivery_ledger")
ARTIFACTS = ("reports", "report_artifacts")
TOMBSTONE_PREFIX = "erased-account:"
MANIFEST = "manifest.json"  # written by reports/artifacts.py beside each period's files


@dataclass(frozen=True)
class ErasureReport:
    account_id: int
    removed: dict[str, int] = field(default_factory=dict)  # "schema.table" -> rows
    files_removed: int = 0

    @property
    def rows_removed(self) -> int:
        return sum(self.removed.values())


def parse_account_id(value: object) -> int:
    """An account id as operators type it; a clear error naming the bad value otherwise."""
    try:
        account_id = int(str(value).strip())
    except ValueError:
        raise ValueError(f"account id {value!r} is not an integer") from None
    if account_id <= 0:
        raise ValueError(f"account id {value!r} must be a positive integer")
    return account_id


def account_tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """Base tables with an account_id column in the erasable schemas (the ledger is tombstoned)."""
    rows = conn.execute(
        """
        SELECT c.table_schema, c.table_name
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.column_name = 'account_id' AND t.table_type = 'BASE TABLE'
          AND c.table_schema = ANY(%s)
        ORDER BY 1, 2
        """,
        (list(ERASABLE_SCHEMAS),),
    ).fetchall()
    return [r for r in rows if r != LEDGER]


def _columns(conn: psycopg.Connection, schema: str, table: str) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        (schema, table))}


def _owner_emails(conn: psycopg.Connection, account_id: int) -> list[str]:
    """The account's owner addresses as the warehouse knows them (read before raw is erased)."""
    return [r[0] for r in conn.execute(
        "SELECT owner_email FROM raw.accounts WHERE account_id = %(a)s AND owner_email IS NOT NULL "
        "UNION SELECT owner_email FROM quarantine.accounts WHERE account_id = %(a)s AND owner_email IS NOT NULL",
        {"a": account_id})]


# Ledger columns that can carry personal data (addresses in replies, file names with the account
# name, the .eml file): cleared on the tombstone; the .eml files named are deleted.
LEDGER_PERSONAL = {"attachments": "'{}'", "smtp_reply": "NULL", "last_error": "NULL", "outbox_path": "NULL"}


def _tombstone_ledger(conn: psycopg.Connection, account_id: int, emails: list[str]) -> tuple[int, list[Path]]:
    """Keep the account's ledger rows (what was sent, when) with the recipient replaced.

    Returns the rows tombstoned and the outbox files they named (to delete).
    """
    columns = _columns(conn, *LEDGER)
    if "recipient" not in columns:
        return 0, []
    match = sql.SQL("recipient = ANY(%(emails)s)")
    if "account_id" in columns:
        match = sql.SQL("(account_id = %(account)s OR recipient = ANY(%(emails)s))")
    params = {"account": account_id, "emails": emails, "tombstone": f"{TOMBSTONE_PREFIX}{account_id}"}
    where = sql.SQL("{} AND recipient <> %(tombstone)s").format(match)
    files: list[Path] = []
    if "outbox_path" in columns:
        files = [Path(r[0]) for r in conn.execute(
            sql.SQL("SELECT outbox_path FROM {} WHERE {} AND outbox_path IS NOT NULL").format(
                sql.Identifier(*LEDGER), where), params)]
    cleared = sql.SQL("").join(
        sql.SQL(", {} = {}").format(sql.Identifier(c), sql.SQL(v)) for c, v in LEDGER_PERSONAL.items() if c in columns
    )
    cur = conn.execute(
        sql.SQL("UPDATE {} SET recipient = %(tombstone)s{} WHERE {}").format(sql.Identifier(*LEDGER), cleared, where),
        params,
    )
    return cur.rowcount, files


def _artifact_paths(conn: psycopg.Connection, account_id: int) -> list[Path]:
    if "path" not in _columns(conn, *ARTIFACTS):
        return []
    return [Path(r[0]) for r in conn.execute(
        "SELECT path FROM reports.report_artifacts WHERE account_id = %s", (account_id,))]


def _remove_files(paths: list[Path], artifacts_dir: Path) -> int:
    """Delete the files that lie inside ARTIFACTS_DIR (relative paths are taken from there)."""
    removed = 0
    root = artifacts_dir.resolve()
    for path in paths:
        full = (root / path).resolve()
        if not full.is_relative_to(root):
            log.warning("Not removing %s: outside ARTIFACTS_DIR %s", full, root)
            continue
        if full.is_file():
            full.unlink()
            removed += 1
    return removed


def _scrub_manifests(paths: list[Path], artifacts_dir: Path, account_id: int) -> None:
    """Drop the account's entries (file names carry the account name) from the manifests beside its files."""
    for manifest in {(artifacts_dir / p).resolve().parent / MANIFEST for p in paths}:
        if not manifest.is_file():
            continue
        content = json.loads(manifest.read_text())
        files = content.get("files", [])
        kept = [f for f in files if f.get("account_id") != account_id]
        if len(kept) != len(files):
            content["files"] = kept
            manifest.write_text(json.dumps(content, indent=2, sort_keys=False) + "\n")


def erase_account(url: str, account_id: int, requested_by: str | None = None) -> ErasureReport:
    """Erase `account_id` from the warehouse and the report files; record and return the counts."""
    account_id = parse_account_id(account_id)
    removed: dict[str, int] = {}
    with connect(url) as conn:
        # Waits for running snapshots to commit and holds new ones until this commits.
        conn.execute("LOCK TABLE ops.erased_accounts IN EXCLUSIVE MODE")
        conn.execute(
            "INSERT INTO ops.erased_accounts (account_id, first_erased_at, requested_by) "
            "VALUES (%s, now(), %s) ON CONFLICT (account_id) DO NOTHING",
            (account_id, requested_by),
        )
        emails = _owner_emails(conn, account_id)
        tombstoned, outbox_files = _tombstone_ledger(conn, account_id, emails)
        if tombstoned:
            removed[f"{'.'.join(LEDGER)} (tombstoned)"] = tombstoned
        paths = _artifact_paths(conn, account_id) + outbox_files
        for schema, table in account_tables(conn):
            cur = conn.execute(
                sql.SQL("DELETE FROM {} WHERE account_id = %s").format(sql.Identifier(schema, table)),
                (account_id,),
            )
            if cur.rowcount:
                removed[f"{schema}.{table}"] = cur.rowcount
        # Files go before the commit: should the commit fail, the rows naming them are still
        # there and the next erasure finds them again (a missing file is simply skipped).
        artifacts_dir = get_settings().artifacts_dir
        files = _remove_files(paths, artifacts_dir)
        _scrub_manifests(paths, artifacts_dir, account_id)
        report = ErasureReport(account_id, removed, files)
        conn.execute(
            "INSERT INTO ops.erasure_runs (account_id, ran_at, rows_removed, files_removed, removed) "
            "VALUES (%s, now(), %s, %s, %s)",
            (account_id, report.rows_removed, files, json.dumps(removed, sort_keys=True)),
        )
        conn.commit()
    return report
