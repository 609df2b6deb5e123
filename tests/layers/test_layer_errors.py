"""Bad input gives clear errors that name the value received and what was expected."""
import numpy as np
import pytest

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, SimpleRNN, deserialize, register


def test_wrong_rank():
    with pytest.raises(ShapeError, match=r"rank 3 \(batch, time, features\); got shape \(2, 3\) \(rank 2\)"):
        LSTM(3)(np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"rank 2 or 3.*got shape \(5,\)"):
        Dense(2)(np.ones(5))


def test_feature_size_changed_after_build():
    layer = GRU(3)
    layer(np.ones((2, 4, 5)))
    layer(np.ones((1, 9, 5)))  # other batch and length are fine
    with pytest.raises(ShapeError, match=r"built for inputs with last axis 5.*got shape \(2, 4, 6\)"):
        layer(np.ones((2, 4, 6)))


def test_mask_shape_mismatch():
    with pytest.raises(ShapeError, match=r"mask shape \(2, 3\) does not match the input's \(batch, time\) = \(2, 4\)"):
        SimpleRNN(2)(np.ones((2, 4, 1)), mask=np.ones((2, 3), bool))
    with pytest.raises(ShapeError, match="mask shape"):
        Bidirectional(LSTM(2))(np.ones((2, 4, 1)), mask=np.ones((4, 2), bool))


def test_set_weights_wrong_shapes_and_count():
    layer = LSTM(2)
    layer(np.ones((1, 3, 4)))
    with pytest.raises(ShapeError, match=r"expects 3 weight arrays with shapes \[\(4, 8\), \(2, 8\), \(8,\)\]; "
                                         r"got 3 with shapes \[\(4, 8\), \(2, 8\), \(4,\)\]"):
        layer.set_weights([np.zeros((4, 8)), np.zeros((2, 8)), np.zeros(4)])
    with pytest.raises(ShapeError, match="got 2"):
        layer.set_weights(layer.get_weights()[:2])
    with pytest.raises(ShapeError, match="not built yet"):
        GRU(2).set_weights([np.zeros((1, 6))])


def test_unknown_activation_names():
    with pytest.raises(ConfigError, match=r"activation='swish'.*'tanh'"):
        LSTM(2, activation="swish")
    with pytest.raises(ConfigError, match=r"recurrent_activation='softmax'"):
        GRU(2, recurrent_activation="softmax")
    with pytest.raises(ConfigError, match="unknown activation 'bogus'"):
        Dense(2, activation="bogus")


def test_bad_arguments():
    with pytest.raises(ConfigError, match=r"recurrent_dropout must be a number in \[0, 1\); got 1.2"):
        LSTM(2, recurrent_dropout=1.2)
    LSTM(2, recurrent_dropout=0.0, unroll=True)  # accepted
    with pytest.raises(ConfigError, match=r"units must be a positive integer; got 0"):
        SimpleRNN(0)
    with pytest.raises(ConfigError, match=r"dropout must be a number in \[0, 1\); got 1.5"):
        GRU(2, dropout=1.5)
    with pytest.raises(ConfigError, match=r"rate must be a number in \[0, 1\); got 1"):
        Dropout(1)
    with pytest.raises(ConfigError, match=r"unexpected keyword argument\(s\) \['foo'\]"):
        LSTM(2, foo=1)
    with pytest.raises(ConfigError, match="unknown initializer 'glorot'"):
        Dense(2, kernel_initializer="glorot")


def test_bad_initial_state():
    layer = LSTM(3)
    with pytest.raises(ShapeError, match=r"expects 2 initial state\(s\) \(h, c\); got 1"):
        layer(np.ones((2, 4, 1)), initial_state=[np.zeros((2, 3))])
    with pytest.raises(ShapeError, match=r"initial state 'c' has shape \(2, 4\); expected \(batch, units\) = \(2, 3\)"):
        layer(np.ones((2, 4, 1)), initial_state=[np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ConfigError, match="even number"):
        Bidirectional(GRU(2))(np.ones((1, 2, 1)), initial_state=[np.zeros((1, 2))] * 3)


def test_bidirectional_arguments():
    with pytest.raises(ConfigError, match="expects a recurrent layer .* got Dense"):
        Bidirectional(Dense(2))
    with pytest.raises(ConfigError, match="unknown merge_mode 'max'"):
        Bidirectional(LSTM(2), merge_mode="max")


def test_registry_rejects_unknown_and_malformed_specs():
    with pytest.raises(ConfigError, match=r"unknown layer class 'Lambda'; expected one of \[.*'LSTM'"):
        deserialize({"class_name": "Lambda", "config": {}})
    with pytest.raises(ConfigError, match="must be a dict with a string 'class_name'"):
        deserialize(["LSTM"])
    with pytest.raises(ConfigError, match="config of a LSTM spec must be a dict; got list"):
        deserialize({"class_name": "LSTM", "config": [3]})
    with pytest.raises(ConfigError, match="bad config for LSTM"):
        deserialize({"class_name": "LSTM", "config": {}})  # units missing
    with pytest.raises(ConfigError, match="unexpected keyword"):
        deserialize({"class_name": "Dense", "config": {"units": 2, "exec": "print(1)"}})
    with pytest.raises(ConfigError, match="expects a Layer subclass"):
        register(dict)
