"""The operator commands of `usage-analytics`: erase, retention (purge) and bulk.

They call orchestration/operations/ directly against the warehouse (the same functions the
Dagster jobs erase_account_job, retention_job and bulk_operation_job wrap), print what was
removed or what failed, and exit non-zero naming the input at fault: 2 for bad input, 1 when
the operation ran but something failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestration.progress import ProgressBar


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _print_removed(removed: dict[str, int]) -> None:
    for table, rows in sorted(removed.items()):
        print(f"  {table:<44} {rows:>10,}")


def erase(args: argparse.Namespace) -> int:
    from orchestration.operations.erasure import erase_account, parse_account_id
    from orchestration.warehouse.connection import warehouse_url

    try:
        account_id = parse_account_id(args.account)
    except ValueError as exc:
        return _error(f"--account {args.account!r}: {exc}")
    report = erase_account(warehouse_url(), account_id, requested_by="usage-analytics erase")
    if not report.removed and not report.files_removed:
        print(f"account {account_id}: nothing left to remove (already erased, or never loaded); "
              "it stays on the erasure list")
        return 0
    print(f"account {account_id} erased: {report.rows_removed:,} rows, {report.files_removed} report files")
    _print_removed(report.removed)
    return 0


def retention(args: argparse.Namespace) -> int:
    from orchestration.operations.retention import purge_expired
    from orchestration.settings import get_settings
    from orchestration.warehouse.connection import warehouse_url

    if args.days is not None and args.days < 1:
        return _error(f"--days {args.days}: the retention must be at least 1 day")
    days = args.days or get_settings().retention_days
    report = purge_expired(warehouse_url(), days)
    print(f"retention {days} days: rows before {report.cutoff:%Y-%m-%d %H:%M} UTC are due; "
          f"{report.days_purged} days purged, {report.days_held_back} held back (not rolled up yet), "
          f"{report.rows_removed:,} rows removed")
    _print_removed(report.removed)
    return 0


def _accounts(args: argparse.Namespace) -> list[str]:
    if args.accounts_file:
        path = Path(args.accounts_file)
        if not path.is_file():
            raise ValueError(f"--accounts-file {args.accounts_file!r}: no such file")
        values = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    else:
        values = [v.strip() for v in args.accounts.split(",")]
    accounts = [v for v in values if v]
    if not accounts:
        raise ValueError("no accounts given (--accounts 1,2,3 or --accounts-file with one id per line)")
    return accounts


def bulk(args: argparse.Namespace) -> int:
    from orchestration.operations.bulk import run_bulk
    from orchestration.warehouse.connection import warehouse_url

    if args.progress_every < 1:
        return _error(f"--progress-every {args.progress_every}: must be at least 1")
    try:
        accounts = _accounts(args)
    except ValueError as exc:
        return _error(str(exc))
    bar = ProgressBar(len(accounts))
    summary = run_bulk(warehouse_url(), args.operation, accounts, args.progress_every,
                       progress=lambda done, total, s: bar.update(done, f"accounts, {s.failed} failed"))
    print(f"bulk {args.operation} (run {summary.bulk_run_id} in ops.bulk_runs): {summary.succeeded} succeeded, "
          f"{summary.failed} failed")
    for account, error in summary.failures.items():
        print(f"  account {account!r}: {error}", file=sys.stderr)
    return 1 if summary.failures else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the operator commands to the main parser's subcommands."""
    from orchestration.operations.bulk import OPERATIONS

    p = commands.add_parser("erase", help="erase one account everywhere (the source is not touched)")
    p.add_argument("--account", required=True, help="the account id")
    p.set_defaults(func=erase)
    p = commands.add_parser("retention", aliases=["purge"],
                            help="purge raw and quarantine rows older than the retention, once rolled up")
    p.add_argument("--days", type=int, help="retention in days (default: RETENTION_DAYS, 90)")
    p.set_defaults(func=retention)
    p = commands.add_parser("bulk", help="run a named operation over many accounts")
    p.add_argument("operation", choices=sorted(OPERATIONS))
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--accounts", help="comma-separated account ids")
    source.add_argument("--accounts-file", help="a file with one account id per line (# comments allowed)")
    p.add_argument("--progress-every", type=int, default=100, help="log progress every N accounts")
    p.set_defaults(func=bulk)
