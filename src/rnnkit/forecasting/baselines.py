"""Baseline forecasts from a history ``y_1 .. y_T`` (1-D) for the next ``horizon`` steps ``T+1 .. T+H``.

=============================  =====================================================================
``naive_forecast``             ``y_T`` for every step
``seasonal_naive_forecast``    ``y_{T+h-m(k+1)}`` with ``k = floor((h-1)/m)``: the last observed season, repeated
``drift_forecast``             ``y_T + h (y_T - y_1) / (T - 1)``: the line through the first and last values
``mean_forecast``              the mean of the history for every step
=============================  =====================================================================

(Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, section 5.2.)

>>> import numpy as np
>>> history = np.array([1.0, 2.0, 4.0])
>>> naive_forecast(history, 2), drift_forecast(history, 2), mean_forecast(history, 1)
(array([4., 4.]), array([5.5, 7. ]), array([2.33333333]))
"""
from __future__ import annotations

import numpy as np

from rnnkit.errors import DataError, ShapeError


def _history(history, horizon, need: int, name: str) -> np.ndarray:
    history = np.asarray(history, dtype=np.float64)
    if history.ndim != 1:
        raise ShapeError(f"{name}: history must be one series (1-D); got shape {history.shape}")
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ShapeError(f"{name}: horizon must be a positive integer; got {horizon!r}")
    if len(history) < need:
        raise ShapeError(f"{name}: needs at least {need} past values; got {len(history)}")
    if not np.all(np.isfinite(history[-need:] if name != "drift_forecast" else history[[0, -1]])):
        raise DataError(f"{name}: the history it uses holds NaN or infinite values")
    return history


def naive_forecast(history, horizon: int) -> np.ndarray:
    """The last value, ``horizon`` times."""
    history = _history(history, horizon, 1, "naive_forecast")
    return np.full(int(horizon), history[-1])


def seasonal_naive_forecast(history, horizon: int, season: int) -> np.ndarray:
    """The value one season before (the last observed season repeated for horizons beyond one season)."""
    if isinstance(season, bool) or int(season) != season or season < 1:
        raise ShapeError(f"seasonal_naive_forecast: season must be a positive integer; got {season!r}")
    history = _history(history, horizon, int(season), "seasonal_naive_forecast")
    season = int(season)
    last_season = history[-season:]  # (m,) the most recent full season
    steps = np.arange(int(horizon))  # h - 1
    return last_season[steps % season]


def drift_forecast(history, horizon: int) -> np.ndarray:
    """The last value plus ``h`` times the average change over the history."""
    history = _history(history, horizon, 2, "drift_forecast")
    slope = (history[-1] - history[0]) / (len(history) - 1)
    return history[-1] + slope * np.arange(1, int(horizon) + 1)


def mean_forecast(history, horizon: int) -> np.ndarray:
    """The mean of the whole history, ``horizon`` times."""
    history = _history(history, horizon, 1, "mean_forecast")
    if not np.all(np.isfinite(history)):
        raise DataError("mean_forecast: the history holds NaN or infinite values")
    return np.full(int(horizon), history.mean())
