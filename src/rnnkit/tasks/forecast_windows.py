"""Transforms, periods, windows and rolling-origin scoring for ``rnnkit forecast``.

Time steps ``0 .. T-1`` split into three periods, in order: training ``[0, train_end)``, validation
``[train_end, val_end)``, test ``[val_end, T)``. A forecast made at *origin* ``t`` sees rows ``t-W .. t-1`` (the
window) and predicts the target at ``t .. t+H-1``. Training windows have their targets inside the training
period, validation origins inside the validation period, test origins ``val_end .. T-H`` (rolling, one step
apart) inside the test period: a value of the test period is never a training target, a training input, or a
statistic of the scaling (the leakage test in ``tests/forecast`` changes them all and compares the weights).

Transforms of the target (``z`` is what the network reads and predicts; ``y`` is the series):
``none`` ``z = y``; ``log`` ``z = log y``; ``diff`` ``z_t = y_t - y_{t-1}``; ``log-diff`` ``z_t = log y_t -
log y_{t-1}``. Forecasts go back with ``inverse`` from the last observed value ``y_{t-1}``.

>>> import numpy as np
>>> y = np.array([1.0, 2.0, 4.0, 7.0])
>>> z = transform(y, "diff")
>>> z.tolist()
[nan, 1.0, 2.0, 3.0]
>>> inverse(np.array([[3.0, 4.0]]), np.array([7.0]), "diff").tolist()   # origin after 7: 7+3, 7+3+4
[[10.0, 14.0]]
"""
from __future__ import annotations

import dataclasses

import numpy as np

from rnnkit.errors import DataError
from rnnkit.forecasting import (drift_forecast, mae, mape, mase_scale, naive_forecast, rmse,
                                seasonal_naive_forecast, smape)

TRANSFORMS = ("none", "log", "diff", "log-diff")
BASELINES = ("naive", "seasonal_naive", "drift")


def transform(y: np.ndarray, kind: str) -> np.ndarray:
    """``z`` for the series ``y`` (NaN in the first step for the differencing transforms)."""
    if kind in ("log", "log-diff"):
        if np.any(y <= 0):
            raise DataError(f"--transform {kind} needs positive values; the target has {int(np.sum(y <= 0))} "
                            f"value(s) <= 0 (smallest {y.min():g}); use --transform none or diff")
        y = np.log(y)
    if kind in ("diff", "log-diff"):
        return np.concatenate([[np.nan], np.diff(y)])
    return y.astype(np.float64)


def inverse(z_hat: np.ndarray, last: np.ndarray, kind: str) -> np.ndarray:
    """Forecasts ``(N, H)`` of the series from forecasts ``z_hat (N, H)`` of ``z`` and the last observed values
    ``last (N,)`` before each origin."""
    z_hat = np.asarray(z_hat, dtype=np.float64)
    if kind == "none":
        return z_hat
    if kind == "log":
        return np.exp(z_hat)
    if kind == "diff":
        return last[:, None] + np.cumsum(z_hat, axis=1)  # (N, 1) + (N, H)
    return np.exp(np.log(last)[:, None] + np.cumsum(z_hat, axis=1))


@dataclasses.dataclass
class Periods:
    """Where the periods end (exclusive), in time steps; ``first`` is the first step the windows may use."""

    first: int
    train_end: int
    val_end: int
    end: int

    def train_origins(self, window: int, horizon: int, stride: int = 1) -> np.ndarray:
        return np.arange(self.first + window, self.train_end - horizon + 1)[::-1][::stride][::-1]

    def val_origins(self, horizon: int) -> np.ndarray:
        return np.arange(self.train_end, self.val_end - horizon + 1)

    def test_origins(self, horizon: int) -> np.ndarray:
        return np.arange(self.val_end, self.end - horizon + 1)


def windows(inputs: np.ndarray, z: np.ndarray, origins: np.ndarray, window: int, horizon: int):
    """``x (N, W, C)`` rows ``t-W .. t-1`` of ``inputs`` and ``y (N, H)`` values ``z[t .. t+H-1]`` per origin."""
    origins = np.asarray(origins, dtype=np.int64)
    if len(origins) == 0:
        return np.zeros((0, window, inputs.shape[1]), inputs.dtype), np.zeros((0, horizon))
    views = np.lib.stride_tricks.sliding_window_view(inputs, window, axis=0)  # (T-W+1, C, W), no copy
    x = views[origins - window].transpose(0, 2, 1)  # (N, W, C)
    return np.ascontiguousarray(x), z[origins[:, None] + np.arange(horizon)]  # (N, W, C), (N, H)


def baseline_forecasts(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> dict:
    """``{method: (N, H)}`` forecasts of the baselines from ``y[:t]`` at each origin ``t``."""
    out = {name: np.empty((len(origins), horizon)) for name in BASELINES}
    for i, t in enumerate(origins):
        history = y[:t]
        out["naive"][i] = naive_forecast(history, horizon)
        out["seasonal_naive"][i] = seasonal_naive_forecast(history, horizon, season)
        out["drift"][i] = drift_forecast(history, horizon)
    return out


def actuals(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    return y[origins[:, None] + np.arange(horizon)]  # (N, H)


def score(truth: np.ndarray, forecasts: dict, y_train: np.ndarray, season: int) -> dict:
    """Every metric of every method: ``{method: {mae, rmse, mape, smape, mase, mase_by_horizon}}``; MAPE is None
    (with ``mape_note``) where an actual value is 0."""
    scale = mase_scale(y_train, season)
    results = {}
    for name, forecast in forecasts.items():
        row = {"mae": mae(truth, forecast), "rmse": rmse(truth, forecast), "smape": smape(truth, forecast)}
        try:
            row["mape"] = mape(truth, forecast)
        except DataError as error:
            row["mape"], row["mape_note"] = None, str(error)
        row["mase"] = row["mae"] / scale
        row["mase_by_horizon"] = [float(np.mean(np.abs(truth[:, h] - forecast[:, h])) / scale)
                                  for h in range(truth.shape[1])]
        results[name] = row
    return results
