"""Running great-expectations suites on pandas frames, and turning GX results into plain failures.

GX is imported and its (ephemeral, in-memory, analytics off) context is built inside `run_checks`,
never at import: loading the Dagster definitions must not pay GX's import time or touch anything.
A `TableCheck` is one frame — a dataset table, or a frame derived from several tables for a
reconciliation — with the expectations it must meet and the key columns that identify its rows,
so a failure names the rows (by key) and not just a count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

SAMPLE_ROWS = 10


@dataclass(frozen=True)
class TableCheck:
    table: str  # a dataset table, or "<table>:<what>" for a derived frame
    key_columns: tuple[str, ...]
    expectations: Sequence[Any]  # great_expectations.expectations instances, meta["why"] says why
    derive: Callable[[dict[str, pd.DataFrame]], pd.DataFrame] | None = None

    def frame(self, dataset: dict[str, pd.DataFrame]) -> pd.DataFrame:
        if self.derive is not None:
            return self.derive(dataset)
        if self.table not in dataset:
            raise KeyError(self.table)
        return dataset[self.table]


@dataclass(frozen=True)
class ExpectationFailure:
    expectation: str  # GX expectation type, e.g. expect_column_values_to_be_between
    table: str
    column: str | None
    why: str  # what the expectation guards, in words
    unexpected_count: int | None = None
    element_count: int | None = None
    failing_rows: list[dict[str, Any]] = field(default_factory=list)  # key columns + the offending value
    observed: Any = None  # observed value of table-level expectations
    error: str | None = None  # the expectation could not be evaluated (e.g. a missing column)

    def describe(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{self.expectation} on {where} — {self.why}"
        if self.error:
            return f"{text}: could not be evaluated: {self.error}"
        if self.unexpected_count is not None:
            text += f": {self.unexpected_count} of {self.element_count} rows fail"
        if self.observed is not None:
            text += f": observed {self.observed}"
        if self.failing_rows:
            rows = "; ".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in self.failing_rows)
            text += f"; failing rows: {rows}"
        return text


def _plain(value: Any) -> Any:
    """JSON-friendly scalars for metadata and messages."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (date, datetime, pd.Timestamp)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _exception_text(exception_info: Any) -> str | None:
    if not exception_info:
        return None
    infos = exception_info.values() if "raised_exception" not in exception_info else [exception_info]
    messages = [i.get("exception_message") for i in infos if isinstance(i, dict) and i.get("raised_exception")]
    return "; ".join(m for m in messages if m) or None


def _failure(table: str, result: Any) -> ExpectationFailure:
    config = result.expectation_config
    kwargs = config.kwargs
    column = kwargs.get("column") or (",".join(kwargs["column_list"]) if kwargs.get("column_list") else None)
    details = result.result or {}
    rows = details.get("unexpected_index_list") or []
    error = _exception_text(result.exception_info)
    if error is None and not details:
        error = "no result (a column it needs may be missing)"
    return ExpectationFailure(
        expectation=config.type,
        table=table,
        column=column,
        why=(config.meta or {}).get("why", ""),
        unexpected_count=details.get("unexpected_count"),
        element_count=details.get("element_count"),
        failing_rows=[_plain(r) if isinstance(r, dict) else {"row": _plain(r)} for r in rows[:SAMPLE_ROWS]],
        observed=_plain(details.get("observed_value")) if "unexpected_count" not in details else None,
        error=error,
    )


def run_checks(suite_name: str, checks: Sequence[TableCheck], dataset: dict[str, pd.DataFrame]
               ) -> tuple[list[ExpectationFailure], int]:
    """Validate every check's frame with GX; returns the failures and the number of expectations run."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    ))
    source = context.data_sources.add_pandas(suite_name)
    failures: list[ExpectationFailure] = []
    evaluated = 0
    for position, check in enumerate(checks):
        try:
            frame = check.frame(dataset)
        except KeyError as exc:
            name = exc.args[0] if exc.args else check.table
            error = (f"input table {name!r} is missing from the dataset (has {sorted(dataset)})"
                     if name not in dataset else f"column {name!r} is missing")
            failures.append(ExpectationFailure("dataset_has_table", check.table, None,
                                               "the tables and columns the suite checks must exist", error=error))
            continue
        except (ValueError, TypeError) as exc:
            failures.append(ExpectationFailure("derive_frame", check.table, None,
                                               "the reconciliation frame must be computable", error=str(exc)))
            continue
        missing_keys = [c for c in check.key_columns if c not in frame.columns]
        if missing_keys:
            failures.append(ExpectationFailure("expect_column_to_exist", check.table, ",".join(missing_keys),
                                               "key columns identify failing rows", error="missing key columns"))
            continue
        suite = gx.ExpectationSuite(name=f"{suite_name}.{check.table}",
                                    expectations=list(check.expectations))
        batch = (source.add_dataframe_asset(f"t{position}")
                 .add_batch_definition_whole_dataframe("whole")
                 .get_batch(batch_parameters={"dataframe": frame.reset_index(drop=True)}))
        result = batch.validate(suite, result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": list(check.key_columns),
            "partial_unexpected_count": SAMPLE_ROWS,
        })
        evaluated += len(result.results)
        failures.extend(_failure(check.table, r) for r in result.results if not r.success)
    return failures, evaluated
