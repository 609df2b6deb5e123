"""Layers with Keras names, arguments and defaults, built lazily from the first input.

>>> import numpy as np
>>> from rnnkit import layers
>>> embed = layers.Embedding(20, 8, mask_zero=True)
>>> rnn = layers.Bidirectional(layers.GRU(6))
>>> rnn(embed(np.array([[4, 2, 7, 0, 0]]))).shape
(1, 12)
"""
from rnnkit.layers.activation_layers import ELU, Activation, LeakyReLU, PReLU, ReLU, Softmax
from rnnkit.layers.attention import AdditiveAttention, Attention
from rnnkit.layers.base import Layer
from rnnkit.layers.batch_normalization import BatchNormalization
from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.cells import GRUCell, LSTMCell, SimpleRNNCell
from rnnkit.layers.conv import Conv1D, Conv2D
from rnnkit.layers.dense import Dense
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.input_layer import InputLayer
from rnnkit.layers.global_pooling1d import GlobalAveragePooling1D, GlobalMaxPooling1D
from rnnkit.layers.gru import GRU
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.masking import Masking
from rnnkit.layers.merging import Add, Concatenate, Dot, Multiply
from rnnkit.layers.normalization import Normalization
from rnnkit.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from rnnkit.layers.recurrent import RNN
from rnnkit.layers.registry import deserialize, register, serialize
from rnnkit.layers.reshaping import Flatten, Permute, Reshape
from rnnkit.layers.simple_rnn import SimpleRNN
from rnnkit.layers.stacked_cells import StackedRNNCells
from rnnkit.layers.spatial_dropout import SpatialDropout1D
from rnnkit.layers.text_vectorization import TextVectorization
from rnnkit.layers.time_distributed import RepeatVector, TimeDistributed

__all__ = [
    "Layer", "Dense", "Embedding", "Dropout", "Masking", "Normalization", "RNN", "SimpleRNN", "LSTM", "GRU",
    "Bidirectional", "SimpleRNNCell", "LSTMCell", "GRUCell", "serialize", "deserialize", "register",
    "TextVectorization",
    "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "BatchNormalization", "Reshape", "Permute", "Flatten",
    "Attention", "AdditiveAttention", "TimeDistributed", "RepeatVector", "Concatenate", "Add", "Dot", "Multiply",
    "GlobalAveragePooling1D", "GlobalMaxPooling1D", "SpatialDropout1D",
    "InputLayer", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "Activation", "StackedRNNCells",
]


def __getattr__(name):
    # ``layers.Input`` lives with the functional models; imported lazily (and left out of __all__) to keep
    # layers below models.
    if name == "Input":
        from rnnkit.models.functional import Input

        return Input
    raise AttributeError(f"module 'rnnkit.layers' has no attribute {name!r}")
