"""Building blocks of the expectation suites: GX expectations with a reason attached, and frames
derived from several tables for reconciliations.

Each expectation carries `meta["why"]`, the sentence a failure report shows next to the failing
rows. GX is imported only when a suite is built (inside a validation), never at import.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pandas as pd

from reports.periods import Period

CENT = 0.011  # amounts are numeric(…, 2): one rounding step per term


def gx_expectations():
    import great_expectations.expectations as gxe

    return gxe


def columns(*names: str):
    return gx_expectations().ExpectTableColumnsToMatchSet(column_set=list(names), exact_match=False,
                                                          meta={"why": "the report reads these columns"})


def not_null(*names: str) -> list:
    return [gx_expectations().ExpectColumnValuesToNotBeNull(column=n, meta={"why": f"{n} identifies or labels a row"})
            for n in names]


def unique(*names: str):
    gxe = gx_expectations()
    why = {"why": f"one row per {', '.join(names)}"}
    if len(names) == 1:
        return gxe.ExpectColumnValuesToBeUnique(column=names[0], meta=why)
    return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(names), meta=why)


def non_negative(*names: str) -> list:
    return [between(n, 0, None, f"{n} is never negative") for n in names]


def non_positive(*names: str) -> list:
    return [between(n, None, 0, f"{n} is a loss, stored as a negative amount") for n in names]


def between(name: str, low: float | None, high: float | None, why: str):
    return gx_expectations().ExpectColumnValuesToBeBetween(column=name, min_value=low, max_value=high,
                                                           meta={"why": why})


def zero(name: str, why: str, tolerance: float = CENT):
    return between(name, -tolerance, tolerance, why)


def in_period(name: str, period: Period, months_before: int = 0):
    start = period.start
    for _ in range(months_before):
        start = (start.replace(day=1) - timedelta(days=1)).replace(day=1)
    last_day = period.end - timedelta(days=1)
    return between(name, start, last_day, f"{name} lies in the report period {start}..{last_day}")


def rows_at_most(n: int):
    return gx_expectations().ExpectTableRowCountToBeBetween(min_value=0, max_value=n,
                                                  meta={"why": f"at most {n} row(s) per period"})


def rows_at(frame: pd.DataFrame, column: str, value) -> pd.DataFrame:
    return frame[frame[column] == value]


def sums_difference(left_table: str, right_table: str, keys: tuple[str, ...], pairs: dict[str, str],
                    right_filter: Callable[[pd.DataFrame], pd.DataFrame] | None = None
                    ) -> Callable[[dict[str, pd.DataFrame]], pd.DataFrame]:
    """Per key (or overall), sum of each left column minus the sum of its paired right column."""
    def derive(dataset: dict[str, pd.DataFrame]) -> pd.DataFrame:
        left, right = dataset[left_table], dataset[right_table]
        if right_filter is not None:
            right = right_filter(right)
        if keys:
            joined = (left.groupby(list(keys))[list(pairs)].sum().add_suffix("__left")
                      .join(right.groupby(list(keys))[list(pairs.values())].sum().add_suffix("__right"), how="outer")
                      .fillna(0))
        else:
            joined = pd.DataFrame([{**{f"{c}__left": left[c].sum() for c in pairs},
                                    **{f"{c}__right": right[c].sum() for c in pairs.values()}}])
        frame = pd.DataFrame({f"{a}_difference": joined[f"{a}__left"].astype(float)
                              - joined[f"{b}__right"].astype(float) for a, b in pairs.items()})
        return frame.reset_index() if keys else frame
    return derive
