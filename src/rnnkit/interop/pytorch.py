"""The one mapping between rnnkit's Keras-layout recurrent weights and PyTorch's ``nn.RNN`` / ``nn.LSTM`` /
``nn.GRU`` parameters (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``), on NumPy arrays.

=========== ============================================ =============================================
kind        rnnkit / Keras                               PyTorch
=========== ============================================ =============================================
simple_rnn  kernel (D, H), recurrent_kernel (H, H),      weight_ih (H, D) = kernel^T,
            bias (H,)                                    weight_hh (H, H) = recurrent_kernel^T,
                                                         bias_ih = bias, bias_hh = 0
lstm        gate blocks i, f, c, o; kernel (D, 4H),      gate blocks i, f, g, o (same order);
            recurrent_kernel (H, 4H), bias (4H,)         weight_ih (4H, D) = kernel^T, weight_hh = U^T,
                                                         bias_ih = bias, bias_hh = 0
gru         gate blocks z, r, h; reset_after=True;       gate blocks r, z, n (r and z swapped);
            kernel (D, 3H), recurrent_kernel (H, 3H),    weight_ih (3H, D), weight_hh (3H, H),
            bias (2, 3H): row 0 input, row 1 recurrent   bias_ih = row 0, bias_hh = row 1
=========== ============================================ =============================================

PyTorch has two biases where Keras' simple RNN and LSTM have one; they only ever appear summed, so going to
PyTorch puts the bias in ``bias_ih`` and zeros in ``bias_hh``, and coming back sums them. PyTorch's GRU is
Keras' ``reset_after=True`` GRU (``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``); ``reset_after=False``
has no PyTorch twin. A ``None`` bias (``use_bias=False``) maps to ``None`` biases (``nn.GRU(bias=False)``)
and back.

Whole models build on this mapping (imported here): ``from_state_dict`` / ``to_state_dict`` /
``pytorch_architecture`` (``rnnkit.interop.pytorch_state``, architectures in ``pytorch_architecture``) and
``load_safetensors`` / ``save_safetensors`` (``rnnkit.interop.safetensors_files``).

>>> import numpy as np
>>> kernel, recurrent_kernel, bias = np.ones((2, 9)), np.ones((3, 9)), np.zeros((2, 9))
>>> kernel[:, 3:6] = 2.0                                     # the Keras r block
>>> p = keras_to_torch("gru", kernel, recurrent_kernel, bias)
>>> p["weight_ih"].shape, p["weight_ih"][:3, 0]              # PyTorch's first block is r
((9, 2), array([2., 2., 2.]))
>>> k, u, b = torch_to_keras("gru", **p)
>>> bool(np.array_equal(k, kernel)) and b.shape == (2, 9)
True
"""
from __future__ import annotations

import numpy as np

from rnnkit.errors import ConfigError, ShapeError

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def _check_kind(kind: str) -> int:
    if kind not in GATES:
        raise ConfigError(f"unknown recurrent kind {kind!r}; expected one of {', '.join(map(repr, GATES))}")
    return GATES[kind]


def _swap_gru_gates(a: np.ndarray, axis: int) -> np.ndarray:
    """Swap the first two of three gate blocks along ``axis`` (Keras z, r, h <-> PyTorch r, z, n); a copy."""
    z, r, h = np.split(np.asarray(a), 3, axis=axis)
    return np.concatenate([r, z, h], axis=axis)


