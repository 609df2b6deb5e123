"""Layer configs to and from JSON-able dicts, through a fixed table of known classes (no dynamic imports).

``serialize(layer)`` gives ``{"class_name": ..., "config": layer.get_config()}``; ``deserialize`` looks the
class name up in the table and calls ``from_config``. A saved model can therefore only ever create the layer
classes listed here (and those added with ``register``, such as ``Sequential``), and user-defined classes
registered with ``rnnkit.saving.register_keras_serializable`` (stored as ``"package>Name"``): opening a file runs
no code.

>>> from rnnkit.layers import LSTM, serialize, deserialize
>>> spec = serialize(LSTM(8, return_sequences=True, name="encoder"))
>>> spec["class_name"], spec["config"]["units"]
('LSTM', 8)
>>> layer = deserialize(spec)
>>> type(layer).__name__, layer.name, layer.return_sequences
('LSTM', 'encoder', True)
"""
from __future__ import annotations

from rnnkit.errors import ConfigError
from rnnkit.layers.attention import AdditiveAttention, Attention
from rnnkit.layers.base import Layer
from rnnkit.layers.batch_normalization import BatchNormalization
from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.cells import GRUCell, LSTMCell, SimpleRNNCell
from rnnkit.layers.conv import Conv1D, Conv2D
from rnnkit.layers.dense import Dense
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.embedding import Embedding
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
from rnnkit.layers.activation_layers import ELU, Activation, LeakyReLU, PReLU, ReLU, Softmax
from rnnkit.layers.input_layer import InputLayer
from rnnkit.layers.recurrent import RNN
from rnnkit.layers.reshaping import Flatten, Permute, Reshape
from rnnkit.layers.simple_rnn import SimpleRNN
from rnnkit.layers.stacked_cells import StackedRNNCells
from rnnkit.layers.spatial_dropout import SpatialDropout1D
from rnnkit.layers.text_vectorization import TextVectorization
from rnnkit.layers.time_distributed import RepeatVector, TimeDistributed

_TABLE: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Dense, Embedding, Dropout, Masking,  # core
        RNN, SimpleRNN, LSTM, GRU, Bidirectional, SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells,  # recurrent
        Conv1D, Conv2D, MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,  # convolution
        GlobalAveragePooling2D, GlobalMaxPooling2D, BatchNormalization, Reshape, Permute, Flatten,
        TextVectorization, GlobalAveragePooling1D, GlobalMaxPooling1D, SpatialDropout1D,  # text
        Normalization,  # forecasting
        Attention, AdditiveAttention, TimeDistributed, RepeatVector, Concatenate, Add, Dot, Multiply,  # seq2seq
        InputLayer,  # functional models' model.layers
        ReLU, LeakyReLU, ELU, PReLU, Softmax, Activation,  # activation layers
    )
}


def register(cls: type) -> type:
    """Add a Layer subclass (e.g. ``Sequential``) to the table under its class name; usable as a decorator."""
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ConfigError(f"register() expects a Layer subclass; got {cls!r}")
    _TABLE[cls.__name__] = cls
    return cls


def known_classes() -> list:
    """The class names ``deserialize`` accepts."""
    return sorted(_TABLE)


def serialize(layer: Layer) -> dict:
    """``{"class_name": ..., "config": ...}`` for a layer of a built-in or registered class (a user class under
    its ``"package>Name"``)."""
    from rnnkit.saving.object_registration import get_registered_name, get_registered_object

    cls = type(layer)
    name = get_registered_name(cls)
    if _TABLE.get(name) is not cls and get_registered_object(name) is not cls:
        raise ConfigError(
            f"cannot serialize layer {getattr(layer, 'name', layer)!r} of class {cls.__name__!r}: it is not "
            f"registered. Decorate the class with @rnnkit.saving.register_keras_serializable(package=\"my_package\") "
            f"(it then saves as \"my_package>{cls.__name__}\"); built-in classes: {known_classes()}")
    config = layer.get_config()
    if not isinstance(config, dict):
        raise ConfigError(f"{cls.__name__}.get_config() must return a dict; got {type(config).__name__}")
    return {"class_name": name, "config": config}


def deserialize(spec) -> Layer:
    """The layer described by ``spec`` (from :func:`serialize`); ConfigError for unknown or malformed specs."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise ConfigError(f"a layer spec must be a dict with a string 'class_name'; got {spec!r:.200}")
    from rnnkit.saving.object_registration import get_registered_object

    name = spec["class_name"]
    cls = _TABLE.get(name) or get_registered_object(name)
    if cls is None:
        if ">" in name:
            package, _, short = name.partition(">")
            raise ConfigError(
                f"unknown layer class {name!r}: a user-defined class registered when the model was saved. Before "
                f"loading, run (import) the code that defines it, decorated with "
                f"@rnnkit.saving.register_keras_serializable(package={package!r}"
                f"{'' if short.isidentifier() else f', name={short!r}'}), or pass "
                f"custom_objects={{{name!r}: {short}}} to rnnkit.saving.load_model")
        raise ConfigError(f"unknown layer class {name!r}; expected one of {known_classes()}, or a class registered "
                          "with rnnkit.saving.register_keras_serializable")
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ConfigError(f"the config of a {spec['class_name']} spec must be a dict; got {type(config).__name__}")
    try:
        return cls.from_config(config)
    except TypeError as error:
        raise ConfigError(f"bad config for {spec['class_name']}: {error}") from None
