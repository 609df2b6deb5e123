"""conv2d / conv1d: finite differences over random geometries, PyTorch on identical weights, Keras' "same"
padding convention by hand, and clear errors."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients

import rnnkit.ops.conv as conv_module
from rnnkit import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.ops.conv import conv1d, conv2d

# The three ways conv2d computes: compiled loops straight from the input (few channels), im2col + BLAS on the
# whole batch at once, and im2col + BLAS one image per block (the backward then rebuilds the im2col blocks).
PATHS = {"direct": dict(DIRECT_MAX_CHANNELS=1 << 30), "im2col": dict(DIRECT_MAX_CHANNELS=0, BLOCK_BYTES=1 << 40),
         "im2col-blocks": dict(DIRECT_MAX_CHANNELS=0, BLOCK_BYTES=1)}


@pytest.fixture(params=list(PATHS))
def conv_path(request, monkeypatch):
    for name, value in PATHS[request.param].items():
        monkeypatch.setattr(conv_module, name, value)
    return request.param


def tf_same_pads(size, k, stride, dilation):
    """TensorFlow's rule, written out independently of rnnkit: total = max((ceil(n/s)-1)*s + span - n, 0),
    the odd pixel after."""
    span = (k - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def random_case(rng):
    """A random 2-D geometry: input size, kernel, strides, dilation, padding, channels."""
    kh, kw = rng.integers(1, 4, size=2)
    dh, dw = (1, 1) if rng.random() < 0.4 else rng.integers(1, 3, size=2)
    sh, sw = rng.integers(1, 3, size=2)
    padding = str(rng.choice(["valid", "same"]))
    H = int((kh - 1) * dh + 1 + rng.integers(0, 4))
    W = int((kw - 1) * dw + 1 + rng.integers(0, 4))
    return dict(B=int(rng.integers(1, 3)), H=H, W=W, C=int(rng.integers(1, 3)), F=int(rng.integers(1, 3)),
                k=(int(kh), int(kw)), s=(int(sh), int(sw)), d=(int(dh), int(dw)), padding=padding)


CASES = [random_case(np.random.default_rng(seed)) for seed in range(10)]
CASES += [  # the corners random draws may miss: even kernels with "same", strides with "same", a 1x1 kernel
    dict(B=1, H=4, W=5, C=2, F=2, k=(2, 2), s=(1, 1), d=(1, 1), padding="same"),
    dict(B=2, H=5, W=6, C=1, F=2, k=(4, 3), s=(2, 3), d=(1, 1), padding="same"),
    dict(B=1, H=6, W=5, C=2, F=1, k=(2, 3), s=(1, 1), d=(2, 2), padding="same"),
    dict(B=2, H=3, W=3, C=3, F=2, k=(1, 1), s=(2, 2), d=(1, 1), padding="valid"),
    # 8 channels and more: the compiled col2im (below that, NumPy's strided additions)
    dict(B=2, H=5, W=6, C=8, F=3, k=(3, 3), s=(1, 1), d=(1, 1), padding="same"),
    dict(B=1, H=7, W=6, C=9, F=2, k=(2, 3), s=(2, 2), d=(1, 1), padding="same"),
    dict(B=1, H=7, W=7, C=8, F=2, k=(3, 2), s=(1, 1), d=(2, 3), padding="valid"),
]


def case_id(c):
    return f"{c['H']}x{c['W']}k{c['k'][0]}{c['k'][1]}s{c['s'][0]}{c['s'][1]}d{c['d'][0]}{c['d'][1]}{c['padding']}"


def case_arrays(c, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((c["B"], c["H"], c["W"], c["C"])),
            rng.standard_normal(c["k"] + (c["C"], c["F"])), rng.standard_normal(c["F"])]


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_conv2d_gradcheck(c, conv_path):
    check_gradients(lambda x, k, b: conv2d(x, k, b, c["s"], c["padding"], c["d"]), case_arrays(c))


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_conv2d_matches_torch(c, conv_path, torch_compare):
    torch = torch_compare.torch
    F = torch.nn.functional

    def reference(x, k, b):
        x = x.permute(0, 3, 1, 2)  # NHWC -> NCHW
        if c["padding"] == "same":
            (top, bottom), (left, right) = (tf_same_pads(n, k_, s, d) for n, k_, s, d in
                                            zip((c["H"], c["W"]), c["k"], c["s"], c["d"]))
            x = F.pad(x, (left, right, top, bottom))
        y = F.conv2d(x, k.permute(3, 2, 0, 1).contiguous(), b, stride=c["s"], dilation=c["d"])  # (kh,kw,C,F) -> (F,C,kh,kw)
        return y.permute(0, 2, 3, 1)

    torch_compare(lambda x, k, b: conv2d(x, k, b, c["s"], c["padding"], c["d"]), reference, case_arrays(c),
                  tol=1e-9)


def test_conv2d_without_bias_matches_torch(conv_path, torch_compare):
    torch = torch_compare.torch
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 6, 7, 3)), rng.standard_normal((3, 2, 3, 4))]
    torch_compare(lambda x, k: conv2d(x, k, strides=(2, 1)),
                  lambda x, k: torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1).contiguous(),
                                                          stride=(2, 1)).permute(0, 2, 3, 1), arrays, tol=1e-9)


CASES_1D = [(7, 3, 1, 1, "valid"), (8, 4, 1, 1, "same"), (9, 3, 2, 1, "same"), (10, 2, 1, 3, "same"),
            (9, 3, 1, 2, "causal"), (6, 4, 1, 1, "causal"), (11, 5, 3, 1, "valid")]


@pytest.mark.parametrize("L, k, s, d, padding", CASES_1D)
def test_conv1d_gradcheck_and_torch(L, k, s, d, padding, conv_path, torch_compare):
    torch = torch_compare.torch
    F = torch.nn.functional
    rng = np.random.default_rng(L * k)
    arrays = [rng.standard_normal((2, L, 3)), rng.standard_normal((k, 3, 2)), rng.standard_normal(2)]

    def ours(x, kernel, b):
        return conv1d(x, kernel, b, s, padding, d)

    def reference(x, kernel, b):
        x = x.permute(0, 2, 1)  # NLC -> NCL
        if padding == "same":
            x = F.pad(x, tf_same_pads(L, k, s, d))
        elif padding == "causal":
            x = F.pad(x, ((k - 1) * d, 0))
        return F.conv1d(x, kernel.permute(2, 1, 0).contiguous(), b, stride=s, dilation=d).permute(0, 2, 1)

    check_gradients(ours, arrays)
    torch_compare(ours, reference, arrays, tol=1e-9)


def test_same_padding_with_an_even_kernel_puts_the_extra_zero_at_the_bottom_right(conv_path):
    x = Tensor(np.arange(9.0).reshape(1, 3, 3, 1), dtype="float64")
    k = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1), dtype="float64")
    # y[i, j] = x[i, j] + 2 x[i, j+1] + 3 x[i+1, j] + 4 x[i+1, j+1], zero outside: worked out by hand
    expected = np.array([[27.0, 37.0, 17.0],
                         [57.0, 67.0, 29.0],
                         [20.0, 23.0, 8.0]])
    np.testing.assert_array_equal(conv2d(x, k, padding="same").numpy()[0, :, :, 0], expected)


def test_same_padding_with_stride_two_on_an_even_size():
    # n=4, k=3, s=2: out 2, total pad (2-1)*2 + 3 - 4 = 1, after: windows rows {0,1,2} and {2,3,pad}
    x = Tensor(np.arange(4.0).reshape(1, 1, 4, 1), dtype="float64")
    k = Tensor(np.ones((1, 3, 1, 1)), dtype="float64")
    np.testing.assert_array_equal(conv2d(x, k, strides=2, padding="same").numpy().ravel(), [3.0, 5.0])


def test_causal_conv1d_sees_only_the_past():
    x = Tensor(np.arange(1.0, 6.0).reshape(1, 5, 1), dtype="float64")
    k = Tensor(np.array([10.0, 1.0]).reshape(2, 1, 1), dtype="float64")  # y_t = 10 x_{t-1} + x_t
    np.testing.assert_array_equal(conv1d(x, k, padding="causal").numpy().ravel(), [1.0, 12.0, 23.0, 34.0, 45.0])


def test_conv2d_keeps_float32(conv_path):
    y = conv2d(Tensor(np.ones((1, 4, 4, 2))), Tensor(np.ones((3, 3, 2, 3))), Tensor(np.zeros(3)), padding="same")
    assert y.dtype == np.float32 and y.shape == (1, 4, 4, 3)


@pytest.mark.parametrize("args, error, message", [
    (((1, 4, 4, 2), (3, 3, 3, 1)), ShapeError, r"same channels; got shapes \(1, 4, 4, 2\) and \(3, 3, 3, 1\)"),
    (((4, 4, 2), (3, 3, 2, 1)), ShapeError, r"expected x \(batch, height, width, channels\)"),
    (((1, 2, 2, 1), (3, 3, 1, 1)), ShapeError, r"smaller than the dilated kernel \(3, 3\) with padding='valid'"),
])
def test_conv2d_errors_name_what_they_got(args, error, message):
    with pytest.raises(error, match=message):
        conv2d(*(Tensor(np.zeros(s)) for s in args))


def test_conv2d_argument_errors():
    x, k = Tensor(np.zeros((1, 4, 4, 1))), Tensor(np.zeros((2, 2, 1, 1)))
    with pytest.raises(ConfigError, match=r"padding must be one of \['valid', 'same'\]; got 'full'"):
        conv2d(x, k, padding="full")
    with pytest.raises(ConfigError, match=r"strides must be a positive integer or a tuple of 2 .*; got \(1, 0\)"):
        conv2d(x, k, strides=(1, 0))
    with pytest.raises(ShapeError, match=r"bias must have shape \(1,\); got shape \(2,\)"):
        conv2d(x, k, Tensor(np.zeros(2)))


@pytest.mark.parametrize("needs", [(True, False, False), (False, True, True), (True, True, False)],
                         ids=["input-only", "weights-only", "no-bias-grad"])
def test_conv2d_gradients_of_only_some_parents(needs, conv_path):
    """Each path computes only the gradients asked for, and those equal the full computation's."""
    rng = np.random.default_rng(12)
    arrays = [rng.standard_normal((2, 5, 6, 3)), rng.standard_normal((3, 2, 3, 4)), rng.standard_normal(4)]
    upstream = rng.standard_normal((2, 5, 3, 4))
    full = [Tensor(a, requires_grad=True, dtype="float64") for a in arrays]
    conv2d(*full, strides=(1, 2), padding="same").backward(upstream)
    some = [Tensor(a, requires_grad=n, dtype="float64") for a, n in zip(arrays, needs)]
    conv2d(*some, strides=(1, 2), padding="same").backward(upstream)
    for a, b, n in zip(full, some, needs):
        if n:
            np.testing.assert_allclose(b.grad, a.grad, rtol=1e-12, atol=1e-12)
        else:
            assert b.grad is None
