"""The compiled kernels' scalar maths: the float32 rational tanh and every activation and derivative, against
float64 NumPy references (so that a wrong coefficient or a swapped branch fails here, not only downstream)."""
import numpy as np
import pytest

from rnnkit.ops.recurrent import kernel_math as km


def _reference(name, x):
    if name == "tanh":
        return np.tanh(x), 1 - np.tanh(x) ** 2
    if name == "sigmoid":
        y = 1 / (1 + np.exp(-x))
        return y, y * (1 - y)
    if name == "relu":
        return np.maximum(x, 0), (x > 0).astype(float)
    if name == "hard_sigmoid":
        y = np.clip(x / 6 + 0.5, 0, 1)
        return y, np.where((y > 0) & (y < 1), 1 / 6, 0.0)
    return x, np.ones_like(x)


def test_float32_tanh_is_within_four_tenths_of_a_millionth_everywhere():
    x = np.linspace(-30, 30, 1_200_001).astype(np.float32)  # includes the clamp at ±9 and the region near 0
    y = km.apply_activation(x.copy(), km.TANH)
    err = np.abs(y.astype(np.float64) - np.tanh(x.astype(np.float64)))
    assert err.max() < 4.5e-7, f"max error {err.max():.3g} at x = {x[err.argmax()]}"
    tiny = np.array([1e-30, -1e-20, 1e-8], np.float32)  # relative accuracy near 0
    assert np.allclose(km.apply_activation(tiny.copy(), km.TANH), tiny, rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_keeps_nan_and_saturates_infinities(dtype):
    y = km.apply_activation(np.array([np.nan, np.inf, -np.inf, 0.0], dtype), km.TANH)
    assert np.isnan(y[0]) and abs(y[1] - 1) < 1e-6 and abs(y[2] + 1) < 1e-6 and y[3] == 0


@pytest.mark.parametrize("name", sorted(km.CODES))
def test_activation_and_derivative_rows_match_numpy(name):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(997) * 4, [0.5, -2.5, 2.5, 50.0, -50.0]])  # float64: exact tanh; no kinks
    want_y, want_d = _reference(name, x)
    y = np.empty_like(x)
    km.activate_row(km.CODES[name], x, y)
    d = np.empty_like(x)
    km.derivative_row(km.CODES[name], y, d)
    np.testing.assert_allclose(y, want_y, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d, want_d, rtol=1e-9, atol=1e-15)
    inplace = km.apply_activation(x.copy(), km.CODES[name])
    np.testing.assert_array_equal(inplace, y)


@pytest.mark.parametrize("name", ["relu", "hard_sigmoid", "sigmoid"])
def test_nan_stays_nan_through_every_activation(name):
    """A NaN must survive every activation, so that a diverging run still shows a NaN loss."""
    y = km.apply_activation(np.array([np.nan], np.float32), km.CODES[name])
    assert np.isnan(y[0])
