"""InputLayer: the layer Keras lists for each ``Input`` of a functional model (``model.layers[0]`` ...).

It computes nothing: its ``output`` (and ``input``) is the ``Input`` placeholder it stands for, so
``model.layers[k]`` picks the same layer in rnnkit as in Keras, and ``Model(model.input, layer.output)`` works
for an input layer too. Functional models make one per ``Input``; saving does not store them (the model's
config lists its inputs).

>>> from rnnkit.models import Input
>>> x = Input((5, 3), name="frames")
>>> layer = x.input_layer
>>> type(layer).__name__, layer.name, layer.batch_shape, layer.output is x
('InputLayer', 'frames', (None, 5, 3), True)
"""
from __future__ import annotations

import numpy as np

from rnnkit.layers.base import Layer


class InputLayer(Layer):
    """Keras' ``InputLayer``: the entry point of a functional model, one per ``Input``.

    Args:
        shape: per-sample shape (no batch axis), or ``batch_shape`` with it.
        batch_size: optional fixed batch size.
        dtype: the input's dtype (default float32).
        name: the input's name.
    """

    cast_integer_inputs = False  # passes its input through unchanged

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, **kwargs):
        kwargs.pop("sparse", None)
        kwargs.pop("ragged", None)
        super().__init__(name=name, **kwargs)
        if batch_shape is None:
            batch_shape = (batch_size,) + tuple(shape or ())
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.input_dtype = np.dtype(str) if dtype in ("string", "str", str) else np.dtype(dtype or "float32")
        self.input_shape_arg = self.batch_shape[1:]
        self._placeholder = None
        self.built = True

    @property
    def output(self):
        if self._placeholder is None:
            from rnnkit.models.functional import Input

            self._placeholder = Input(self.batch_shape[1:], batch_size=self.batch_shape[0], dtype=self.input_dtype,
                                      name=self.name)
            self._placeholder.input_layer = self
        return self._placeholder

    @property
    def input(self):
        return self.output

    def call(self, inputs):
        return inputs

    def get_config(self) -> dict:
        return {"name": self.name, "batch_shape": list(self.batch_shape),
                "dtype": "string" if self.input_dtype.kind == "U" else self.input_dtype.name}
