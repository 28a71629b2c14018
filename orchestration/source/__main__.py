"""Build or extend the demo source database (schema `app` at source_url()).

    python -m orchestration.source --accounts 2000 --days 90 --seed 7 [--end 2026-11-23T17:00:00Z]
    python -m orchestration.source --append-until now        # or an ISO time

Times without a timezone are taken as UTC; all times are truncated to the hour.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from orchestration.source.simulator import append_activity, apply_source_schema, simulate_history
from orchestration.warehouse.connection import connect, source_url


def _moment(text: str) -> datetime:
    if text == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time or 'now': {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.source",
        description="Simulate the product's operational database (schema app) at source_url().")
    parser.add_argument("--accounts", type=_at_least(1), help="accounts signed up by --end (2000)")
    parser.add_argument("--days", type=_at_least(1), help="days of history (90)")
    parser.add_argument("--seed", type=_at_least(0), help="random seed (7)")
    parser.add_argument("--end", type=_moment, help="end of the history, ISO time or 'now' (now)")
    parser.add_argument("--append-until", type=_moment, metavar="TIME",
                        help="instead of a new history, continue the simulation up to TIME")
    parser.add_argument("--late-rate", type=_rate, default=0.01,
                        help="share of event rows recorded 2-30 h late (0.01)")
    parser.add_argument("--bad-rate", type=_rate, default=0.002,
                        help="share of event rows that are malformed (0.002)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    history_args = {"--accounts": args.accounts, "--days": args.days, "--seed": args.seed,
                    "--end": args.end}
    if args.append_until and any(v is not None for v in history_args.values()):
        given = ", ".join(k for k, v in history_args.items() if v is not None)
        parser.error(f"argument --append-until: cannot be combined with {given}")
    started = time.perf_counter()
    with connect(source_url()) as conn:
        if args.append_until:
            try:
                counts = append_activity(conn, until=args.append_until,
                                         late_rate=args.late_rate, bad_rate=args.bad_rate)
            except RuntimeError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
        else:
            apply_source_schema(conn)
            counts = simulate_history(
                conn, accounts=args.accounts or 2000, days=args.days or 90,
                seed=7 if args.seed is None else args.seed,
                end=args.end or datetime.now(UTC), late_rate=args.late_rate,
                bad_rate=args.bad_rate)
    for table, rows in counts.items():
        print(f"{table:<24}{rows:>12,}")
    print(f"{'elapsed seconds':<24}{time.perf_counter() - started:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
