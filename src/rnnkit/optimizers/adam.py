"""Adam (and AMSGrad), Keras 3's formulation.

At step ``t`` (1-based), with first and second moments ``m``, ``v`` (zero at first):

    m <- m + (g - m) * (1 - beta_1)
    v <- v + (g^2 - v) * (1 - beta_2)
    v_hat <- max(v_hat, v)                   (amsgrad; then v_hat replaces v below)
    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    w <- w - alpha * m / (sqrt(v) + epsilon)

Epsilon placement: Keras adds ``epsilon`` to ``sqrt(v)`` before the bias correction ("epsilon hat" of Kingma
and Ba), PyTorch's ``torch.optim.Adam`` after it: ``w <- w - lr * m_hat / (sqrt(v_hat) + eps)`` with
``m_hat = m / (1 - beta_1^t)``, ``v_hat = v / (1 - beta_2^t)``. So Keras' epsilon equals PyTorch's
``eps = epsilon / sqrt(1 - beta_2^t)``, a different value at every step; the two agree exactly only for
``epsilon = 0``. ``weight_decay`` is decoupled (``w <- w - lr * weight_decay * w`` before the step), which
is PyTorch's ``AdamW``, not ``Adam(weight_decay=...)`` (an L2 term added to the gradient).

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.optimizers import Adam
>>> w = Tensor([1.0, 1.0], dtype="float64")
>>> Adam(learning_rate=0.1).apply_gradients([(np.array([3.0, -0.5]), w)])
>>> np.round(w.data, 4)  # the first Adam step is lr * sign(g) (up to epsilon)
array([0.9, 1.1])
"""
from __future__ import annotations

import math

import numpy as np

from rnnkit.compiled import compilable, jit
from rnnkit.errors import ConfigError
from rnnkit.optimizers.base import Optimizer


@jit
def _adam_update(value, grad, m, v, alpha, keep_1, keep_2, epsilon):
    """One Adam step over flat arrays in one pass (eleven NumPy calls otherwise, each its own trip through
    memory): the same arithmetic as :meth:`Adam.update_step`'s NumPy path, ``keep_i = 1 - beta_i``."""
    for e in range(value.size):
        g = grad[e]
        m[e] += (g - m[e]) * keep_1
        v[e] += (g * g - v[e]) * keep_2
        value[e] -= alpha * (m[e] / (math.sqrt(v[e]) + epsilon))


class Adam(Optimizer):
    """Adam (Keras ``keras.optimizers.Adam``).

    Args:
        learning_rate: step size. Default 0.001.
        beta_1: decay rate of the first-moment average. Default 0.9.
        beta_2: decay rate of the second-moment average. Default 0.999.
        epsilon: added to ``sqrt(v)`` (Keras' "epsilon hat"). Default 1e-7.
        amsgrad: use the running maximum of ``v`` (AMSGrad). Default False.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``, ``params``
            (see :class:`~rnnkit.optimizers.base.Optimizer`); ``lr`` is an alias of ``learning_rate``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        for key, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0 <= value < 1:
                raise ConfigError(f"{key} must be in [0, 1); got {value!r}")
        if not epsilon >= 0:
            raise ConfigError(f"epsilon must be >= 0; got {epsilon!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)

    def slot_names(self) -> tuple:
        return ("momentum", "velocity", "velocity_hat") if self.amsgrad else ("momentum", "velocity")

    def update_step(self, grad, value, slots, lr, scratch):
        t = self.iterations + 1
        alpha = lr * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        m, v = slots["momentum"], slots["velocity"]
        if not self.amsgrad and compilable(value, grad, m, v):
            kind = value.dtype.type  # the scalars in the arrays' precision, as NumPy's mixed arithmetic uses them
            _adam_update(value.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1), kind(alpha),
                         kind(1 - self.beta_1), kind(1 - self.beta_2), kind(self.epsilon))
            return
        np.subtract(grad, m, out=scratch)
        scratch *= 1 - self.beta_1
        m += scratch  # m += (g - m) * (1 - beta_1)
        np.square(grad, out=scratch)
        scratch -= v
        scratch *= 1 - self.beta_2
        v += scratch  # v += (g^2 - v) * (1 - beta_2)
        if self.amsgrad:
            v = np.maximum(slots["velocity_hat"], v, out=slots["velocity_hat"])
        np.sqrt(v, out=scratch)
        scratch += self.epsilon
        np.divide(m, scratch, out=scratch)
        scratch *= alpha
        value -= scratch  # w -= alpha * m / (sqrt(v) + epsilon)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}
