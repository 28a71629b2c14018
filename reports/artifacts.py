"""Where report files go and what they are called, plus the manifest that describes a run.

Files land in `ARTIFACTS_DIR/<report>/<period>/` as `<report>_<account-slug>_<YYYYMMDD>.<ext>`.
The slug is derived from the account name but must be safe whatever a customer typed (slashes,
quotes, control characters, any script, hundreds of characters), so it is folded to ASCII,
reduced to `[a-z0-9-]`, truncated, and suffixed with the account id to stay unique.
A re-run builds the folder aside and swaps it in, so the folder always holds exactly one run's
files and a crash never leaves a half-written set.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

MAX_SLUG = 60
INTERNAL_SLUG = "platform"
MANIFEST = "manifest.json"


def slugify(text: str, max_length: int = MAX_SLUG) -> str:
    """ASCII `[a-z0-9-]` slug of `text` (may be empty when nothing survives)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    return slug[:max_length].rstrip("-")


def account_slug(account_id: int | None, account_name: str | None) -> str:
    """`acme-inc-42` for account 42; `platform` for internal reports."""
    if account_id is None:
        return INTERNAL_SLUG
    base = slugify(account_name or "")
    return f"{base}-{account_id}" if base else f"account-{account_id}"


def artifact_name(report_id: str, account_id: int | None, account_name: str | None,
                  period_start: date, extension: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", report_id):
        raise ValueError(f"report id {report_id!r} is not file-name safe")
    if extension not in ("pdf", "csv", "xlsx", "txt"):
        raise ValueError(f"unknown artifact format {extension!r}")
    return f"{report_id}_{account_slug(account_id, account_name)}_{period_start:%Y%m%d}.{extension}"


@dataclass(frozen=True)
class Artifact:
    name: str
    format: str
    account_id: int | None
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def build_manifest(report_id: str, title: str, period_key: str, period_start: date, period_end: date,
                   formats: tuple[str, ...], row_counts: dict[str, int], data_hash: str,
                   upstream: dict[str, str | None], artifacts: list[Artifact]) -> dict:
    """The manifest: enough to tell what a set of files was made from, and to verify them.

    It holds no timestamps, so re-rendering the same data gives the same manifest.
    """
    return {
        "report": report_id,
        "title": title,
        "period": period_key,
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "formats": list(formats),
        "input_row_counts": dict(sorted(row_counts.items())),
        "data_hash": data_hash,
        "upstream": [{"asset": key, "partitions": upstream[key]} for key in sorted(upstream)],
        "files": [
            {"name": a.name, "format": a.format, "account_id": a.account_id,
             "bytes": len(a.content), "sha256": a.sha256}
            for a in sorted(artifacts, key=lambda a: a.name)
        ],
    }


def period_dir(root: Path, report_id: str, period_key: str) -> Path:
    return root / report_id / period_key


def write_period(root: Path, report_id: str, period_key: str, artifacts: list[Artifact], manifest: dict) -> Path:
    """Replace `root/<report>/<period>/` with exactly these files and the manifest."""
    names = [a.name for a in artifacts]
    if len(set(names)) != len(names):
        raise ValueError(f"report {report_id} {period_key}: two artifacts share a file name")
    target = period_dir(root, report_id, period_key)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{period_key}.tmp-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        for artifact in artifacts:
            (staging / artifact.name).write_bytes(artifact.content)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
        retired = None
        if target.exists():
            retired = target.parent / f".{period_key}.old-{uuid.uuid4().hex}"
            os.replace(target, retired)
        os.replace(staging, target)
        if retired is not None:
            shutil.rmtree(retired)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target
