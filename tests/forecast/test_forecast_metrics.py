"""Error measures and baselines against values computed here with explicit loops (textbook definitions)."""
import math

import numpy as np
import pytest

from rnnkit.errors import DataError, ShapeError
from rnnkit.forecasting import (drift_forecast, mae, mape, mase, mase_scale, mean_forecast, naive_forecast, rmse,
                                seasonal_naive_forecast, smape)

Y = [3.0, -1.0, 4.0, 1.5, 5.0, 9.0]
F = [2.5, 0.0, 4.0, 3.0, 2.0, 10.0]


def loop_mae(y, f):
    total = 0.0
    for a, b in zip(y, f):
        total += abs(a - b)
    return total / len(y)


def test_mae_rmse_by_hand():
    assert mae(Y, F) == pytest.approx((0.5 + 1 + 0 + 1.5 + 3 + 1) / 6, rel=1e-15)
    squares = 0.0
    for a, b in zip(Y, F):
        squares += (a - b) ** 2
    assert rmse(Y, F) == pytest.approx(math.sqrt(squares / 6), rel=1e-15)
    assert rmse(Y, F) == pytest.approx(math.sqrt((0.25 + 1 + 0 + 2.25 + 9 + 1) / 6), rel=1e-15)


def test_mape_smape_by_hand():
    terms = [abs(a - b) / abs(a) for a, b in zip(Y, F)]
    assert mape(Y, F) == pytest.approx(100 * sum(terms) / 6, rel=1e-14)
    assert mape([4.0], [5.0]) == pytest.approx(25.0)
    s_terms = [2 * abs(a - b) / (abs(a) + abs(b)) for a, b in zip(Y, F)]
    assert smape(Y, F) == pytest.approx(100 * sum(s_terms) / 6, rel=1e-14)
    assert smape([1.0], [3.0]) == pytest.approx(100.0)  # 2*2/4


def test_zeros_in_mape_and_smape():
    with pytest.raises(DataError, match=r"mape is undefined: 2 of the 3 actual values are 0"):
        mape([0.0, 1.0, 0.0], [1.0, 1.0, 1.0])
    assert smape([0.0, 2.0], [0.0, 2.0]) == 0.0  # 0/0 counts as 0, documented
    assert smape([0.0, 2.0], [1.0, 2.0]) == pytest.approx(100.0)  # (200 + 0) / 2


def test_mase_by_hand_with_a_season():
    train = [10.0, 20.0, 30.0, 14.0, 26.0, 33.0, 12.0, 24.0]
    m = 3
    diffs = []
    for t in range(m, len(train)):
        diffs.append(abs(train[t] - train[t - m]))
    scale = sum(diffs) / len(diffs)  # (4 + 6 + 3 + 2 + 2) / 5
    assert scale == pytest.approx(17 / 5)
    assert mase_scale(train, m) == pytest.approx(scale, rel=1e-15)
    assert mase(Y, F, train, season=m) == pytest.approx(loop_mae(Y, F) / scale, rel=1e-14)
    naive_scale = sum(abs(train[t] - train[t - 1]) for t in range(1, len(train))) / (len(train) - 1)
    assert mase(Y, F, train) == pytest.approx(loop_mae(Y, F) / naive_scale, rel=1e-14)


def test_mase_of_the_in_sample_naive_forecast_is_one():
    train = np.array([1.0, 4.0, 2.0, 8.0, 5.0, 7.0])
    fitted = train[:-1]  # one-step naive forecasts of train[1:]
    assert mase(train[1:], fitted, train) == pytest.approx(1.0, rel=1e-15)


def test_metric_errors():
    with pytest.raises(ShapeError, match=r"shape \(2,\) but y_pred has shape \(3,\)"):
        mae([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="NaN"):
        rmse([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(DataError, match="does not change"):
        mase([1.0], [2.0], [5.0, 5.0, 5.0])
    with pytest.raises(ShapeError, match="more than season=4"):
        mase([1.0], [2.0], [1.0, 2.0, 3.0, 4.0], season=4)
    with pytest.raises(ShapeError, match="empty"):
        mae([], [])


def test_baselines_by_hand():
    history = [5.0, 1.0, 7.0, 2.0, 8.0, 3.0, 9.0]
    assert naive_forecast(history, 3).tolist() == [9.0, 9.0, 9.0]
    m, horizon = 3, 7
    expected = []
    for h in range(1, horizon + 1):  # y_{T+h-m(k+1)}, k = floor((h-1)/m), 1-based T = 7
        k = (h - 1) // m
        index = len(history) + h - m * (k + 1)  # 1-based
        expected.append(history[index - 1])
    assert expected == [8.0, 3.0, 9.0, 8.0, 3.0, 9.0, 8.0]  # the last season (8, 3, 9) repeated
    assert seasonal_naive_forecast(history, horizon, m).tolist() == expected
    slope = (9.0 - 5.0) / 6
    assert drift_forecast(history, 2).tolist() == pytest.approx([9.0 + slope, 9.0 + 2 * slope])
    assert mean_forecast(history, 2).tolist() == pytest.approx([35.0 / 7] * 2)
    assert seasonal_naive_forecast(history, 2, season=1).tolist() == naive_forecast(history, 2).tolist()


def test_baseline_errors():
    with pytest.raises(ShapeError, match="at least 12 past values"):
        seasonal_naive_forecast(np.arange(5.0), 3, 12)
    with pytest.raises(ShapeError, match="horizon must be a positive integer"):
        naive_forecast([1.0], 0)
    with pytest.raises(DataError, match="NaN"):
        naive_forecast([1.0, float("nan")], 2)
    with pytest.raises(ShapeError, match="1-D"):
        drift_forecast(np.ones((3, 2)), 2)
