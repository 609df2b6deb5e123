"""CTC loss: equal to PyTorch's ``ctc_loss`` after ``log_softmax`` (float64, 1e-9, value and gradient), to finite
differences, and to Keras 3's ``keras.ops.ctc_loss`` / ``keras.losses.CTC``; usable in compile/fit."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients
from helpers.torch_ref import require_torch

from rnnkit import Tensor, losses
from rnnkit.errors import DataError, ShapeError
from rnnkit.ops import ctc_loss

TOL = 1e-9


def _torch_ctc(torch, x, targets, t_len, o_len, blank=0, zero_infinity=False):
    """PyTorch's reference: log_softmax over classes, (T, B, C) layout, per-sample losses."""
    logp = torch.log_softmax(x, dim=-1).transpose(0, 1)  # (B, T, C) -> (T, B, C)
    return torch.nn.functional.ctc_loss(logp, targets, o_len, t_len, blank=blank, reduction="none",
                                        zero_infinity=zero_infinity)


def _compare(x, targets, t_len, o_len, blank=0, zero_infinity=False, seed=0):
    """Loss and gradient (under random per-sample weights) of rnnkit and PyTorch, float64."""
    torch = require_torch()
    ours = Tensor(x, requires_grad=True, dtype="float64")
    loss = ctc_loss(targets, ours, t_len, o_len, mask_index=blank, zero_infinity=zero_infinity)
    w = np.random.default_rng(seed).standard_normal(len(x))
    loss.backward(w)
    theirs = torch.tensor(x, requires_grad=True)
    tloss = _torch_ctc(torch, theirs, torch.tensor(targets), torch.tensor(t_len), torch.tensor(o_len), blank,
                       zero_infinity)
    (tloss * torch.tensor(w)).sum().backward()
    return loss.numpy(), ours.grad, tloss.detach().numpy(), theirs.grad.numpy()


