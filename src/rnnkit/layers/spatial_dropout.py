"""SpatialDropout1D: dropout of whole feature channels, the same channels at every time step of a sample.

In training each sample keeps each of its ``features`` channels with probability ``1 - rate`` (over all time
steps at once) and scales the kept ones by ``1 / (1 - rate)``, as Keras' ``SpatialDropout1D`` (a ``Dropout``
with noise shape ``(batch, 1, features)``). After an ``Embedding`` this drops whole embedding dimensions, a
stronger regulariser than element-wise dropout when neighbouring steps are correlated. Outside training (the
default) it is the identity; masks pass through. Seeded through ``rnnkit.random`` like ``Dropout``.

>>> import numpy as np
>>> from rnnkit.layers import SpatialDropout1D
>>> y = SpatialDropout1D(0.5, seed=0)(np.ones((2, 4, 3)), training=True).numpy()
>>> bool((y == y[:, :1, :]).all()), sorted(set(y.ravel().tolist()))  # constant over time; 0 or 1/(1-0.5)
(True, [0.0, 2.0])
"""
from __future__ import annotations

from rnnkit.autograd import Tensor
from rnnkit.layers.dropout import Dropout


class SpatialDropout1D(Dropout):
    """Channel-wise dropout for ``(batch, time, features)`` inputs (Keras ``SpatialDropout1D``).

    Args:
        rate: fraction of the feature channels set to zero in training, in ``[0, 1)``.
        seed: seed of the masks (None: from ``rnnkit.random``).

    Shapes: ``(B, T, D)`` -> ``(B, T, D)``; the keep-mask has shape ``(B, 1, D)``.

    >>> SpatialDropout1D(0.2).get_config()["rate"]
    0.2
    """

    input_ndim = (3,)

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, noise_shape=None, seed=seed, **kwargs)

    def _check_same_features(self, shape):
        self._check_rank(shape)  # no weights, but always (batch, time, features)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        batch, _, features = inputs.shape
        keep = self._rng.random((batch, 1, features)) >= self.rate  # (B, 1, D), broadcast over time
        return inputs * Tensor(keep / (1.0 - self.rate), dtype=inputs.dtype)

    def get_config(self):
        config = super().get_config()
        del config["noise_shape"]  # fixed at (batch, 1, features), not an argument (as Keras)
        return config
