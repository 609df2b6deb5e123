"""Forecast error measures on arrays of any shape (every element of ``y_true`` against the same of ``y_pred``).

=========  =====================================================================================================
``mae``    mean ``|y - f|``
``rmse``   ``sqrt(mean((y - f)^2))``
``mape``   ``100 * mean(|y - f| / |y|)`` (percent). An actual value of 0 makes it undefined: ``DataError``
           naming how many there are (use sMAPE or MASE for such series)
``smape``  ``100 * mean(2 |y - f| / (|y| + |f|))`` (percent, 0..200); a term where both are 0 counts as 0
``mase``   ``mae / scale`` with ``scale = mean_{t >= m} |x_t - x_{t-m}|`` over the in-sample (training) series
           ``x`` and season ``m`` (1: the naive forecast's error): Hyndman & Koehler (2006). Below 1: better than
           the in-sample seasonal-naive forecast. A zero scale (a constant training series) is a ``DataError``
=========  =====================================================================================================

NaN or infinite values are refused (``DataError``): a forecast is never scored on missing values.

>>> import numpy as np
>>> y, f = np.array([2.0, 4.0]), np.array([1.0, 6.0])
>>> float(mae(y, f)), float(rmse(y, f)), float(mape(y, f)), round(float(smape(y, f)), 4)
(1.5, 1.5811388300841898, 50.0, 53.3333)
>>> float(mase(y, f, y_train=[1.0, 2.0, 4.0, 5.0]))   # in-sample naive error (1 + 2 + 1) / 3
1.125
"""
from __future__ import annotations

import numpy as np

from rnnkit.errors import DataError, ShapeError


def _pair(y_true, y_pred, name: str):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ShapeError(f"{name}: y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}; "
                         "expected equal shapes")
    if y_true.size == 0:
        raise ShapeError(f"{name}: no values to score (empty arrays)")
    for label, array in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.all(np.isfinite(array)):
            raise DataError(f"{name}: {label} holds {int(np.sum(~np.isfinite(array)))} NaN or infinite values")
    return y_true, y_pred


def mae(y_true, y_pred) -> float:
    """Mean absolute error."""
    y_true, y_pred = _pair(y_true, y_pred, "mae")
    return float(np.mean(np.abs(y_true - y_pred)))


def rmse(y_true, y_pred) -> float:
    """Root mean squared error."""
    y_true, y_pred = _pair(y_true, y_pred, "rmse")
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error (percent); ``DataError`` when an actual value is 0."""
    y_true, y_pred = _pair(y_true, y_pred, "mape")
    zeros = int(np.sum(y_true == 0))
    if zeros:
        raise DataError(f"mape is undefined: {zeros} of the {y_true.size} actual values are 0 (division by zero); "
                        "use smape or mase for this series")
    return float(100.0 * np.mean(np.abs(y_true - y_pred) / np.abs(y_true)))


def smape(y_true, y_pred) -> float:
    """Symmetric MAPE (percent, 0 to 200); a term whose actual and forecast are both 0 counts as 0."""
    y_true, y_pred = _pair(y_true, y_pred, "smape")
    denominator = np.abs(y_true) + np.abs(y_pred)
    terms = np.divide(2.0 * np.abs(y_true - y_pred), denominator, out=np.zeros_like(denominator),
                      where=denominator != 0)
    return float(100.0 * np.mean(terms))


def mase_scale(y_train, season: int = 1) -> float:
    """The in-sample seasonal-naive MAE of ``y_train``: ``mean(|x_t - x_{t-season}|)`` for ``t >= season``."""
    y_train = np.asarray(y_train, dtype=np.float64)
    if y_train.ndim != 1:
        raise ShapeError(f"mase: y_train must be one series (1-D); got shape {y_train.shape}")
    if isinstance(season, bool) or int(season) != season or season < 1:
        raise ShapeError(f"mase: season must be a positive integer; got {season!r}")
    season = int(season)
    if len(y_train) <= season:
        raise ShapeError(f"mase: y_train has {len(y_train)} values; the in-sample seasonal-naive error needs more "
                         f"than season={season}")
    if not np.all(np.isfinite(y_train)):
        raise DataError(f"mase: y_train holds {int(np.sum(~np.isfinite(y_train)))} NaN or infinite values")
    scale = float(np.mean(np.abs(y_train[season:] - y_train[:-season])))
    if scale == 0:
        raise DataError(f"mase is undefined: the training series does not change over season={season} "
                        "(its in-sample seasonal-naive error is 0)")
    return scale


def mase(y_true, y_pred, y_train, season: int = 1) -> float:
    """Mean absolute scaled error: ``mae(y_true, y_pred) / mase_scale(y_train, season)``."""
    return mae(y_true, y_pred) / mase_scale(y_train, season)
