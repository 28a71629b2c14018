"""How figures read in the PDF and TXT formats (CSV/XLSX keep raw numbers).

One function for every human-readable figure, so tests can format an independently computed
value the same way and look for it in the PDF's text.
"""

from __future__ import annotations

import math
from datetime import date, datetime

import pandas as pd

MISSING = "–"
NUMERIC_KINDS = {"number", "integer", "money", "percent", "ratio"}
# Plan prices, MRR and the simulated invoices are all in US dollars; tables that hold invoices of
# several currencies carry their own `currency` column (amounts are never converted).
CURRENCY = "USD"
CURRENCY_COLUMNS = ("currency", "currencies")
# Decimals CSV/XLSX keep for a figure of each kind: the marts' own precision (money in cents,
# audio minutes to the thousandth, utilization percentages to the hundredth), so an export equals
# the data it was made from, without float noise; the PDF and TXT show fewer.
PRECISION = {"integer": 0, "money": 2, "number": 3, "percent": 2, "ratio": 4}


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def format_value(value: object, kind: str = "number", with_currency: bool = True) -> str:
    """`1,234` (integer), `1,234.50` (number), `USD 1,234.50` (money; without the code where a
    table's header or currency column says it), `45.3%` (percent: already ×100), `5.3%` (ratio)."""
    if _is_missing(value):
        return MISSING
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "text" or isinstance(value, str):
        return str(value)
    number = float(value)
    if kind == "integer":
        return f"{round(number):,}"
    if kind == "percent":
        return f"{number:,.1f}%"
    if kind == "ratio":
        return f"{number * 100:,.1f}%"
    if kind == "money":
        return f"{CURRENCY} {number:,.2f}" if with_currency else f"{number:,.2f}"
    if number == round(number):
        return f"{round(number):,}"
    return f"{number:,.2f}"


def change_note(current: float | None, previous: float | None, unit: str = "vs last month") -> str:
    """`up 12.5% vs last month`, `new vs last month` (from 0), `no change`; empty without a previous value.

    Words instead of a sign: a cell starting with `+` or `-` reads as a formula in a spreadsheet.
    """
    if _is_missing(current) or _is_missing(previous):
        return ""
    current, previous = float(current), float(previous)
    if previous == 0:
        return "no change" if current == 0 else f"new {unit}"
    change = (current - previous) / abs(previous) * 100
    if round(change, 1) == 0:
        return "no change"
    return f"{'up' if change > 0 else 'down'} {abs(change):.1f}% {unit}"


_WORDS = {"mrr": "MRR", "arr": "ARR", "arpa": "ARPA", "api": "API", "mb": "MB", "pct": "%", "id": "",
          "csv": "CSV", "pdf": "PDF", "xlsx": "XLSX", "txt": "TXT", "nrr": "NRR", "grr": "GRR"}


def pretty(column: str) -> str:
    """`audio_minutes_processed` -> `Audio minutes processed`, `mrr_change` -> `MRR change` for headers."""
    words = [_WORDS.get(w, w) for w in column.split("_") if w]
    text = " ".join(w for w in words if w)
    return text[:1].upper() + text[1:]


def has_currency_column(columns: object) -> bool:
    return any(c in CURRENCY_COLUMNS for c in columns)


def column_header(column: str, kind: str | None, currency_column: bool) -> str:
    """The readable header; a money column says its currency (`Ending MRR (USD)`) unless the table
    has a currency column of its own."""
    header = pretty(column)
    return f"{header} ({CURRENCY})" if kind == "money" and not currency_column else header


def is_numeric(series: pd.Series, kind: str | None) -> bool:
    """Whether a column reads as figures (right-aligned): by its kind, else by its dtype."""
    return kind in NUMERIC_KINDS or (kind is None and pd.api.types.is_numeric_dtype(series)
                                     and not pd.api.types.is_bool_dtype(series))