@pytest.mark.parametrize("seed", range(6))
def test_ctc_loss_equals_torch_on_random_batches(seed):
    rng = np.random.default_rng(seed)
    B, T, C, S = int(rng.integers(1, 6)), int(rng.integers(1, 12)), int(rng.integers(2, 7)), int(rng.integers(1, 6))
    blank = int(rng.integers(0, C))
    x = rng.standard_normal((B, T, C)) * 2
    labels = [c for c in range(C) if c != blank]
    targets = rng.choice(labels, size=(B, S))
    t_len = rng.integers(0, S + 1, size=B)
    o_len = rng.integers(1, T + 1, size=B)
    possible = _feasible(targets, t_len, o_len)
    loss, grad, tloss, tgrad = _compare(x, targets, t_len, o_len, blank, zero_infinity=True, seed=seed)
    np.testing.assert_allclose(loss, tloss, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(grad, tgrad, rtol=TOL, atol=TOL)
    # without zero_infinity the impossible samples have infinite loss, the rest the same values
    plain = ctc_loss(targets, Tensor(x, dtype="float64"), t_len, o_len, mask_index=blank).numpy()
    assert np.all(np.isinf(plain[~possible])) and np.allclose(plain[possible], tloss[possible], rtol=TOL, atol=TOL)


def _feasible(targets, t_len, o_len):
    """Whether each target fits in its output length: its length plus one blank between equal neighbours."""
    need = [int(L) + int(np.sum(row[1:L] == row[: L - 1])) if L else 0 for row, L in zip(targets, t_len)]
    return np.array(need) <= o_len


def test_ctc_loss_edge_cases_equal_torch():
    """Repeated labels (a blank must separate them), target length 0, a target as long as the input, and a
    shorter output length than the padded T (the steps after it get no gradient)."""
    rng = np.random.default_rng(7)
    T, C = 6, 5
    targets = np.array([[2, 2, 2, 1, 0, 0],   # repeats: needs 5 steps
                        [3, 3, 3, 3, 3, 3],   # padding ignored: length 0
                        [1, 2, 3, 4, 1, 2],   # as long as the input: one alignment
                        [4, 4, 1, 1, 0, 0],   # repeats, needs 6 steps: exactly fits
                        [1, 3, 0, 0, 0, 0]])  # output length 2 of 6
    t_len = np.array([4, 0, 6, 4, 2])
    o_len = np.array([6, 6, 6, 6, 2])
    x = rng.standard_normal((5, T, C))
    loss, grad, tloss, tgrad = _compare(x, targets, t_len, o_len)
    assert np.all(np.isfinite(loss))
    np.testing.assert_allclose(loss, tloss, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(grad, tgrad, rtol=TOL, atol=TOL)
    assert np.all(grad[4, 2:] == 0)
    logp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    np.testing.assert_allclose(loss[1], -logp[1, :, 0].sum(), rtol=1e-12)  # empty target: all blanks
    np.testing.assert_allclose(loss[2], -logp[2, np.arange(T), targets[2]].sum(), rtol=1e-12)  # one path


def test_impossible_alignments_give_infinite_loss_and_never_nan_gradients():
    torch = require_torch()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 4))
    targets = np.array([[1, 1, 1], [1, 2, 3], [1, 2, 3]])
    t_len = np.array([3, 3, 3])  # "1 1 1" needs 5 steps; "1 2 3" needs 3
    o_len = np.array([4, 2, 4])
    ours = Tensor(x, requires_grad=True, dtype="float64")
    loss = ctc_loss(targets, ours, t_len, o_len)
    assert np.isinf(loss.numpy()[0]) and np.isinf(loss.numpy()[1]) and np.isfinite(loss.numpy()[2])
    loss.backward(np.ones(3))
    assert np.all(np.isfinite(ours.grad)) and np.all(ours.grad[:2] == 0)
    # PyTorch without zero_infinity gives NaN gradients here; with it, zeros: ours equal that
    theirs = torch.tensor(x, requires_grad=True)
    tl = _torch_ctc(torch, theirs, torch.tensor(targets), torch.tensor(t_len), torch.tensor(o_len),
                    zero_infinity=True)
    tl.sum().backward()
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=TOL, atol=TOL)
    zeroed = ctc_loss(targets, Tensor(x, dtype="float64"), t_len, o_len, zero_infinity=True).numpy()
    assert zeroed[0] == 0 and zeroed[1] == 0 and zeroed[2] == loss.numpy()[2]
    # a mean over the batch with an infinite member is infinite, but the backward stays finite
    ours.grad = None
    loss = ctc_loss(targets, ours, t_len, o_len)
    loss.mean().backward()
    assert np.all(np.isfinite(ours.grad))


@pytest.mark.parametrize("seed", range(3))
def test_ctc_loss_gradient_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    B, T, C = 2, 5, 4
    x = rng.standard_normal((B, T, C))
    targets = np.array([[1, 1, 0], [3, 2, 1]])
    t_len = np.array([2, 3])
    o_len = np.array([5, 4])
    check_gradients(lambda logits: ctc_loss(targets, logits, t_len, o_len), [x], seed=seed, rtol=1e-6)


def test_ctc_loss_float32_keeps_dtype_and_matches_float64():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 7, 5)).astype(np.float32)
    targets = rng.integers(1, 5, size=(3, 3))
    args = (np.array([3, 2, 1]), np.array([7, 7, 5]))
    x32 = Tensor(x, requires_grad=True)
    loss32 = ctc_loss(targets, x32, *args)
    loss32.sum().backward()
    x64 = Tensor(x, requires_grad=True, dtype="float64")
    loss64 = ctc_loss(targets, x64, *args)
    loss64.sum().backward()
    assert loss32.dtype == np.float32 and x32.grad.dtype == np.float32
    np.testing.assert_allclose(loss32.numpy(), loss64.numpy(), rtol=1e-6)
    np.testing.assert_allclose(x32.grad, x64.grad, atol=1e-6)


