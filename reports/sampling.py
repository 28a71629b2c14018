"""Rendering a per-account report for a sample of its audience (REPORT_ACCOUNT_SAMPLE).

The demo sets a sample so that a first-time user reaches a browsable platform in minutes: every
format of the per-account summary is rendered (and delivered) for that many accounts, chosen
evenly across the audience in account order, so the sample spans small and large accounts and
a re-run picks the same ones. Unset (the default outside the demo), every account gets its files.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from reports.catalogue import ReportSpec

SAMPLE_ENV = "REPORT_ACCOUNT_SAMPLE"


def parse_account_sample(value: str | None, name: str = SAMPLE_ENV) -> int | None:
    """A sample size as written by a person: a positive number of accounts; None, '' or `all`
    mean every account. `name` is what a bad value's error names (the variable or the option)."""
    text = (value or "").strip().lower()
    if text in ("", "all"):
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a positive whole number of accounts or 'all', got {value!r}")
    return int(text)


def report_account_sample() -> int | None:
    """REPORT_ACCOUNT_SAMPLE, read when a report renders (the demo sets it for its own process)."""
    return parse_account_sample(os.environ.get(SAMPLE_ENV))


def sample_accounts(spec: ReportSpec, dataset: dict[str, pd.DataFrame], accounts: int | None
                    ) -> tuple[dict[str, pd.DataFrame], int]:
    """The dataset restricted to `accounts` accounts of the audience, and the audience's size.

    The audience is the report's first input (one row per account, datasets.py); every table
    with an account_id column is restricted to the sample. Internal reports, and samples at
    least as large as the audience, come back unchanged.
    """
    if spec.audience != "account":
        return dataset, 1
    audience = np.sort(dataset[spec.inputs[0]]["account_id"].dropna().unique())
    if accounts is None or accounts >= len(audience):
        return dataset, len(audience)
    chosen = audience[np.linspace(0, len(audience) - 1, accounts).round().astype(int)]
    return {name: frame[frame["account_id"].isin(chosen)] if "account_id" in frame.columns else frame
            for name, frame in dataset.items()}, len(audience)
