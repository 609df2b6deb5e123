"""SGD: gradient descent with optional (Nesterov) momentum, Keras 3's formulation.

With ``momentum = 0``: ``w <- w - lr * g``. Otherwise, with velocity ``v`` (zero at first):

    v <- momentum * v - lr * g
    w <- w + v                                  (nesterov=False)
    w <- w + momentum * v - lr * g              (nesterov=True)

PyTorch's ``torch.optim.SGD`` keeps ``b <- momentum * b + g`` and steps ``w <- w - lr * b`` (Nesterov:
``w <- w - lr * (g + momentum * b)``). With a constant learning rate ``v = -lr * b`` at every step, so the two
agree exactly; they differ once the learning rate changes, because Keras' velocity holds past steps already
scaled by the learning rate of their time, while PyTorch rescales all of its buffer by the new one.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.optimizers import SGD
>>> w = Tensor([1.0], dtype="float64")
>>> opt = SGD(learning_rate=0.1, momentum=0.9)
>>> for _ in range(2):
...     opt.apply_gradients([(np.array([1.0]), w)])
>>> w.data  # 1 - 0.1, then - (0.9 * 0.1 + 0.1)
array([0.71])
"""
from __future__ import annotations

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.optimizers.base import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent (Keras ``keras.optimizers.SGD``).

    Args:
        learning_rate: step size. Default 0.01.
        momentum: float in ``[0, 1]``; 0 is plain gradient descent. Default 0.0.
        nesterov: use Nesterov momentum. Default False.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``, ``params``
            (see :class:`~rnnkit.optimizers.base.Optimizer`); ``lr`` is an alias of ``learning_rate``.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ConfigError(f"momentum must be a float in [0, 1]; got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def slot_names(self) -> tuple:
        return ("momentum",) if self.momentum != 0 else ()

    def update_step(self, grad, value, slots, lr, scratch):
        step = np.multiply(grad, lr, out=scratch)  # lr * g
        if self.momentum == 0:
            value -= step
            return
        v = slots["momentum"]
        v *= self.momentum
        v -= step  # v = momentum * v - lr * g
        if self.nesterov:
            value -= step
            np.multiply(v, self.momentum, out=scratch)
            value += scratch  # w += momentum * v - lr * g
        else:
            value += v

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