def test_ctc_loss_equals_keras_ops_ctc_loss():
    import keras

    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 9, 6)).astype(np.float32)
    targets = rng.integers(1, 6, size=(4, 4)).astype(np.int32)
    t_len = np.array([4, 1, 0, 3], np.int32)
    o_len = np.array([9, 5, 3, 8], np.int32)
    expected = keras.ops.convert_to_numpy(keras.ops.ctc_loss(targets, x, t_len, o_len, mask_index=0))
    got = ctc_loss(targets, Tensor(x), t_len, o_len, mask_index=0).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # blank at another index
    expected = keras.ops.convert_to_numpy(keras.ops.ctc_loss(targets - 1, x, t_len, o_len, mask_index=5))
    got = ctc_loss(targets - 1, Tensor(x), t_len, o_len, mask_index=5).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_ctc_loss_object_equals_keras_losses_ctc():
    import keras

    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 8, 5)).astype(np.float32)
    y = np.array([[1, 2, 2, 0], [4, 0, 0, 0], [3, 1, 4, 2]])  # padded with 0, the blank
    for reduction in ("sum_over_batch_size", "sum", "none"):
        expected = keras.ops.convert_to_numpy(keras.losses.CTC(reduction=reduction)(y, x))
        got = losses.CTC(reduction=reduction)(y, Tensor(x)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert losses.get("ctc").name == "ctc" and isinstance(losses.get("CTC"), losses.CTC)
    assert losses.get(losses.serialize(losses.CTC())).get_config() == {"name": "ctc", "reduction":
                                                                        "sum_over_batch_size"}


def test_ctc_loss_trains_a_model_with_compile_and_fit(tmp_path):
    """fit hands y_true (B, S) labels padded with 0 and y_pred (B, T, C) logits to the loss; the loss falls and
    the model, compiled with loss="ctc", saves and loads."""
    from rnnkit.layers import Dense
    from rnnkit.models import Sequential, load_model
    from rnnkit.optimizers import Adam
    from rnnkit.random import set_random_seed

    set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6, 3)).astype(np.float32)
    y = np.zeros((16, 3), np.int64)
    y[:, 0] = 1 + (x[:, 0, 0] > 0)  # the label is readable from the first step
    y[:8, 1] = 3
    model = Sequential([Dense(8, activation="tanh", input_shape=(6, 3)), Dense(4)])
    model.compile(optimizer=Adam(learning_rate=0.03), loss="ctc")
    history = model.fit(x, y, epochs=30, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    path = str(tmp_path / "m.rnnkit")
    model.save(path)
    again = load_model(path)
    np.testing.assert_allclose(again.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)


def test_ctc_loss_bad_inputs_raise_clear_errors():
    x = Tensor(np.zeros((2, 4, 3)))
    ok = (np.array([[1, 2], [2, 0]]), x, np.array([2, 1]), np.array([4, 4]))
    assert ctc_loss(*ok).shape == (2,)
    with pytest.raises(DataError, match="blank class 0"):
        ctc_loss(np.array([[1, 0], [2, 0]]), x, np.array([2, 1]), np.array([4, 4]))
    with pytest.raises(DataError, match="outside the 3 classes"):
        ctc_loss(np.array([[1, 5], [2, 0]]), x, np.array([2, 1]), np.array([4, 4]))
    with pytest.raises(DataError, match="output_length 5 is outside"):
        ctc_loss(ok[0], x, ok[2], np.array([5, 4]))
    with pytest.raises(DataError, match="target_length 3 is outside"):
        ctc_loss(ok[0], x, np.array([3, 1]), ok[3])
    with pytest.raises(ShapeError, match=r"output must be logits of shape"):
        ctc_loss(ok[0], Tensor(np.zeros((2, 4))), ok[2], ok[3])
    with pytest.raises(ShapeError, match=r"target_length must have shape \(2,\)"):
        ctc_loss(ok[0], x, np.array([2]), ok[3])
    with pytest.raises(ShapeError, match="y_true.shape"):
        losses.CTC()(np.array([1, 2]), x)
