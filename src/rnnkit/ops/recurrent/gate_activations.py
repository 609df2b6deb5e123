"""The activations a recurrent op may apply to its gates, by name.

The ops evaluate them inside their compiled kernels, selected by an integer code; kernel_math has the formulas
(a table of each activation and its derivative written with the activation's output ``y``, which the ops cache).
:class:`GateActivation` also evaluates them on arrays, with the same compiled code.

At the kinks of ``relu`` and ``hard_sigmoid`` the derivative from the output is the one-sided value the
frameworks use (0 at ``x = 0`` for relu). The sigmoid goes through ``tanh``, which never overflows
(``sigmoid(-1000)`` is 0, not a warning).

>>> import numpy as np
>>> from rnnkit.ops.recurrent.gate_activations import get_activation
>>> sigmoid = get_activation("sigmoid")
>>> y = sigmoid.forward(np.array([-1000.0, 0.0, 2.0]), np.empty(3))
>>> y.round(4)
array([0.    , 0.5   , 0.8808])
>>> sigmoid.derivative(y, np.empty(3)).round(4)
array([0.   , 0.25 , 0.105])
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.ops.recurrent import kernel_math


class GateActivation(NamedTuple):
    """An activation for the recurrent ops: its ``name`` and the compiled kernels' ``code`` for it.

    ``forward(x, out)`` writes ``f(x)`` and ``derivative(y, out)`` writes ``f'(x)`` from ``y = f(x)``, into ``out``
    (which may be the input), computed in ``out``'s dtype (float32 or float64).

    >>> import numpy as np
    >>> tanh = get_activation("tanh")
    >>> y = tanh.forward(np.array([0.0, 1.0]), np.empty(2))
    >>> y.round(4), tanh.derivative(y, np.empty(2)).round(4)
    (array([0.    , 0.7616]), array([1.   , 0.42]))
    """

    name: str
    code: int

    def forward(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        return _evaluate(kernel_math.apply_activation, x, out, self.code)

    def derivative(self, y: np.ndarray, out: np.ndarray) -> np.ndarray:
        return _evaluate(kernel_math.apply_derivative, y, out, self.code)


def _evaluate(compiled, a, out, code):
    """``out = compiled(a)`` through a contiguous copy in ``out``'s dtype (the compiled functions work in place
    on contiguous arrays)."""
    work = np.array(a, dtype=out.dtype, order="C")  # a copy: ``a`` may be ``out``
    np.copyto(out, compiled(work, code))
    return out


ACTIVATIONS = {name: GateActivation(name, code) for name, code in kernel_math.CODES.items()}


def get_activation(name) -> GateActivation:
    """The :class:`GateActivation` called ``name`` (``None`` means ``"linear"``, as in Keras).

    >>> get_activation("tanh").name
    'tanh'
    >>> get_activation("swish")
    Traceback (most recent call last):
    ...
    rnnkit.errors.ConfigError: unknown recurrent activation 'swish'; expected one of 'tanh', 'sigmoid', ...
    """
    if name is None:
        name = "linear"
    if isinstance(name, GateActivation):
        return name
    if not isinstance(name, str) or name not in ACTIVATIONS:
        valid = ", ".join(repr(n) for n in ACTIVATIONS)
        raise ConfigError(f"unknown recurrent activation {name!r}; expected one of {valid}")
    return ACTIVATIONS[name]
