"""Embedding: integer token ids -> rows of a learned ``(input_dim, output_dim)`` table (Keras ``Embedding``).

With ``mask_zero=True`` id 0 is padding: the output carries the mask ``ids != 0``, which recurrent layers
and ``Bidirectional`` use to skip padded steps.

>>> import numpy as np
>>> from rnnkit.layers import Embedding
>>> layer = Embedding(10, 4, mask_zero=True)
>>> y = layer(np.array([[3, 5, 0]]))
>>> y.shape, y._keras_mask
((1, 3, 4), array([[ True,  True, False]]))
"""
from __future__ import annotations

import numpy as np

from rnnkit.errors import DataError
from rnnkit.layers.arguments import check_units, initializer_config
from rnnkit.layers.base import Layer
from rnnkit.ops import take


class Embedding(Layer):
    """Look up one ``output_dim`` vector per integer id.

    Args:
        input_dim: vocabulary size; ids must lie in ``[0, input_dim)``.
        output_dim: size of each vector.
        embeddings_initializer: ``"uniform"`` (RandomUniform(-0.05, 0.05), as Keras).
        mask_zero: False; True makes id 0 a padding value that is masked downstream.
        input_length: accepted for Keras compatibility (sequence length is read from the input).

    Weights: ``embeddings (input_dim, output_dim)``. Shapes: ``(B, T)`` ints -> ``(B, T, output_dim)``.

    >>> layer = Embedding(50, 3)
    >>> layer(np.array([[7, 7]])).numpy()[0, 0].tolist() == layer.get_weights()[0][7].tolist()
    True
    """

    cast_integer_inputs = False  # integer ids stay integers (see Layer.cast_integer_inputs)

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False, input_length=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.input_dim = check_units(input_dim, "input_dim", "Embedding")
        self.output_dim = check_units(output_dim, "output_dim", "Embedding")
        self.embeddings_initializer = initializer_config(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.input_length = input_length
        self.embeddings = None

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer)

    def _check_same_features(self, shape):
        self._check_rank(shape)  # the last axis is time, which may change from call to call

    def _ids(self, inputs) -> np.ndarray:
        ids = np.asarray(inputs.data)
        if ids.dtype.kind == "f":
            if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
                raise DataError(f"layer {self.name!r}: Embedding expects integer ids; got non-integer values")
            ids = ids.astype(np.int64)
        elif ids.dtype.kind not in "iu":
            raise DataError(f"layer {self.name!r}: Embedding expects integer ids; got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            bad = ids.max() if ids.max() >= self.input_dim else ids.min()
            raise DataError(
                f"layer {self.name!r}: Embedding id {int(bad)} is out of range; expected ids in "
                f"[0, input_dim={self.input_dim})"
            )
        return ids

    def call(self, inputs):
        return take(self.embeddings, self._ids(inputs))  # (B, T) -> (B, T, output_dim)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return np.asarray(inputs.data) != 0  # (B, T) True where a real token is

    def get_config(self):
        config = super().get_config()
        config.update(input_dim=self.input_dim, output_dim=self.output_dim,
                      embeddings_initializer=self.embeddings_initializer, mask_zero=self.mask_zero,
                      input_length=self.input_length)
        return config
