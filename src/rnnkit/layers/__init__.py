"""Layers with Keras names, arguments and defaults, built lazily from the first input.

>>> import numpy as np
>>> from rnnkit import layers
>>> embed = layers.Embedding(20, 8, mask_zero=True)
>>> rnn = layers.Bidirectional(layers.GRU(6))
>>> rnn(embed(np.array([[4, 2, 7, 0, 0]]))).shape
(1, 12)
"""
from rnnkit.layers.base import Layer
from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.cells import GRUCell, LSTMCell, SimpleRNNCell
from rnnkit.layers.conv import Conv1D, Conv2D
from rnnkit.layers.dense import Dense
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.gru import GRU
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.masking import Masking
from rnnkit.layers.normalization import BatchNormalization
from rnnkit.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from rnnkit.layers.recurrent import RNN
from rnnkit.layers.reshaping import Flatten, Permute, Reshape
from rnnkit.layers.registry import deserialize, register, serialize
from rnnkit.layers.simple_rnn import SimpleRNN

__all__ = [
    "Layer", "Dense", "Embedding", "Dropout", "Masking", "RNN", "SimpleRNN", "LSTM", "GRU", "Bidirectional",
    "SimpleRNNCell", "LSTMCell", "GRUCell", "serialize", "deserialize", "register",
    "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "BatchNormalization", "Reshape", "Permute", "Flatten",
]


def __getattr__(name):
    # ``layers.Input`` lives with the functional models; imported lazily (and left out of __all__) to keep
    # layers below models.
    if name == "Input":
        from rnnkit.models.functional import Input

        return Input
    raise AttributeError(f"module 'rnnkit.layers' has no attribute {name!r}")
