"""Runtime configuration, read from environment variables only (12-factor).

Every variable is documented in `.env.example`. Paths default to folders under the repository
so that `make demo`, `make ui`, dbt and the tests all share one embedded warehouse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
    retention_days: int

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


def get_settings() -> Settings:
    local_dir = Path(os.environ.get("LOCAL_DIR", PROJECT_ROOT / ".local")).resolve()
    return Settings(
        warehouse_url=os.environ.get("WAREHOUSE_URL") or None,
        source_url=os.environ.get("SOURCE_URL") or None,
        local_dir=local_dir,
        artifacts_dir=Path(os.environ.get("ARTIFACTS_DIR", local_dir / "artifacts")).resolve(),
        partitions_start=os.environ.get("PARTITIONS_START", "2026-01-01"),
        late_data_lookback_hours=int(os.environ.get("LATE_DATA_LOOKBACK_HOURS", "72")),
        snapshot_commit_margin_seconds=int(os.environ.get("SNAPSHOT_COMMIT_MARGIN_SECONDS", "300")),
        bi_role=os.environ.get("BI_ROLE", "bi_reader"),
        bi_role_password=os.environ.get("BI_ROLE_PASSWORD") or None,
        retention_days=_positive_int("RETENTION_DAYS", "90"),
    )
