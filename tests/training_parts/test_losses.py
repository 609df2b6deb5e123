"""Loss objects and functions: values and gradients against PyTorch and hand-computed values."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients
from helpers.torch_ref import require_torch

from rnnkit import Tensor, losses
from rnnkit.errors import ConfigError, DataError, ShapeError
from rnnkit.ops.activations import sigmoid, softmax

EPS = 1e-7
rng = np.random.default_rng(0)


def leaf(array):
    return Tensor(np.array(array, dtype=np.float64), requires_grad=True, dtype="float64")


def torch_leaf(torch, array):
    return torch.tensor(np.array(array, dtype=np.float64), requires_grad=True)


def one_hot(ids, classes):
    return np.eye(classes)[ids]


def probabilities(shape):
    p = rng.uniform(0.05, 1.0, size=shape)
    return p / p.sum(axis=-1, keepdims=True)


SHAPES = [(4, 3), (2, 5, 4)]  # (B, C) and sequences (B, T, C)


# ------------------------------------------------------------------------------------- categorical
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_categorical_from_softmax_uses_logits_and_matches_torch(shape, label_smoothing):
    torch = require_torch()
    logits = rng.standard_normal(shape) * 3
    ids = rng.integers(0, shape[-1], size=shape[:-1])
    x = leaf(logits)
    loss = losses.CategoricalCrossentropy(label_smoothing=label_smoothing)(one_hot(ids, shape[-1]), softmax(x))
    loss.backward()
    tx = torch_leaf(torch, logits)
    flat = tx.reshape(-1, shape[-1])  # (B*T, C)
    expected = torch.nn.functional.cross_entropy(flat, torch.tensor(ids.reshape(-1)), label_smoothing=label_smoothing)
    expected.backward()
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("shape", SHAPES)
def test_categorical_from_logits_with_soft_targets_matches_torch(shape):
    torch = require_torch()
    logits, targets = rng.standard_normal(shape), probabilities(shape)
    x = leaf(logits)
    loss = losses.CategoricalCrossentropy(from_logits=True)(targets, x)
    loss.backward()
    tx = torch_leaf(torch, logits)
    expected = -(torch.tensor(targets) * torch.log_softmax(tx, dim=-1)).sum(-1).mean()
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def keras_probability_cce_torch(torch, probs_t, targets):
    """Keras' formula on probabilities, written in torch: normalise, clip, -sum t log p."""
    normalised = probs_t / probs_t.sum(-1, keepdim=True)
    return -(torch.tensor(targets) * torch.log(torch.clamp(normalised, EPS, 1 - EPS))).sum(-1).mean()


@pytest.mark.parametrize("shape", SHAPES)
def test_categorical_on_plain_probabilities_matches_keras_formula(shape):
    torch = require_torch()
    probs = probabilities(shape) * 1.7  # unnormalised on purpose: Keras divides by the sum
    probs[..., 0] = 1e-9  # clipped entries pass no gradient
    targets = probabilities(shape)
    p = leaf(probs)
    loss = losses.CategoricalCrossentropy()(targets, p)
    loss.backward()
    tp = torch_leaf(torch, probs)
    expected = keras_probability_cce_torch(torch, tp, targets)
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_categorical_hand_computed_values():
    y_pred = Tensor([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    y_true = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    per_sample = losses.categorical_crossentropy(y_true, y_pred)
    np.testing.assert_allclose(per_sample.numpy(), [np.log(4.0), -np.log(0.8)], rtol=1e-6)
    assert per_sample.dtype == np.float32
    total = losses.CategoricalCrossentropy()(y_true, y_pred)
    np.testing.assert_allclose(total.item(), (np.log(4.0) - np.log(0.8)) / 2, rtol=1e-6)


def test_saturated_softmax_uses_the_exact_logit_path():
    """softmax([400, -400]) is [1, 0] in floating point; the fused path still gives the exact loss 800."""
    x = leaf([[400.0, -400.0]])
    exact = losses.categorical_crossentropy(np.array([[0.0, 1.0]]), softmax(x))
    np.testing.assert_allclose(exact.numpy(), [800.0])
    clipped = losses.categorical_crossentropy(np.array([[0.0, 1.0]]), Tensor(softmax(x).numpy(), dtype="float64"))
    np.testing.assert_allclose(clipped.numpy(), [-np.log(EPS)], rtol=1e-6)


def test_probability_path_gradcheck():
    targets = probabilities((3, 4))
    check_gradients(lambda p: losses.categorical_crossentropy(targets, p), [probabilities((3, 4)) + 0.1])
    check_gradients(lambda p: losses.binary_crossentropy(targets, p), [rng.uniform(0.1, 0.9, (3, 4))])


# ------------------------------------------------------------------------------------- sparse
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("path", ["softmax", "logits", "probabilities"])
def test_sparse_matches_torch(shape, path):
    torch = require_torch()
    logits = rng.standard_normal(shape) * 2
    ids = rng.integers(0, shape[-1], size=shape[:-1])
    x = leaf(logits)
    tx = torch_leaf(torch, logits)
    flat_ids = torch.tensor(ids.reshape(-1))
    if path == "softmax":
        loss = losses.SparseCategoricalCrossentropy()(ids, softmax(x))
        expected = torch.nn.functional.cross_entropy(tx.reshape(-1, shape[-1]), flat_ids)
    elif path == "logits":
        loss = losses.SparseCategoricalCrossentropy(from_logits=True)(ids, x)
        expected = torch.nn.functional.cross_entropy(tx.reshape(-1, shape[-1]), flat_ids)
    else:
        probs = probabilities(shape)
        x, tx = leaf(probs), torch_leaf(torch, probs)
        loss = losses.SparseCategoricalCrossentropy()(ids, x)
        expected = keras_probability_cce_torch(torch, tx, one_hot(ids, shape[-1]))
    loss.backward()
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_sparse_accepts_a_trailing_axis_float_ids_and_tensor_labels():
    probs = Tensor([[0.25, 0.75], [0.5, 0.5]])
    expected = [-np.log(0.75), -np.log(0.5)]
    for labels in (np.array([[1], [0]]), np.array([1.0, 0.0]), Tensor(np.array([1, 0]))):
        np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, probs).numpy(), expected, rtol=1e-6)


