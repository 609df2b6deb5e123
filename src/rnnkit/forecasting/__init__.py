"""Forecasting tools that keep a forecaster honest: error measures and the baselines every model is shown beside.

- ``rnnkit.forecasting.metrics``: ``mae``, ``rmse``, ``mape``, ``smape``, ``mase`` (scaled by the in-sample
  seasonal-naive error, Hyndman & Koehler 2006);
- ``rnnkit.forecasting.baselines``: ``naive_forecast``, ``seasonal_naive_forecast``, ``drift_forecast``,
  ``mean_forecast`` (all from the history before the forecast origin only).

>>> import numpy as np
>>> from rnnkit.forecasting import mase, seasonal_naive_forecast
>>> history = np.array([1.0, 5.0, 2.0, 6.0, 3.0, 7.0])
>>> seasonal_naive_forecast(history, horizon=3, season=2)
array([3., 7., 3.])
>>> float(mase([4.0, 8.0], [3.0, 7.0], history, season=2))
1.0
"""
from rnnkit.forecasting.baselines import drift_forecast, mean_forecast, naive_forecast, seasonal_naive_forecast
from rnnkit.forecasting.metrics import mae, mape, mase, mase_scale, rmse, smape

__all__ = ["mae", "rmse", "mape", "smape", "mase", "mase_scale", "naive_forecast", "seasonal_naive_forecast",
           "drift_forecast", "mean_forecast"]