def keras_to_torch(kind: str, kernel, recurrent_kernel, bias, reset_after: bool = True) -> dict:
    """Keras-layout weights -> ``dict(weight_ih, weight_hh, bias_ih, bias_hh)`` for PyTorch (new arrays).

    ``kind`` is ``"simple_rnn"``, ``"lstm"`` or ``"gru"``; ``bias`` may be ``None`` (then both biases are None).
    """
    gates = _check_kind(kind)
    kernel, recurrent_kernel = np.asarray(kernel), np.asarray(recurrent_kernel)
    units = recurrent_kernel.shape[0]
    if recurrent_kernel.shape != (units, gates * units) or kernel.ndim != 2 or kernel.shape[1] != gates * units:
        raise ShapeError(f"{kind}: expected kernel (input_dim, {gates} * units) and recurrent_kernel "
                         f"(units, {gates} * units); got {kernel.shape} and {recurrent_kernel.shape}")
    weight_ih, weight_hh = kernel.T.copy(), recurrent_kernel.T.copy()  # (G*H, D), (G*H, H)
    bias_ih = bias_hh = None
    if kind == "gru":
        if not reset_after:
            raise ConfigError("a GRU with reset_after=False has no PyTorch equivalent; PyTorch's nn.GRU is "
                              "Keras' reset_after=True")
        weight_ih, weight_hh = _swap_gru_gates(weight_ih, 0), _swap_gru_gates(weight_hh, 0)
        if bias is not None:
            bias = np.asarray(bias)
            if bias.shape != (2, 3 * units):
                raise ShapeError(f"gru: expected bias of shape (2, 3 * units) = {(2, 3 * units)}; got {bias.shape}")
            bias_ih, bias_hh = _swap_gru_gates(bias[0], 0), _swap_gru_gates(bias[1], 0)
    elif bias is not None:
        bias = np.asarray(bias)
        if bias.shape != (gates * units,):
            raise ShapeError(f"{kind}: expected bias of shape {(gates * units,)}; got {bias.shape}")
        bias_ih, bias_hh = bias.copy(), np.zeros_like(bias)
    return {"weight_ih": weight_ih, "weight_hh": weight_hh, "bias_ih": bias_ih, "bias_hh": bias_hh}


def torch_to_keras(kind: str, weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> tuple:
    """PyTorch parameters (NumPy arrays) -> Keras-layout ``(kernel, recurrent_kernel, bias)`` (new arrays).

    For ``"gru"`` the bias is ``(2, 3H)`` (``reset_after=True``); otherwise ``bias_ih + bias_hh``. ``None`` biases
    give ``bias=None``.
    """
    gates = _check_kind(kind)
    weight_ih, weight_hh = np.asarray(weight_ih), np.asarray(weight_hh)
    units = weight_hh.shape[1] if weight_hh.ndim == 2 else -1
    if weight_hh.shape != (gates * units, units) or weight_ih.ndim != 2 or weight_ih.shape[0] != gates * units:
        raise ShapeError(f"{kind}: expected weight_ih ({gates} * hidden, input) and weight_hh ({gates} * hidden, "
                         f"hidden); got {weight_ih.shape} and {weight_hh.shape}")
    if (bias_ih is None) != (bias_hh is None):
        raise ConfigError(f"{kind}: give both bias_ih and bias_hh or neither")
    if kind == "gru":
        weight_ih, weight_hh = _swap_gru_gates(weight_ih, 0), _swap_gru_gates(weight_hh, 0)
    kernel, recurrent_kernel = weight_ih.T.copy(), weight_hh.T.copy()  # (D, G*H), (H, G*H)
    if bias_ih is None:
        return kernel, recurrent_kernel, None
    bias_ih, bias_hh = np.asarray(bias_ih), np.asarray(bias_hh)
    if kind == "gru":
        return kernel, recurrent_kernel, np.stack([_swap_gru_gates(bias_ih, 0), _swap_gru_gates(bias_hh, 0)])
    return kernel, recurrent_kernel, bias_ih + bias_hh


# State dicts and .safetensors files build on the mapping above; imported last because they import it.
from rnnkit.interop.pytorch_state import from_state_dict, pytorch_architecture, to_state_dict  # noqa: E402
from rnnkit.interop.safetensors_files import load_safetensors, save_safetensors  # noqa: E402

__all__ = ["GATES", "keras_to_torch", "torch_to_keras", "from_state_dict", "to_state_dict", "pytorch_architecture",
           "load_safetensors", "save_safetensors"]
