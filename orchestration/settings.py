"""Runtime configuration, read from environment variables only (12-factor).

Every variable is documented in `.env.example`. Paths default to folders under the repository
so that `make demo`, `make ui`, dbt and the tests all share one embedded warehouse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Where `usage-analytics demo` records the day its simulated history starts (LOCAL_DIR/<this>).
RECORDED_PARTITIONS_START = "partitions_start"
FALLBACK_PARTITIONS_START = "2026-01-01"


@dataclass(frozen=True)
class Settings:
    warehouse_url: str | None
    source_url: str | None
    local_dir: Path
    artifacts_dir: Path
    partitions_start: str
    late_data_lookback_hours: int
    snapshot_commit_margin_seconds: int
    bi_role: str
    bi_role_password: str | None
    report_render_workers: int  # processes rendering a per-account report's documents
    retention_days: int
    bench_database: str = "uap_bench"

    @property
    def embedded_warehouse_dir(self) -> Path:
        return self.local_dir / "warehouse"

    @property
    def demo_source(self) -> bool:
        """The simulator owns the source only when no real source database is configured."""
        return self.source_url is None


def _positive_int(name: str, default: str) -> int:
    value = os.environ.get(name) or default
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def _date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from None


def recorded_partitions_start(local_dir: Path) -> date | None:
    """The start of the history the demo last simulated in this checkout, if it recorded one."""
    recorded = local_dir / RECORDED_PARTITIONS_START
    return _date(str(recorded), recorded.read_text().strip()) if recorded.is_file() else None


def partitions_start(local_dir: Path) -> str:
    """The first day (UTC) of every partitioned asset: where the data begins.

    PARTITIONS_START when set (a deployment sets it to where its source data begins); else the
    history start the demo recorded when it simulated its source; else 2026-01-01. Read from a
    setting or a file, never from the clock or the data, so a deployment's partitions stay the
    same from one day to the next (docs/operations.md, "Partitions").
    """
    if value := os.environ.get("PARTITIONS_START"):
        return _date("PARTITIONS_START", value).isoformat()
    return (recorded_partitions_start(local_dir) or date.fromisoformat(FALLBACK_PARTITIONS_START)).isoformat()


def record_partitions_start(local_dir: Path, day: date) -> None:
    """Fix the partitions' first day for this checkout (the demo, when it simulates a new history)."""
    local_dir.mkdir(parents=True, exist_ok=True)
    (local_dir / RECORDED_PARTITIONS_START).write_text(f"{day.isoformat()}\n")


def get_settings() -> Settings:
    local_dir = Path(os.environ.get("LOCAL_DIR", PROJECT_ROOT / ".local")).resolve()
    return Settings(
        warehouse_url=os.environ.get("WAREHOUSE_URL") or None,
        source_url=os.environ.get("SOURCE_URL") or None,
        local_dir=local_dir,
        artifacts_dir=Path(os.environ.get("ARTIFACTS_DIR", local_dir / "artifacts")).resolve(),
        partitions_start=partitions_start(local_dir),
        late_data_lookback_hours=int(os.environ.get("LATE_DATA_LOOKBACK_HOURS", "72")),
        snapshot_commit_margin_seconds=int(os.environ.get("SNAPSHOT_COMMIT_MARGIN_SECONDS", "300")),
        bi_role=os.environ.get("BI_ROLE", "bi_reader"),
        bi_role_password=os.environ.get("BI_ROLE_PASSWORD") or None,
        report_render_workers=max(1, int(os.environ.get("REPORT_RENDER_WORKERS", min(4, os.cpu_count() or 1)))),
        retention_days=_positive_int("RETENTION_DAYS", "90"),
        bench_database=os.environ.get("BENCH_DATABASE") or "uap_bench",
    )


@dataclass(frozen=True)
class MailSettings:
    """SMTP for report delivery and operator alerts; `host` None means .eml files in the outbox."""

    host: str | None
    port: int
    user: str | None
    password: str | None = field(repr=False)  # never printed or logged
    starttls: bool
    ca_file: str | None  # CA bundle for STARTTLS with a private relay; None: the system's CAs
    sender: str
    operator_email: str | None
    timeout_seconds: float
    max_attempts: int
    backoff_seconds: float
    claim_lease_seconds: int
    max_message_bytes: int  # a larger message (attachments encoded) is not sent, for that recipient only


def _flag(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value in ("true", "1", "yes")


def get_mail_settings() -> MailSettings:
    """Read at delivery time (not import), so a run picks up the environment it starts with."""
    max_attempts = int(os.environ.get("DELIVERY_MAX_ATTEMPTS", "5"))
    if max_attempts < 1:
        raise ValueError(f"DELIVERY_MAX_ATTEMPTS must be at least 1, got {max_attempts}")
    return MailSettings(
        host=os.environ.get("SMTP_HOST") or None,
        port=int(os.environ.get("SMTP_PORT") or "587"),
        user=os.environ.get("SMTP_USER") or None,
        password=os.environ.get("SMTP_PASSWORD") or None,
        starttls=_flag("SMTP_STARTTLS", "true"),
        ca_file=os.environ.get("SMTP_CA_FILE") or None,
        sender=os.environ.get("REPORT_FROM") or "reports@usage-analytics.invalid",
        operator_email=os.environ.get("OPERATOR_EMAIL") or None,
        timeout_seconds=float(os.environ.get("SMTP_TIMEOUT_SECONDS", "30")),
        max_attempts=max_attempts,
        backoff_seconds=float(os.environ.get("DELIVERY_BACKOFF_SECONDS", "2")),
        claim_lease_seconds=int(os.environ.get("DELIVERY_CLAIM_LEASE_SECONDS", "900")),
        max_message_bytes=int(os.environ.get("DELIVERY_MAX_MESSAGE_BYTES", str(10 * 1024 * 1024))),
    )


@dataclass(frozen=True)
class ValidationLimits:
    """Largest value one source row may carry; a larger one is quarantined as out of range.

    Defaults sit far above anything the product records (a session lasts at most 24 hours, so it
    cannot hold more than 1,440 audio minutes) and far below the sentinel values broken clients
    send (INT_MAX counts, 999,999,999 minutes, 99,999,999,999 MB).
    """

    max_event_quantity: int  # units in one usage event (API calls, exports, share links)
    max_session_audio_minutes: int  # audio minutes in one session
    max_session_file_size_mb: int  # size of one session's recording
    max_storage_mb: int  # one account's storage meter reading
    max_invoice_amount: int  # subscription fee, overage fee or total of one invoice


def get_validation_limits() -> ValidationLimits:
    """Read when an extraction starts, so a changed limit applies from the next run."""
    return ValidationLimits(
        max_event_quantity=_positive_int("MAX_EVENT_QUANTITY", "100000"),
        max_session_audio_minutes=_positive_int("MAX_SESSION_AUDIO_MINUTES", "1440"),
        max_session_file_size_mb=_positive_int("MAX_SESSION_FILE_SIZE_MB", "100000"),
        max_storage_mb=_positive_int("MAX_STORAGE_MB", "100000000"),
        max_invoice_amount=_positive_int("MAX_INVOICE_AMOUNT", "10000000"),
    )
