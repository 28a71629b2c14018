"""1,000 per-account monthly summaries rendered, gated and delivered over SMTP (issue 6, item 4).

Times the per-account report of the catalogue (reports/catalogue.yaml, audience `account`) for
the latest complete month of the benchmark database, through the functions its Dagster assets
call, in their order: `load_dataset` (reports/<id>_input), `validate_report_input` (the blocking
great-expectations check, orchestration/defs/report_checks.py), `publish_report` with the
configured REPORT_RENDER_WORKERS (reports/<id>: every catalogue format, files, manifest,
report_artifacts rows) and `deliver_report` (reports/<id>_delivery: sha256-verified attachments,
owner look-up, ledger, one SMTP session) to a real aiosmtpd server on 127.0.0.1.

The audience is cut honestly: the whole month's dataset is loaded as the input asset loads it,
then every table is restricted to the first 1,000 audience accounts (by id) that have an owner
e-mail not already taken by an earlier account (the ledger sends one message per address), and
that restricted dataset goes through the same gate, render and delivery code. The server must
have accepted exactly one message per account, each with every format attached, or the figure
fails. Each repeat first clears the period's ledger rows, artifact rows and folder, so it redoes
all the work instead of finding everything "already sent".
"""

from __future__ import annotations

import os
import resource
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bench.hooks import BenchContext, Figure, extra_figure
from bench.smtp_sink import CountingSmtpServer

if TYPE_CHECKING:
    from reports.catalogue import ReportSpec
    from reports.periods import Period

AUDIENCE = 1000
GOAL_SECONDS = 300
# Mail settings unset for the figure (a developer's SMTP_USER must not reach the local sink).
_MAIL_VARIABLES = ("SMTP_USER", "SMTP_PASSWORD", "SMTP_CA_FILE")


@contextmanager
def _environment(values: dict[str, str], unset: tuple[str, ...] = ()) -> Iterator[None]:
    """Set (and unset) environment variables for the block; restore the previous values afterwards."""
    names = [*values, *unset]
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(values)
    for name in unset:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _reachable_accounts(url: str, account_ids: list[int]) -> list[int]:
    """Accounts, by id, that delivery can send to, one per owner e-mail.

    An owner e-mail is looked up as reports/delivery.py does it. The ledger's key is (report, period,
    recipient), so a second account with the same owner e-mail would count as already sent and
    get no message: the benchmark keeps the first account of each address so that every one of its
    accounts is one message.
    """
    from orchestration.warehouse.frames import read_frame

    owners = read_frame(url, "SELECT account_id, owner_email FROM raw.accounts WHERE account_id = ANY(%s) "
                             "ORDER BY account_id", (account_ids,))
    seen: set[str] = set()
    reachable = []
    for account_id, email in zip(owners["account_id"], owners["owner_email"], strict=True):
        if isinstance(email, str) and "@" in email and email.strip() not in seen:
            seen.add(email.strip())
            reachable.append(int(account_id))
    return reachable


def restrict(dataset: dict[str, pd.DataFrame], account_ids: list[int]) -> dict[str, pd.DataFrame]:
    """Every table of a per-account dataset restricted to `account_ids` (all of them carry account_id)."""
    return {name: frame[frame["account_id"].isin(account_ids)].reset_index(drop=True)
            for name, frame in dataset.items()}


def _cpu_seconds() -> float:
    """User + system CPU of this process and its reaped children (the render pool's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _clear_period(url: str, report_id: str, period_key: str, folder: Path) -> None:
    """Forget the period's deliveries and files so a repeat sends and renders everything again."""
    from orchestration.warehouse.connection import connect

    with connect(url) as conn:
        conn.execute("DELETE FROM reports.delivery_ledger WHERE report_id = %s AND period = %s",
                     (report_id, period_key))
        conn.execute("DELETE FROM reports.report_artifacts WHERE report_id = %s AND period = %s",
                     (report_id, period_key))
        conn.commit()
    shutil.rmtree(folder, ignore_errors=True)


