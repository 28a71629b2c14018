"""`forecast()` with its defaults on public series it was never tuned on, against statsmodels fitted by hand.

The series ship inside the statsmodels wheel (no network): its datasets co2, elnino, nile and macrodata, and the
US housing starts (FRED HOUSTNSA, not seasonally adjusted) of its Holt-Winters test data. Each has a documented
window and hold-out (the last `h` points). The reference is the better hold-out MAPE of two models an analyst
would fit by hand: statsmodels' `ETSModel` with the configuration its AICc picks over the whole ETS family
(error A/M x trend N/A/Ad x season N/A/M, maximum-likelihood start; the pick is recorded below) and the
classic ARIMA (airline SARIMA(0,1,1)(0,1,1)m with a season, ARIMA(0,1,1) with drift without). `forecast()`
infers the season itself. Measured (hold-out MAPE %, ours / reference, our model, 95 % interval coverage):

    dataset          window, hold-out                ours   reference            model                  cov95
    housing_starts   2008-07..2018-06, last 24 mo    6.00   5.55 SARIMA          theta                  1.00
    co2              1990-01..2001-12, last 24 mo    0.08   0.08 ETS(M,A,A)      ets ETS(A,A,A)         1.00
    elnino           1991-01..2010-12, last 24 mo    3.34   3.29 ETS(M,N,A)      linear_trend_season    1.00
    nile             1871..1970, last 10 years      13.40  13.06 ARIMA           log_ets log ETS(A,N,N) 1.00
    realgdp          1985Q1..2007Q3, last 8 qtrs     0.55   0.55 ETS(M,A,N)      ets ETS(M,A,N)         1.00

sunspots is left out: its values reach 0, where MAPE is undefined. The realgdp window ends before the 2008
recession, which no univariate model foresees.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels
from statsmodels import datasets
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.statespace.sarimax import SARIMAX

from orchestration.ml.forecasting import forecast


def housing_starts() -> pd.Series:
    path = Path(statsmodels.__file__).parent / "tsa" / "holtwinters" / "tests" / "results" / "housing-data.csv"
    return pd.read_csv(path, index_col="DATE", parse_dates=True)["HOUSTNSA"].asfreq("MS")["2008-07":"2018-06"]


def co2() -> pd.Series:
    weekly = datasets.co2.load_pandas().data["co2"]
    return weekly.resample("MS").mean().interpolate()["1990":"2001"]


def elnino() -> pd.Series:
    table = datasets.elnino.load_pandas().data.set_index("YEAR")
    values = table.stack().astype(float)
    return pd.Series(values.to_numpy(), index=pd.date_range("1950-01-01", periods=len(values), freq="MS"))["1991":]


def nile() -> pd.Series:
    frame = datasets.nile.load_pandas().data
    return pd.Series(frame.volume.to_numpy(dtype=float), index=pd.date_range("1871", periods=len(frame), freq="YS"))


def realgdp() -> pd.Series:
    frame = datasets.macrodata.load_pandas().data
    series = pd.Series(frame.realgdp.to_numpy(), index=pd.date_range("1959-01-01", periods=len(frame), freq="QS"))
    return series["1985":"2007-09"]


# name -> (loader, hold-out points, season for the ARIMA reference, the AICc-picked ETS (error, trend, damped, season))
DATASETS = {
    "housing_starts": (housing_starts, 24, 12, ("add", "add", True, "mul")),
    "co2": (co2, 24, 12, ("mul", "add", False, "add")),
    "elnino": (elnino, 24, 12, ("mul", None, False, "add")),
    "nile": (nile, 10, None, ("mul", None, False, None)),
    "realgdp": (realgdp, 8, None, ("mul", "add", False, None)),
}


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs((actual - np.asarray(predicted)) / actual)) * 100)


def reference_mape(train: np.ndarray, test: np.ndarray, season: int | None, ets: tuple) -> float:
    error, trend, damped, seasonal = ets
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_ets = ETSModel(train, error=error, trend=trend, damped_trend=damped, seasonal=seasonal,
                          seasonal_periods=season if seasonal else None).fit(disp=False)
        if season:
            arima = SARIMAX(train, order=(0, 1, 1), seasonal_order=(0, 1, 1, season)).fit(disp=False)
        else:
            arima = SARIMAX(train, order=(0, 1, 1), trend="t").fit(disp=False)
    return min(mape(test, by_ets.forecast(len(test))), mape(test, arima.forecast(len(test))))


@pytest.mark.parametrize("name", list(DATASETS))
def test_hold_out_error_within_ten_percent_of_statsmodels_by_hand_and_intervals_cover(name):
    load, h, season, ets = DATASETS[name]
    series = load()
    train, test = series.iloc[:-h], series.iloc[-h:].to_numpy()
    result = forecast(train, h)
    assert result.attrs["season_length"] == season, result.attrs["season_reason"]
    ours = mape(test, result.yhat.to_numpy())
    reference = reference_mape(train.to_numpy(), test, season, ets)
    assert ours <= 1.10 * reference, (name, ours, reference, result.attrs["model"], result.attrs["model_detail"])
    coverage = float(np.mean((test >= result.yhat_lower) & (test <= result.yhat_upper)))
    assert coverage >= 0.90, (name, coverage)
