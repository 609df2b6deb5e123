"""TimeDistributed and RepeatVector: the two reshaping layers of Keras encoder-decoder programs.

``TimeDistributed(layer)`` applies ``layer`` to every time step of a ``(B, T, ...)`` input, with the same
weights: the batch and time axes are folded into one ``(B*T, ...)`` batch, the layer runs once, and the result
is unfolded to ``(B, T, ...)`` (what Keras' per-step loop computes, in one call). The input mask passes
through. ``RepeatVector(n)`` turns ``(B, D)`` into ``(B, n, D)``: an encoder's summary fed to every decoder step.

>>> import numpy as np
>>> from rnnkit.layers import Dense, RepeatVector, TimeDistributed
>>> sequence = RepeatVector(4)(np.ones((2, 3)))
>>> sequence.shape, TimeDistributed(Dense(5))(sequence).shape
((2, 4, 3), (2, 4, 5))
"""
from __future__ import annotations

import numbers

import numpy as np  # noqa: F401  (the doctests use it)

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers.base import Layer
from rnnkit.ops import concat, expand_dims, reshape


class TimeDistributed(Layer):
    """Apply ``layer`` to each time step of ``(B, T, ...)`` (Keras ``TimeDistributed``).

    Args:
        layer: a layer without recurrence over the batch (``Dense``, ``Dropout``, a ``Sequential`` of such).

    Weights: those of ``layer``. Shapes: ``(B, T, ...)`` -> ``(B, T, ...layer's output)``; the mask passes.

    >>> from rnnkit.layers import Dense
    >>> wrapper = TimeDistributed(Dense(2))
    >>> _ = wrapper(np.ones((3, 4, 6))); [w.shape for w in wrapper.weights]
    [(6, 2), (2,)]
    """

    cast_integer_inputs = False  # integer ids stay integers (see Layer.cast_integer_inputs)

    supports_masking = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ConfigError(f"TimeDistributed expects a Layer; got {type(layer).__name__}")
        kwargs.setdefault("dtype", layer.dtype)
        super().__init__(**kwargs)
        self.layer = layer

    def _check_rank(self, shape):
        if len(shape) < 3:
            raise ShapeError(f"layer {self.name!r} (TimeDistributed) expects input of rank >= 3 (batch, time, ...); "
                             f"got shape {shape} (rank {len(shape)})")

    def _check_same_features(self, shape):
        self._check_rank(shape)

    def call(self, inputs, training=False):
        batch, steps = inputs.shape[:2]
        folded = reshape(inputs, (batch * steps, *inputs.shape[2:]))  # (B, T, ...) -> (B*T, ...)
        output = self.layer(folded, training=training)
        if isinstance(output, (list, tuple)):
            raise ConfigError(f"layer {self.name!r}: TimeDistributed needs a layer with one output; "
                              f"{self.layer.name!r} returned {len(output)}")
        return reshape(output, (batch, steps, *output.shape[1:]))  # (B*T, ...) -> (B, T, ...)

    def get_config(self):
        from rnnkit.layers.registry import serialize

        config = super().get_config()
        config["layer"] = serialize(self.layer)
        return config

    @classmethod
    def from_config(cls, config):
        from rnnkit.layers.registry import deserialize

        config = dict(config)
        if "layer" not in config:
            raise ConfigError("TimeDistributed config needs a 'layer' entry ({'class_name', 'config'}); got none")
        return cls(deserialize(config.pop("layer")), **config)


class RepeatVector(Layer):
    """Repeat a ``(B, D)`` input ``n`` times: ``(B, n, D)`` (Keras ``RepeatVector``).

    >>> RepeatVector(3)(np.arange(2.0)[None]).numpy().tolist()
    [[[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]]
    """

    input_ndim = (2,)

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0:
            raise ConfigError(f"RepeatVector: n must be a positive integer; got {n!r}")
        self.n = int(n)

    def _check_same_features(self, shape):
        self._check_rank(shape)

    def call(self, inputs):
        step = expand_dims(inputs, 1)  # (B, 1, D)
        return concat([step] * self.n, axis=1)  # (B, n, D)

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config