def _one_delivery(url: str, spec: ReportSpec, period: Period, account_ids: list[int],
                  server: CountingSmtpServer) -> dict[str, float]:
    """Load, gate, render and deliver once; seconds per step. Fails loudly on any shortfall."""
    from expectations.gate import validate_report_input
    from orchestration.settings import get_settings
    from reports.artifacts import period_dir
    from reports.datasets import load_dataset
    from reports.delivery import deliver_report
    from reports.publish import publish_report

    settings = get_settings()
    _clear_period(url, spec.id, period.key, period_dir(settings.artifacts_dir, spec.id, period.key))
    server.clear()
    cpu_before = _cpu_seconds()
    began = time.perf_counter()
    dataset = restrict(load_dataset(url, spec, period.start, period.end), account_ids)
    loaded = time.perf_counter()
    gate = validate_report_input(spec.id, dataset, period)
    if not gate.success:
        raise RuntimeError(f"benchmark dataset failed the report gate:\n{gate.describe()}")
    gated = time.perf_counter()
    published = publish_report(url, spec, period, dataset, settings.artifacts_dir, upstream={},
                               workers=settings.report_render_workers)
    rendered = time.perf_counter()
    summary = deliver_report(url, spec.id, period.key)
    delivered = time.perf_counter()
    cpu = _cpu_seconds() - cpu_before

    received = server.received
    expected = len(account_ids)
    if published.documents != expected or summary.sent != expected or len(received) != expected:
        raise RuntimeError(f"{spec.id} {period.key}: expected {expected} documents and messages, got "
                           f"{published.documents} documents, {summary.counts()} from delivery and "
                           f"{len(received)} messages at the SMTP server")
    short = [r for r in received if r.attachments != len(spec.formats)]
    if short:
        raise RuntimeError(f"{len(short)} messages reached the SMTP server without all {len(spec.formats)} "
                           f"attachments (e.g. to {short[0].recipients}: {short[0].attachments})")
    return {"load": loaded - began, "gate": gated - loaded, "render": rendered - gated,
            "deliver": delivered - rendered, "total": delivered - began, "cpu": cpu,
            "pages": published.pdf_pages or 0, "megabytes": sum(r.size for r in received) / 1e6}


@extra_figure
def report_delivery_times(ctx: BenchContext) -> dict[str, Figure]:
    from orchestration.settings import get_settings
    from orchestration.warehouse.frames import read_frame
    from reports.catalogue import load_catalogue
    from reports.datasets import load_dataset
    from reports.periods import latest_complete_period

    spec = next((s for s in load_catalogue().values() if s.audience == "account"), None)
    newest = read_frame(ctx.url, "SELECT max(usage_date) AS d FROM marts.fct_usage_daily")["d"].iloc[0]
    if spec is None or newest is None:  # no per-account report, or nothing built: nothing to time
        return {}
    period = latest_complete_period(spec.schedule, newest + timedelta(days=1))
    audience = load_dataset(ctx.url, spec, period.start, period.end)[spec.inputs[0]]["account_id"]
    reachable = _reachable_accounts(ctx.url, [int(a) for a in audience])
    account_ids = reachable[:AUDIENCE]
    if not account_ids:
        return {}

    runs: list[dict[str, float]] = []
    with CountingSmtpServer() as server, _environment({
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(server.port), "SMTP_STARTTLS": "false",
        "REPORT_FROM": "reports@bench.invalid", "ARTIFACTS_DIR": str(ctx.workdir / "delivery-artifacts"),
    }, unset=_MAIL_VARIABLES):
        workers = get_settings().report_render_workers
        for _ in range(ctx.repeat):
            runs.append(_one_delivery(ctx.url, spec, period, account_ids, server))

    n = len(account_ids)
    formats = ", ".join(spec.formats)
    notes = [
        f"{spec.id} for {period.key}: the month's dataset loaded for its whole audience ({len(audience):,} "
        f"accounts, {len(reachable):,} with a distinct owner e-mail), every table then restricted to the first "
        f"{n:,} of those by account id; that dataset goes through the platform's validate_report_input, "
        "publish_report and deliver_report unchanged.",
        f"{n:,} messages counted at an aiosmtpd server on 127.0.0.1 per run, each with {len(spec.formats)} "
        f"attachments ({formats}); {runs[-1]['pages']:,} PDF pages, {runs[-1]['megabytes']:.1f} MB of mail.",
        f"Rendering in {workers} process(es) (REPORT_RENDER_WORKERS); one SMTP session without TLS; the "
        "period's ledger, artifact rows and files cleared before each run.",
        "Not timed: Dagster's run machinery around the assets (event log, IO manager pickling, "
        "delivery's look-up of the check result).",
    ]
    if n < AUDIENCE:
        notes.insert(0, f"Only {n:,} accounts at this scale: the goal is for {AUDIENCE:,}.")
    who = f"{n:,} per-account summaries"
    return {
        "report_delivery_total": Figure(f"{who} ({period.key}): load, gate, render {formats}, SMTP delivery",
                                        "s", [r["total"] for r in runs], goal=f"< {GOAL_SECONDS} s", notes=notes),
        "report_delivery_load": Figure(f"… {who}: dataset load and restriction", "s", [r["load"] for r in runs]),
        "report_delivery_gate": Figure(f"… {who}: great-expectations gate", "s", [r["gate"] for r in runs]),
        "report_delivery_render": Figure(f"… {who}: render every format, files + records", "s",
                                         [r["render"] for r in runs]),
        "report_delivery_smtp": Figure(f"… {who}: SMTP delivery through the ledger", "s",
                                       [r["deliver"] for r in runs]),
        "report_delivery_cpu": Figure(f"… {who}: CPU seconds, this process and its render workers", "s",
                                      [r["cpu"] for r in runs]),
    }
