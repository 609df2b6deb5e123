"""The tape walk of rnnkit.autograd: fan-out, diamonds, long chains, accumulation, no_grad, multi-output ops."""
import numpy as np
import pytest

from rnnkit import RnnkitError, Tensor, no_grad
from rnnkit.autograd import is_grad_enabled, make, make_many
from rnnkit.errors import ShapeError
from rnnkit.ops import exp, mul, stack, unstack


def _leaf(values):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True, dtype="float64")


def test_fan_out_accumulates():
    x = _leaf([1.0, -2.0, 0.5])
    y = x * 3.0 + x * x  # x used three times
    y.backward(np.ones(3))
    np.testing.assert_allclose(x.grad, 3.0 + 2.0 * x.data)


@pytest.mark.parametrize("order", ["producer_first", "consumer_first"])
def test_diamond(order):
    x = _leaf([1.0, 2.0])
    b = x * 2.0
    a = b * 3.0
    out = (b + a) if order == "producer_first" else (a + b)  # both parent orders of the join
    out.backward(np.ones(2))
    np.testing.assert_allclose(x.grad, [8.0, 8.0])  # d(2x + 6x)/dx


def test_nested_diamonds_match_torch(torch_compare):
    def graph(x, ops):
        a = ops.exp(x)
        b = a * x
        c = b + a  # a reaches c directly and through b
        d = c * b - a  # and again through c and b
        return ops.tanh(d * 0.1) + c

    import rnnkit.ops as rops

    torch_compare(lambda x: graph(x, rops), lambda x: graph(x, torch_compare.torch), [np.linspace(-1, 1, 5)])


def test_long_chain_has_no_recursion_limit():
    x = _leaf([1.0])
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward(np.ones(1))
    np.testing.assert_allclose(x.grad, [1.0001**5000], rtol=1e-10)


def test_gradients_accumulate_across_backward_calls_until_zero_grad():
    x = _leaf([1.0, 2.0])
    (x * x).backward(np.ones(2))
    (x * x).backward(np.ones(2))
    np.testing.assert_allclose(x.grad, 4.0 * x.data)
    x.zero_grad()
    assert x.grad is None
    y = (x * 5.0).sum()
    y.backward()
    y.backward()  # the same graph twice
    np.testing.assert_allclose(x.grad, [10.0, 10.0])


def test_only_leaves_keep_grad():
    x = _leaf([1.0])
    h = x * 2.0
    (h * h).sum().backward()
    assert h.grad is None
    np.testing.assert_allclose(x.grad, [8.0])


def test_constants_get_no_grad():
    x = _leaf([1.0, 2.0])
    c = Tensor([3.0, 4.0], dtype="float64")
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad


def test_no_grad_records_nothing_and_restores():
    x = _leaf([1.0])
    with no_grad():
        y = exp(x * 2.0)
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert not y.requires_grad and y._node is None
    with pytest.raises(RnnkitError, match="does not require grad"):
        y.sum().backward()

    @no_grad()
    def infer(t):
        return t * 2.0

    assert not infer(x).requires_grad and is_grad_enabled()


def test_backward_argument_checks():
    x = _leaf([1.0, 2.0])
    y = x * 2.0
    with pytest.raises(ShapeError, match=r"one-element.*\(2,\)"):
        y.backward()
    with pytest.raises(ShapeError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))
    with pytest.raises(RnnkitError, match="float"):
        Tensor([1, 2], requires_grad=True)


def test_multi_output_op_with_one_used_output():
    x = _leaf([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    rows = unstack(x, axis=0)
    (rows[1] * 10.0).sum().backward()
    np.testing.assert_allclose(x.grad, [[0.0, 0.0], [10.0, 10.0], [0.0, 0.0]])


def test_make_many_fills_zeros_for_outputs_without_grad():
    received = []

    def split_sum_and_product(a):
        def backward(grads):
            received.append([g.copy() for g in grads])
            g_sum, g_prod = grads
            return (g_sum + g_prod * a.data[::-1],)  # d(a0 + a1)/da and d(a0 * a1)/da

        return make_many("split", [a.data.sum(keepdims=True), a.data.prod(keepdims=True)], (a,), backward)

    x = _leaf([2.0, 5.0])
    _, product = split_sum_and_product(x)
    (product * 1.0).backward(np.ones(1))
    assert len(received) == 1
    np.testing.assert_array_equal(received[0][0], [0.0])  # the unused output got zeros
    np.testing.assert_allclose(x.grad, [5.0, 2.0])


def test_make_many_without_zero_fill_passes_none_for_outputs_without_grad():
    received = []

    def backward(grads):
        received.append(list(grads))
        return (grads[1] * 3.0,)

    x = _leaf([1.0, 2.0])
    _, tripled = make_many("pair", [x.data.copy(), x.data * 3.0], (x,), backward, zero_fill=False)
    tripled.sum().backward()
    assert received[0][0] is None  # the unused output: no zero array allocated
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_make_without_grad_parents_is_not_recorded():
    out = make("noop", np.ones(2), (Tensor([1.0, 2.0]),), lambda g: (g,))
    assert not out.requires_grad and out._node is None


def test_stack_of_shared_input_accumulates():
    x = _leaf([1.0, 2.0])
    s = stack([x, mul(x, 2.0), x], axis=0)
    s.backward(np.ones((3, 2)))
    np.testing.assert_allclose(x.grad, [4.0, 4.0])


def test_grad_dtype_follows_leaf():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * np.float64(2.0)).sum().backward()
    assert x.grad.dtype == np.float32


def test_make_many_with_one_output_still_receives_a_list():
    received = []

    def backward(grads):
        received.append(type(grads))
        return (grads[0] * 2.0,)

    x = _leaf([1.0, 2.0])
    (only,) = make_many("double", [x.data * 2.0], (x,), backward)
    only.backward(np.ones(2))
    assert received == [list]
    np.testing.assert_allclose(x.grad, [2.0, 2.0])
    (row,) = unstack(_leaf([[3.0, 4.0]]), axis=0)  # a one-slice unstack is a one-output node
    row.sum().backward()
