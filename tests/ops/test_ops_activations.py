"""Activations: finite differences, PyTorch twins, extreme inputs, and the Keras name registry."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit import Tensor
from rnnkit.errors import ConfigError
from rnnkit.ops import activations
from rnnkit.ops.activations import elu, hard_sigmoid, linear, log_softmax, relu, sigmoid, softmax, softplus, tanh

SHAPES = [(5,), (3, 4), (2, 1, 3), (1, 1)]

ELEMENTWISE = {  # rnnkit function -> its PyTorch twin (given the torch module)
    "tanh": (tanh, lambda t: t.tanh),
    "sigmoid": (sigmoid, lambda t: t.sigmoid),
    "relu": (relu, lambda t: t.relu),
    # torch's own hardsigmoid backward multiplies by 1/6 rounded to float32; relu6(x + 3) / 6 is exact
    "hard_sigmoid": (hard_sigmoid, lambda t: (lambda x: t.nn.functional.relu6(x + 3.0) / 6.0)),
    "softplus": (softplus, lambda t: t.nn.functional.softplus),
    "elu": (elu, lambda t: t.nn.functional.elu),
    "linear": (linear, lambda t: (lambda x: x * 1.0)),
}


def _inputs(shape, seed=0):
    # scaled so hard_sigmoid sees both flat regions; |x| < 20 keeps torch's softplus on its exact branch
    return 3.0 * np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("name", sorted(set(ELEMENTWISE) - {"linear"}))
@pytest.mark.parametrize("shape", SHAPES)
def test_elementwise_activation_gradcheck(name, shape):
    check_gradients(ELEMENTWISE[name][0], [_inputs(shape)])


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("shape", SHAPES)
def test_elementwise_activation_matches_torch(name, shape, torch_compare):
    ours, twin = ELEMENTWISE[name]
    torch_compare(ours, twin(torch_compare.torch), [_inputs(shape, seed=1)])


@pytest.mark.parametrize("fn", [softmax, log_softmax])
@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((2, 1), -1)])
def test_softmax_family(fn, shape, axis, torch_compare):
    x = _inputs(shape, seed=2)
    check_gradients(lambda a: fn(a, axis=axis), [x])
    twin = getattr(torch_compare.torch, fn.__name__)
    torch_compare(lambda a: fn(a, axis=axis), lambda a: twin(a, dim=axis), [x])


def test_softmax_method_and_tensor_methods():
    x = Tensor([[1.0, 2.0, 3.0]], dtype="float64")
    np.testing.assert_allclose(x.softmax().numpy(), softmax(x).numpy())
    np.testing.assert_allclose(x.tanh().numpy(), np.tanh(x.numpy()))
    np.testing.assert_allclose(x.relu().numpy(), x.numpy())
    np.testing.assert_allclose(x.sigmoid().numpy(), 1 / (1 + np.exp(-x.numpy())))


def test_known_values():
    x = np.array([-4.0, -3.0, -1.5, 0.0, 1.5, 3.0, 4.0])
    np.testing.assert_allclose(hard_sigmoid(Tensor(x, dtype="float64")).numpy(), np.clip((x + 3) / 6, 0, 1))
    expected_elu = np.where(x > 0, x, 0.5 * np.expm1(x))
    np.testing.assert_allclose(elu(Tensor(x, dtype="float64"), alpha=0.5).numpy(), expected_elu)
    np.testing.assert_allclose(softplus(Tensor(x, dtype="float64")).numpy(), np.log1p(np.exp(x)))


EXTREME = np.array([-1e4, -400.0, -40.0, 0.0, 40.0, 400.0, 1e4])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn", [tanh, sigmoid, softplus, elu, hard_sigmoid, softmax, log_softmax])
def test_extreme_inputs_are_finite(fn, dtype):
    x = Tensor(EXTREME, requires_grad=True, dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = fn(x)
        y.backward(np.ones(y.shape, dtype=dtype))
    assert np.all(np.isfinite(y.numpy())) and np.all(np.isfinite(x.grad))
    assert y.dtype == np.dtype(dtype) and x.grad.dtype == np.dtype(dtype)


def test_extreme_values_are_exact():
    x = Tensor(EXTREME, dtype="float64")
    np.testing.assert_allclose(sigmoid(x).numpy()[[0, 1, -2, -1]], [0.0, 0.0, 1.0, 1.0], atol=1e-170)
    np.testing.assert_allclose(softplus(x).numpy(), np.logaddexp(0.0, EXTREME), rtol=1e-15)
    np.testing.assert_allclose(log_softmax(Tensor([-400.0, 400.0], dtype="float64")).numpy(), [-800.0, 0.0])
    np.testing.assert_allclose(softmax(Tensor([400.0, -400.0], dtype="float64")).numpy(), [1.0, 0.0])


def test_softmax_and_sigmoid_remember_their_logits():
    logits = Tensor([[1.0, 2.0]])
    assert softmax(logits)._softmax_logits is logits
    assert sigmoid(logits)._sigmoid_logits is logits


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu", "softmax", "log_softmax", "linear", "hard_sigmoid",
                                  "softplus", "elu"])
def test_registry_round_trip(name):
    fn = activations.get(name)
    assert activations.serialize(fn) == name
    assert activations.get(activations.serialize(fn)) is fn


def test_registry_none_callable_and_unknown():
    assert activations.get(None) is linear

    def custom(x):
        return x * 2.0

    assert activations.get(custom) is custom
    assert activations.serialize(relu) == "relu" and activations.serialize(custom) == "custom"
    with pytest.raises(ConfigError, match=r"'swishy'.*'elu'.*'tanh'"):
        activations.get("swishy")
    with pytest.raises(ConfigError, match="42"):
        activations.get(42)


def test_linear_is_identity_in_the_graph():
    x = Tensor([1.0, -2.0], requires_grad=True)
    (linear(x) * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_hard_sigmoid_is_torch_hardsigmoid(torch_compare):
    torch = torch_compare.torch
    x = _inputs((4, 5), seed=3)
    ours = Tensor(x, requires_grad=True, dtype="float64")
    theirs = torch.tensor(x, requires_grad=True)
    hard_sigmoid(ours).backward(np.ones(x.shape))
    torch.nn.functional.hardsigmoid(theirs).sum().backward()
    np.testing.assert_allclose(hard_sigmoid(ours).numpy(), torch.nn.functional.hardsigmoid(theirs).detach().numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-7)  # torch rounds 1/6 to float32 here
