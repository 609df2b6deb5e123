"""Dropout: in training, zero a fraction ``rate`` of the inputs and scale the rest by ``1 / (1 - rate)``.

Outside training (the default, ``training=False``) the layer is the identity. Masks pass through.

>>> import numpy as np
>>> from rnnkit.layers import Dropout
>>> layer = Dropout(0.5, seed=0)
>>> bool((layer(np.ones((2, 3))).numpy() == 1).all())
True
>>> sorted(set(layer(np.ones((100,)), training=True).numpy().tolist()))
[0.0, 2.0]
"""
from __future__ import annotations

from rnnkit.autograd import Tensor
from rnnkit.errors import ShapeError
from rnnkit.layers.arguments import check_rate
from rnnkit.layers.base import Layer
from rnnkit.random import generator


class Dropout(Layer):
    """Inverted dropout (Keras ``Dropout``).

    Args:
        rate: fraction of inputs set to zero in training, in ``[0, 1)``.
        noise_shape: None, or the shape of the keep-mask, broadcast over the input (None entries take the
            input's size), e.g. ``(batch, 1, features)`` to drop the same features at every time step.
        seed: seed of the masks (None: from ``rnnkit.random``).

    >>> Dropout(0.2, noise_shape=(None, 1, 3)).get_config()["noise_shape"]
    [None, 1, 3]
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate(rate, "rate", "Dropout")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = generator(seed)

    def _check_same_features(self, shape):
        pass  # no weights: any shape is fine after the first call

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            if len(self.noise_shape) != len(shape):
                raise ShapeError(f"layer {self.name!r}: noise_shape {self.noise_shape} must have the input's rank "
                                 f"{len(shape)} (input shape {shape})")
            shape = tuple(s if n is None else n for n, s in zip(self.noise_shape, shape))
        keep = self._rng.random(shape) >= self.rate
        return inputs * Tensor(keep / (1.0 - self.rate), dtype=inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, noise_shape=None if self.noise_shape is None else list(self.noise_shape),
                      seed=self.seed)
        return config