def test_sparse_label_errors():
    probs = Tensor([[0.25, 0.75]])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        losses.sparse_categorical_crossentropy(np.array([2]), probs)
    with pytest.raises(DataError, match="whole numbers"):
        losses.sparse_categorical_crossentropy(np.array([0.5]), probs)
    with pytest.raises(ShapeError, match=r"\(1,\)"):
        losses.sparse_categorical_crossentropy(np.array([0, 1, 1]), probs)


# ------------------------------------------------------------------------------------- binary
@pytest.mark.parametrize("shape", [(6, 1), (3, 4), (2, 3, 2)])
@pytest.mark.parametrize("path", ["sigmoid", "logits", "probabilities"])
def test_binary_matches_torch(shape, path):
    torch = require_torch()
    targets = rng.integers(0, 2, size=shape).astype(float)
    logits = rng.standard_normal(shape) * 3
    if path == "probabilities":
        values = rng.uniform(0.0, 1.0, size=shape)
        values.flat[0] = 0.0  # clipped: no gradient
        x, tx = leaf(values), torch_leaf(torch, values)
        loss = losses.BinaryCrossentropy()(targets, x)
        pc = torch.clamp(tx, EPS, 1 - EPS)
        t = torch.tensor(targets)
        expected = -(t * torch.log(pc) + (1 - t) * torch.log(1 - pc)).mean()
    else:
        x, tx = leaf(logits), torch_leaf(torch, logits)
        loss = (losses.BinaryCrossentropy()(targets, sigmoid(x)) if path == "sigmoid"
                else losses.BinaryCrossentropy(from_logits=True)(targets, x))
        expected = torch.nn.functional.binary_cross_entropy_with_logits(tx, torch.tensor(targets))
    loss.backward()
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_binary_hand_values_label_smoothing_and_rank_matching():
    y_pred = Tensor([[0.75], [0.5]])
    np.testing.assert_allclose(losses.binary_crossentropy(np.array([1.0, 0.0]), y_pred).numpy(),
                               [-np.log(0.75), -np.log(0.5)], rtol=1e-6)
    smoothed = losses.BinaryCrossentropy(label_smoothing=0.2)(np.array([[1.0]]), Tensor([[0.75]]))
    t = 0.9  # 1 * 0.8 + 0.1
    np.testing.assert_allclose(smoothed.item(), -(t * np.log(0.75) + (1 - t) * np.log(0.25)), rtol=1e-6)


