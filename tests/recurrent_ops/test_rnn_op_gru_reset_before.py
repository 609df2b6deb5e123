"""GRU with reset_after=False (no PyTorch twin) against a plain NumPy transcription of its equations."""
import numpy as np
import pytest
from recurrent_op_cases import lengths_mask, make_case

from rnnkit import Tensor
from rnnkit.ops.recurrent import gru


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def reference_gru_reset_before(x, W, U, b, h0, mask=None):
    """Keras' original GRU, step by step: z, r from x W + h U + b; hh = tanh(x W_h + (r h) U_h + b_h)."""
    B, T, _ = x.shape
    H = h0.shape[1]
    h, outputs = h0.copy(), np.zeros((B, T, H))
    for t in range(T):
        xw = x[:, t] @ W + b
        z = sigmoid(xw[:, :H] + h @ U[:, :H])
        r = sigmoid(xw[:, H : 2 * H] + h @ U[:, H : 2 * H])
        hh = np.tanh(xw[:, 2 * H :] + (r * h) @ U[:, 2 * H :])
        new = z * h + (1 - z) * hh
        keep = np.ones((B, 1), bool) if mask is None else mask[:, t : t + 1]
        h = np.where(keep, new, h)
        outputs[:, t] = np.where(keep, new, 0.0)
    return outputs, h


@pytest.mark.parametrize("masked", [False, True])
def test_forward_matches_the_equations(masked):
    case = make_case("gru", B=4, T=6, D=3, H=5, seed=40, reset_after=False)
    mask = lengths_mask([6, 2, 4, 0], 6) if masked else None
    args = (case["x"], case["kernel"], case["recurrent_kernel"], case["bias"], case["h0"])
    outputs, h_last = gru(*[Tensor(a, dtype="float64") for a in args], mask=mask, reset_after=False)
    ref_outputs, ref_h = reference_gru_reset_before(*args, mask=mask)
    np.testing.assert_allclose(outputs.data, ref_outputs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_last.data, ref_h, rtol=1e-12, atol=1e-14)


def test_reset_before_differs_from_reset_after():
    """The two formulations are different functions (same weights, bias rows summed into one)."""
    case = make_case("gru", B=2, T=3, seed=41, reset_after=True)
    args = (case["x"], case["kernel"], case["recurrent_kernel"])
    after, _ = gru(*args, case["bias"], case["h0"], reset_after=True)
    before, _ = gru(*args, case["bias"].sum(axis=0), case["h0"], reset_after=False)
    assert after.dtype == before.dtype == np.float32  # NumPy float64 arrays become float32 Tensors
    assert np.abs(after.data - before.data).max() > 1e-3
