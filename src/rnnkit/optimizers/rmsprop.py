"""RMSprop, Keras 3's formulation (plain momentum, optional centering).

With ``v`` the moving average of ``g^2`` and ``a`` that of ``g`` (centered only), all zero at first:

    v <- rho * v + (1 - rho) * g^2
    a <- rho * a + (1 - rho) * g                          (centered)
    step = lr * g / sqrt(v + epsilon)                     (centered: sqrt(v - a^2 + epsilon))
    mom <- momentum * mom + step;  w <- w - mom           (momentum > 0)
    w <- w - step                                         (momentum = 0)

PyTorch's ``torch.optim.RMSprop`` puts ``eps`` outside the square root (``sqrt(v) + eps``) and keeps its
momentum buffer without the learning rate (``b <- momentum * b + g / (sqrt(v) + eps)``, ``w <- w - lr * b``);
with ``epsilon = 0`` and a constant learning rate the two are identical.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.optimizers import RMSprop
>>> w = Tensor([1.0], dtype="float64")
>>> RMSprop(learning_rate=0.1, epsilon=0.0).apply_gradients([(np.array([2.0]), w)])
>>> np.round(w.data, 6)  # 1 - 0.1 * 2 / sqrt(0.1 * 4)
array([0.683772])
"""
from __future__ import annotations

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.optimizers.base import Optimizer


class RMSprop(Optimizer):
    """RMSprop (Keras ``keras.optimizers.RMSprop``).

    Args:
        learning_rate: step size. Default 0.001.
        rho: decay rate of the moving averages. Default 0.9.
        momentum: momentum factor; 0 for none. Default 0.0.
        epsilon: added under the square root. Default 1e-7.
        centered: divide by the estimated variance ``v - a^2`` instead of ``v``. Default False.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``, ``params``
            (see :class:`~rnnkit.optimizers.base.Optimizer`); ``lr`` is an alias of ``learning_rate``.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= rho <= 1:
            raise ConfigError(f"rho must be in [0, 1]; got {rho!r}")
        if not momentum >= 0:
            raise ConfigError(f"momentum must be >= 0; got {momentum!r}")
        if not epsilon >= 0:
            raise ConfigError(f"epsilon must be >= 0; got {epsilon!r}")
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)

    def slot_names(self) -> tuple:
        names = ("velocity",)
        if self.momentum > 0:
            names += ("momentum",)
        if self.centered:
            names += ("average_gradient",)
        return names

    def update_step(self, grad, value, slots, lr, scratch):
        v = slots["velocity"]
        v *= self.rho
        np.square(grad, out=scratch)
        scratch *= 1 - self.rho
        v += scratch  # v = rho * v + (1 - rho) * g^2
        if self.centered:
            a = slots["average_gradient"]
            a *= self.rho
            np.multiply(grad, 1 - self.rho, out=scratch)
            a += scratch  # a = rho * a + (1 - rho) * g
            np.square(a, out=scratch)
            np.subtract(v, scratch, out=scratch)
            scratch += self.epsilon  # v - a^2 + epsilon
        else:
            np.add(v, self.epsilon, out=scratch)
        np.sqrt(scratch, out=scratch)
        np.divide(grad, scratch, out=scratch)
        scratch *= lr  # step = lr * g / sqrt(denominator)
        if self.momentum > 0:
            mom = slots["momentum"]
            mom *= self.momentum
            mom += scratch
            value -= mom
        else:
            value -= scratch

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
