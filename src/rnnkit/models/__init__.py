"""Models: ``Sequential``, the functional ``Model(inputs, outputs)`` with ``Input``, subclassed ``Model``;
compile / fit / evaluate / predict, ``summary``, and ``save`` / ``load_model``.

>>> import numpy as np
>>> from rnnkit.layers import Dense, SimpleRNN
>>> from rnnkit.models import Sequential
>>> model = Sequential([SimpleRNN(8, input_shape=(5, 3)), Dense(2, activation="softmax")])
>>> model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
>>> history = model.fit(np.zeros((4, 5, 3)), np.eye(2)[[0, 1, 0, 1]], epochs=2, verbose=0)
>>> sorted(history.history)
['accuracy', 'loss']
"""
from rnnkit.layers.registry import register
from rnnkit.models.functional import Functional, Input, SymbolicTensor
from rnnkit.models.model import Model
from rnnkit.models.saving import load_model
from rnnkit.models.sequential import Sequential

register(Sequential)
register(Functional)

__all__ = ["Functional", "Input", "Model", "Sequential", "SymbolicTensor", "load_model"]