# ------------------------------------------------------------------------------------- regression
@pytest.mark.parametrize("shape", [(5, 1), (4, 3), (2, 3, 2)])
def test_mse_and_mae_match_torch(shape):
    torch = require_torch()
    pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
    for ours, theirs in ((losses.MeanSquaredError(), torch.nn.functional.mse_loss),
                         (losses.MeanAbsoluteError(), torch.nn.functional.l1_loss)):
        x, tx = leaf(pred), torch_leaf(torch, pred)
        loss = ours(target, x)
        expected = theirs(tx, torch.tensor(target))
        loss.backward()
        expected.backward()
        np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_regression_hand_values_and_rank_matching():
    y_pred = Tensor([[1.0], [3.0]])
    assert losses.MeanSquaredError()(np.array([0.0, 1.0]), y_pred).item() == pytest.approx((1 + 4) / 2)
    assert losses.MeanAbsoluteError()(np.array([[0.0], [1.0]]), y_pred).item() == pytest.approx((1 + 2) / 2)
    with pytest.raises(ShapeError, match="y_pred's shape"):
        losses.mean_squared_error(np.zeros((2, 3)), y_pred)


# ------------------------------------------------------------------------------------- reduction
def test_sample_weight_is_sum_over_batch_size():
    y_pred = Tensor([[1.0], [3.0], [2.0]])
    y_true = np.zeros((3, 1))
    weights = np.array([1.0, 0.5, 0.0])
    value = losses.MeanSquaredError()(y_true, y_pred, sample_weight=weights)
    assert value.item() == pytest.approx((1 * 1 + 9 * 0.5 + 4 * 0) / 3)


def test_sample_weight_per_sequence_and_per_step():
    y_pred = Tensor(np.arange(12, dtype=float).reshape(2, 3, 2))  # (B, T, C)
    y_true = np.zeros((2, 3, 2))
    per_step = (np.arange(12, dtype=float).reshape(2, 3, 2) ** 2).mean(-1)  # (B, T)
    w_seq = np.array([2.0, 0.5])
    got = losses.MeanSquaredError()(y_true, y_pred, sample_weight=w_seq).item()
    assert got == pytest.approx((per_step * w_seq[:, None]).sum() / 6)
    w_step = rng.uniform(size=(2, 3))
    got = losses.MeanSquaredError()(y_true, y_pred, sample_weight=w_step).item()
    assert got == pytest.approx((per_step * w_step).sum() / 6, rel=1e-6)


def test_keras_mask_averages_over_valid_steps_only():
    torch = require_torch()
    logits = rng.standard_normal((2, 4, 3))
    ids = rng.integers(0, 3, size=(2, 4))
    mask = np.array([[True, True, True, False], [True, False, False, False]])
    x = leaf(logits)
    out = softmax(x)
    out._keras_mask = mask
    loss = losses.SparseCategoricalCrossentropy()(ids, out)
    loss.backward()
    tx = torch_leaf(torch, logits)
    expected = torch.nn.functional.cross_entropy(tx[torch.tensor(mask)], torch.tensor(ids[mask]))
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_reductions_sum_and_none():
    y_pred, y_true = Tensor([[1.0], [3.0]]), np.zeros((2, 1))
    assert losses.MeanSquaredError(reduction="sum")(y_true, y_pred).item() == pytest.approx(10.0)
    np.testing.assert_allclose(losses.MeanSquaredError(reduction="none")(y_true, y_pred).numpy(), [1.0, 9.0])
    with pytest.raises(ConfigError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")


# ------------------------------------------------------------------------------------- registry
def test_get_resolves_names_aliases_instances_and_callables():
    for name, cls in [("categorical_crossentropy", losses.CategoricalCrossentropy),
                      ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
                      ("binary_crossentropy", losses.BinaryCrossentropy), ("mse", losses.MeanSquaredError),
                      ("mean_squared_error", losses.MeanSquaredError), ("mae", losses.MeanAbsoluteError),
                      ("mean_absolute_error", losses.MeanAbsoluteError), ("MeanSquaredError", losses.MeanSquaredError)]:
        assert type(losses.get(name)) is cls
    instance = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(instance) is instance
    assert type(losses.get(losses.mean_absolute_error)) is losses.MeanAbsoluteError
    clone = losses.get(losses.serialize(losses.CategoricalCrossentropy(label_smoothing=0.1)))
    assert clone.label_smoothing == 0.1

    def halved(t, p):
        return losses.mean_squared_error(t, p) * 0.5

    wrapped = losses.get(halved)
    assert wrapped.name == "halved"
    assert wrapped(np.zeros((2, 1)), Tensor([[2.0], [4.0]])).item() == pytest.approx((4 + 16) / 4)
    with pytest.raises(ConfigError, match="mean_squared_error"):
        losses.get("hinge")
