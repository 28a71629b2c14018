"""One BLAS thread for the many small model fits of the ml code.

statsmodels fits (ETS, Theta, STL's loess, SARIMAX) run scipy's L-BFGS-B and small linear algebra, a BLAS call
per iteration on vectors of a handful of numbers. OpenBLAS still hands each call to its thread pool (one thread
per core), and when the cores are busy every call waits for a thread to be scheduled: one `forecast()` of the
monthly co2 series took 7.1 s with OpenBLAS's 2 threads and 1.7 s with one, at load average 6 on 2 cores (the
five public series of tests/test_public_datasets.py: 29.7 s vs 3.7 s). At these sizes a second thread never
helps, so the fits run with BLAS limited to one thread (threadpoolctl, which scikit-learn already uses for the
same purpose); the limit is lifted when the function returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import numpy  # noqa: F401 - loads numpy's OpenBLAS before the controller looks for it
import scipy.linalg  # noqa: F401 - and scipy's
from threadpoolctl import ThreadpoolController

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def _controller() -> ThreadpoolController:
    """The BLAS libraries loaded in this process, found once (a lookup costs ~8 ms, a limit ~0.2 ms)."""
    return ThreadpoolController()


def single_blas_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` with every loaded BLAS library limited to one thread (see the module docstring)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _controller().limit(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper
