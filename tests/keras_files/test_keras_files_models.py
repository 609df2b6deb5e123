"""Keras 3 files both ways, against Keras itself: models built in Keras -> ``.keras`` -> rnnkit predict the same
(float32, 1e-5 relative), and rnnkit -> ``.keras`` -> ``keras.models.load_model`` predicts the same too."""
import os
import warnings

import numpy as np
import pytest

import keras  # KERAS_BACKEND=torch from conftest
from keras import layers as K

import rnnkit.models as rm

# Keras 3.15's torch backend calls np.array(x, copy=False) on its tensors; NumPy 2 warns on every call
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

RTOL, ATOL = 1e-5, 1e-6


def _randomize(model, seed=0):
    """Random weights (biases included, so that every bias layout is checked); variances positive."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.normal(0.0, 0.5, size=tuple(w.shape))
        if "variance" in w.path:
            value = np.abs(value) + 0.5
        w.assign(value.astype(w.dtype))
    return model


def _masked_floats(shape, seed=1):
    x = np.random.default_rng(seed).normal(size=shape).astype("float32")
    x[0, -2:] = 0.0  # trailing padding, masked by Masking
    x[1, :1] = 0.0  # leading padding
    return x


def _tokens(shape, vocab=12, seed=2):
    x = np.random.default_rng(seed).integers(1, vocab, size=shape)
    x[0, -2:] = 0
    x[-1, -1:] = 0
    return x.astype("int32")


def _seq(*layers, name=None):
    return keras.Sequential(list(layers), name=name)


def _bidirectional_stack(mode):
    return _seq(K.Input((6, 3)), K.Masking(),
                K.Bidirectional(K.LSTM(4, return_sequences=True), merge_mode=mode),
                K.Bidirectional(K.GRU(3), merge_mode=mode), K.Dense(2))


def _encoder_decoder():
    source, target = keras.Input((5, 3), name="source"), keras.Input((4, 2), name="target")
    _, h, c = K.LSTM(6, return_state=True)(K.Masking()(source))
    decoded = K.LSTM(6, return_sequences=True)(target, initial_state=[h, c])
    return keras.Model([source, target], K.TimeDistributed(K.Dense(3, activation="softmax"))(decoded))


def _bidirectional_states():
    inputs = keras.Input((5, 3))
    sequence, fh, fc, bh, bc = K.Bidirectional(K.LSTM(3, return_sequences=True, return_state=True))(inputs)
    summary = K.Concatenate()([fh, fc, bh, bc])
    return keras.Model(inputs, [K.GlobalAveragePooling1D()(sequence), K.Dense(2)(summary)])


def _merge_none():
    inputs = keras.Input((5, 3))
    forward, backward = K.Bidirectional(K.SimpleRNN(3, return_sequences=True), merge_mode=None)(inputs)
    return keras.Model(inputs, K.Add()([forward, K.Multiply()([forward, backward])]))


def _attention():
    query, value = keras.Input((4, 5)), keras.Input((6, 5))
    q = K.GRU(5, return_sequences=True, reset_after=False)(query)
    v = K.LSTM(5, return_sequences=True)(value)
    context = K.Attention(use_scale=True)([q, v])
    additive = K.AdditiveAttention()([q, v])
    scores = K.Dot(axes=(2, 2))([context, additive])
    return keras.Model([query, value], [K.Concatenate()([context, additive]), scores])


def _masked_merges():
    """Masks from Embedding through merging layers and attention (Keras passes them as explicit mask= links)."""
    tokens = keras.Input((6,), dtype="int32")
    embedded = K.Embedding(12, 4, mask_zero=True)(tokens)
    first = K.LSTM(4, return_sequences=True)(embedded)
    second = K.GRU(4, return_sequences=True)(embedded)
    attended = K.Attention()([first, second])
    merged = K.Add()([attended, first])
    return keras.Model(tokens, [K.LSTM(2)(merged), K.GlobalAveragePooling1D()(K.Concatenate()([attended, second]))])


def _nested_models():
    """A Sequential model used twice as a layer, and a functional one, inside a functional model."""
    inner = keras.Sequential([K.Input((5, 3)), K.LSTM(4), K.Dense(2)], name="inner")
    head_input = keras.Input((2,))
    head = keras.Model(head_input, K.Dense(1)(head_input), name="head")
    a, b = keras.Input((5, 3)), keras.Input((5, 3))
    return keras.Model([a, b], head(K.Add()([inner(a), inner(b)])))


def _shared_layer():
    a, b = keras.Input((5, 3)), keras.Input((5, 3))
    shared = K.GRU(4)
    return keras.Model([a, b], K.Dense(1)(K.Concatenate()([shared(a), shared(b)])))


def _normalization_adapted():
    layer = K.Normalization()
    layer.adapt(np.random.default_rng(3).normal(2.0, 3.0, size=(20, 6, 3)).astype("float32"))
    return _seq(K.Input((6, 3)), layer, K.SimpleRNN(4), K.Dense(1))


# name -> (builder, inputs); every layer and option that converts, most used in RNN programs first
CASES = {
    "embedding_mask_simple_rnn": (lambda: _seq(K.Input((6,), dtype="int32"), K.Embedding(12, 4, mask_zero=True),
                                               K.SimpleRNN(5), K.Dropout(0.3), K.Dense(3, activation="softmax")),
                                  lambda: _tokens((3, 6))),
    "masking_lstm_stack_go_backwards": (lambda: _seq(K.Input((6, 3)), K.Masking(),
                                                     K.LSTM(5, return_sequences=True),
                                                     K.LSTM(4, go_backwards=True, use_bias=False), K.Dense(2)),
                                        lambda: _masked_floats((3, 6, 3))),
    "gru_reset_after_true_and_false": (lambda: _seq(K.Input((6, 3)), K.GRU(4, return_sequences=True),
                                                    K.GRU(3, reset_after=False, activation="relu"),
                                                    K.Dense(1, activation="sigmoid")),
                                       lambda: _masked_floats((3, 6, 3))),
    "masked_sequence_outputs": (lambda: _seq(K.Input((6, 3)), K.Masking(), K.GRU(3, return_sequences=True),
                                             K.LSTM(2, return_sequences=True, go_backwards=True),
                                             K.SimpleRNN(2, return_sequences=True, zero_output_for_mask=True)),
                                lambda: _masked_floats((3, 6, 3))),
    "masked_sequence_output_go_backwards": (lambda: _seq(K.Input((6,), dtype="int32"),
                                                         K.Embedding(12, 3, mask_zero=True),
                                                         K.LSTM(2, return_sequences=True, go_backwards=True)),
                                            lambda: _tokens((3, 6))),
    "stateful_lstm": (lambda: _seq(K.Input((5, 2), batch_size=3), K.LSTM(3, stateful=True),
                                   K.Dropout(0.2, noise_shape=(None, 1)), K.Dense(1)),
                      lambda: np.random.default_rng(17).normal(size=(3, 5, 2)).astype("float32")),
    "causal_dilated_conv_activations": (lambda: _seq(K.Input((6, 8)), K.Conv1D(4, 3, dilation_rate=2,
                                                                                padding="causal"),
                                                     K.LSTM(3, activation="relu", recurrent_activation="hard_sigmoid"),
                                                     K.Dense(2, use_bias=False)),
                                        lambda: np.random.default_rng(18).normal(size=(2, 6, 8)).astype("float32")),
    "gru_no_bias_masked": (lambda: _seq(K.Input((6,), dtype="int32"), K.Embedding(12, 3, mask_zero=True),
                                        K.GRU(4, use_bias=False, return_sequences=True),
                                        K.GRU(3, reset_after=False, use_bias=False), K.Dense(2)),
                           lambda: _tokens((3, 6))),
    "bidirectional_concat": (lambda: _bidirectional_stack("concat"), lambda: _masked_floats((3, 6, 3))),
    "bidirectional_sum": (lambda: _bidirectional_stack("sum"), lambda: _masked_floats((3, 6, 3))),
    "bidirectional_mul": (lambda: _bidirectional_stack("mul"), lambda: _masked_floats((3, 6, 3))),
    "bidirectional_ave": (lambda: _bidirectional_stack("ave"), lambda: _masked_floats((3, 6, 3))),
    "bidirectional_merge_none": (_merge_none, lambda: _masked_floats((3, 5, 3))),
    "bidirectional_return_state": (_bidirectional_states, lambda: _masked_floats((3, 5, 3))),
    "encoder_decoder_initial_state": (_encoder_decoder,
                                      lambda: [_masked_floats((3, 5, 3)), _masked_floats((3, 4, 2), 4)]),
    "masked_merges_and_attention": (_masked_merges, lambda: _tokens((3, 6))),
    "nested_models": (_nested_models, lambda: [_masked_floats((3, 5, 3)), _masked_floats((3, 5, 3), 19)]),
    "sequential_in_sequential": (lambda: _seq(K.Input((5, 3)), _seq(K.GRU(3), K.Dense(2), name="body"),
                                              K.Dense(1)),
                                 lambda: _masked_floats((3, 5, 3))),
    "shared_layer": (_shared_layer, lambda: [_masked_floats((3, 5, 3)), _masked_floats((3, 5, 3), 5)]),
    "rnn_of_cell_time_distributed": (lambda: _seq(K.Input((6, 3)), K.RNN(K.LSTMCell(4), return_sequences=True),
                                                  K.TimeDistributed(K.Dense(2)), K.Flatten(), K.Dense(1)),
                                     lambda: _masked_floats((3, 6, 3))),
    "repeat_vector_reshape_permute": (lambda: _seq(K.Input((4,)), K.Dense(6), K.RepeatVector(3),
                                                   K.Reshape((3, 3, 2)), K.Permute((2, 1, 3)), K.Reshape((3, 6)),
                                                   K.SimpleRNN(2)),
                                      lambda: np.random.default_rng(6).normal(size=(3, 4)).astype("float32")),
    "attention_dot": (_attention, lambda: [_masked_floats((3, 4, 5)), _masked_floats((3, 6, 5), 7)]),
    "conv1d_pooling_batchnorm": (lambda: _seq(K.Input((12, 3)), K.Conv1D(4, 3, padding="same", activation="relu"),
                                              K.BatchNormalization(), K.MaxPooling1D(2), K.SpatialDropout1D(0.2),
                                              K.Conv1D(5, 2, strides=2), K.AveragePooling1D(2, padding="same"),
                                              K.LSTM(3, return_sequences=True), K.GlobalMaxPooling1D(), K.Dense(2)),
                                 lambda: np.random.default_rng(8).normal(size=(3, 12, 3)).astype("float32")),
    "conv2d_crnn": (lambda: _seq(K.Input((8, 10, 1)), K.Conv2D(3, (3, 3), padding="same", activation="relu"),
                                 K.MaxPooling2D((2, 2)), K.AveragePooling2D((1, 2)), K.Permute((2, 1, 3)),
                                 K.Reshape((2, 12)), K.GRU(4, return_sequences=True), K.GlobalAveragePooling1D(),
                                 K.Dense(2)),
                    lambda: np.random.default_rng(9).normal(size=(2, 8, 10, 1)).astype("float32")),
    "global_pooling_2d": (lambda: _seq(K.Input((6, 6, 2)), K.Conv2D(3, 2), K.GlobalMaxPooling2D()),
                          lambda: np.random.default_rng(10).normal(size=(2, 6, 6, 2)).astype("float32")),
    "normalization_adapted": (_normalization_adapted,
                              lambda: np.random.default_rng(11).normal(size=(3, 6, 3)).astype("float32")),
    "normalization_given": (lambda: _seq(K.Input((5, 2)), K.Normalization(mean=[1.0, 2.0], variance=[4.0, 0.5]),
                                         K.LSTM(3)),
                            lambda: np.random.default_rng(12).normal(size=(3, 5, 2)).astype("float32")),
}


def _predict(model, inputs):
    out = model.predict(inputs, verbose=0)
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


def _assert_same(a, b):
    """Equal to 1e-5 relative, the absolute floor scaled by the output's magnitude (float32 sums of a few hundred
    terms differ by ~1e-7 of their size between two correct implementations)."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=RTOL, atol=max(ATOL, RTOL * float(np.abs(y).max(initial=0.0))))


@pytest.mark.parametrize("case", sorted(CASES))
def test_keras_to_rnnkit_to_keras(case, tmp_path):
    build, make_inputs = CASES[case]
    keras_model = _randomize(build())
    inputs = make_inputs()
    expected = _predict(keras_model, inputs)
    keras_model.save(tmp_path / "k.keras")

    model = rm.load_model(tmp_path / "k.keras")
    assert all(w.dtype == np.float32 for w in model.weights)
    _assert_same(_predict(model, inputs), expected)

    model.save(tmp_path / "r.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = keras.models.load_model(tmp_path / "r.keras")
    _assert_same(_predict(again, inputs), expected)
    for a, b in zip(again.weights, keras_model.weights):  # same weights in the same places
        assert a.path.split("/")[-1] == b.path.split("/")[-1]
        np.testing.assert_array_equal(np.asarray(a.numpy()), np.asarray(b.numpy()))


def _rnnkit_models():
    from rnnkit import layers as L
    from rnnkit.models import Input, Model, Sequential

    tokens = Input((6,), dtype="int32")
    embedded = L.Embedding(12, 4, mask_zero=True)(tokens)
    sequence, h, c = L.LSTM(5, return_sequences=True, return_state=True)(embedded)
    backward = L.Bidirectional(L.GRU(3, reset_after=False), merge_mode="ave")(sequence)
    functional = Model(tokens, [L.Dense(2)(L.Concatenate()([backward, h, c])), L.Dense(1)(h)])
    body = Sequential([L.GRU(3, reset_after=False), L.Dense(2)], name="body")
    left, right = Input((5, 3)), Input((5, 3))
    head_input = Input((2,))
    head = Model(head_input, L.Dense(1)(head_input), name="head")
    nested = Model([left, right], head(L.Add()([body(left), body(right)])))
    return {
        "nested": (nested, [_masked_floats((3, 5, 3)), _masked_floats((3, 5, 3), 20)]),
        "sequential": (Sequential([L.Masking(input_shape=(6, 3)), L.SimpleRNN(4, return_sequences=True),
                                   L.GRU(3, go_backwards=True), L.Dense(2, activation="softmax")]),
                       _masked_floats((3, 6, 3))),
        "functional": (functional, _tokens((3, 6))),
    }


@pytest.mark.parametrize("which", ["sequential", "functional", "nested"])
def test_rnnkit_to_keras_to_rnnkit(which, tmp_path):
    model, inputs = _rnnkit_models()[which]
    rng = np.random.default_rng(13)
    model.set_weights([rng.normal(0, 0.5, size=w.shape) for w in model.weights])
    expected = _predict(model, inputs)
    model.save(tmp_path / "r.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_model = keras.models.load_model(tmp_path / "r.keras")
    _assert_same(_predict(keras_model, inputs), expected)
    keras_model.save(tmp_path / "k.keras")
    back = rm.load_model(tmp_path / "k.keras")
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    _assert_same(_predict(back, inputs), expected)


def test_float64_model_records_its_dtype_policy(tmp_path):
    from rnnkit import layers as L
    from rnnkit.models import Sequential

    model = Sequential([L.LSTM(3, input_shape=(4, 2), dtype="float64"), L.Dense(2, dtype="float64")])
    x = np.random.default_rng(14).normal(size=(2, 4, 2))
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_model = keras.models.load_model(tmp_path / "m.keras")
    assert [layer.dtype_policy.name for layer in keras_model.layers] == ["float64", "float64"]
    assert all(w.dtype == "float64" for w in keras_model.weights)
    # Keras' float64 LSTM differs from the exact result by ~1e-9
    np.testing.assert_allclose(keras_model.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-8)
    keras_model.save(tmp_path / "k.keras")
    back = rm.load_model(tmp_path / "k.keras")
    assert back.dtype == "float64" and all(w.dtype == np.float64 for w in back.weights)
    for a, b in zip(back.get_weights(), model.get_weights()):
        assert a.tobytes() == b.tobytes()


def test_compiled_model_keeps_optimizer_settings_loss_and_metrics(tmp_path):
    keras_model = _seq(K.Input((5, 3)), K.SimpleRNN(4), K.Dense(3))
    keras_model.compile(keras.optimizers.Adam(learning_rate=0.003, beta_1=0.8),
                        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=["accuracy", keras.metrics.SparseCategoricalAccuracy(name="acc2")])
    _randomize(keras_model)
    x = np.random.default_rng(15).normal(size=(8, 5, 3)).astype("float32")
    y = np.arange(8) % 3
    keras_logs = keras_model.evaluate(x, y, verbose=0, return_dict=True)
    keras_model.save(tmp_path / "k.keras")
    model = rm.load_model(tmp_path / "k.keras")
    assert type(model.optimizer).__name__ == "Adam"
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(0.003)
    assert model.optimizer.get_config()["beta_1"] == pytest.approx(0.8)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy", "acc2"}
    for key in logs:  # from_logits kept: the same loss
        assert logs[key] == pytest.approx(keras_logs[key], rel=1e-5)

    model.save(tmp_path / "r.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = keras.models.load_model(tmp_path / "r.keras")
    assert type(again.optimizer).__name__ == "Adam"
    assert float(again.optimizer.learning_rate) == pytest.approx(0.003)
    assert float(again.optimizer.beta_1) == pytest.approx(0.8)
    again_logs = again.evaluate(x, y, verbose=0, return_dict=True)
    for key in logs:
        assert again_logs[key] == pytest.approx(logs[key], rel=1e-5)


def test_seed_program_model_survives_rnnkit_keras_rnnkit_bit_for_bit(tmp_path):
    """The seed program (examples/keras_seed_mnist.py: SimpleRNN on MNIST rows), trained a few steps in rnnkit,
    -> .keras -> Keras (load, save) -> .keras -> rnnkit: every weight bit for bit."""
    from rnnkit import layers as L
    from rnnkit.datasets import mnist_sample
    from rnnkit.models import Sequential
    from rnnkit.utils import to_categorical

    (x, y), _ = mnist_sample.load_data()
    x = x[:256].reshape(-1, 28, 28) / 255.0
    y = to_categorical(y[:256])
    model = Sequential()
    model.add(L.SimpleRNN(units=32, input_shape=(28, 28)))
    model.add(L.Dense(units=10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)  # 4 steps
    model.save(tmp_path / "trained.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_model = keras.models.load_model(tmp_path / "trained.keras")
    keras_model.save(tmp_path / "from_keras.keras")
    back = rm.load_model(tmp_path / "from_keras.keras")
    for a, b in zip(back.get_weights(), model.get_weights()):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    np.testing.assert_allclose(keras_model.predict(x[:16], verbose=0), model.predict(x[:16], verbose=0),
                               rtol=RTOL, atol=ATOL)


def test_keras_weights_h5_both_ways(tmp_path):
    keras_model = _randomize(_bidirectional_stack("concat"))
    keras_model.save_weights(tmp_path / "k.weights.h5")
    model = rm.load_model(_save(keras_model, tmp_path / "arch.keras"))
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.load_weights(tmp_path / "k.weights.h5")
    x = _masked_floats((3, 6, 3))
    _assert_same(_predict(model, x), _predict(keras_model, x))

    model.save_weights(tmp_path / "r.weights.h5")
    with open(tmp_path / "r.weights.h5", "rb") as f:
        assert f.read(8) == b"\x89HDF\r\n\x1a\n"  # HDF5, never a zip
    fresh = _randomize(_bidirectional_stack("concat"), seed=5)
    fresh.load_weights(tmp_path / "r.weights.h5")
    _assert_same(_predict(fresh, x), _predict(keras_model, x))
    model.load_weights(tmp_path / "arch.keras")  # the weights inside a .keras file, as Keras allows
    _assert_same(_predict(model, x), _predict(keras_model, x))


def _save(keras_model, path):
    keras_model.save(path)
    return path


def test_model_checkpoint_weights_h5(tmp_path):
    from rnnkit import layers as L
    from rnnkit.callbacks import ModelCheckpoint
    from rnnkit.errors import ConfigError
    from rnnkit.models import Sequential

    model = Sequential([L.LSTM(3, input_shape=(4, 2)), L.Dense(1)])
    model.compile("adam", "mse")
    x = np.random.default_rng(16).normal(size=(8, 4, 2)).astype("float32")
    pattern = str(tmp_path / "ckpt-{epoch:02d}.weights.h5")
    model.fit(x, x[:, 0, :1], epochs=2, verbose=0, callbacks=[ModelCheckpoint(pattern, save_weights_only=True,
                                                                              monitor="loss")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin = keras.Sequential([K.Input((4, 2)), K.LSTM(3), K.Dense(1)])
    twin.load_weights(tmp_path / "ckpt-02.weights.h5")
    np.testing.assert_allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0), rtol=RTOL, atol=ATOL)

    for name, weights_only in (("w.h5", True), ("m.keras", True), ("m.h5", False)):
        with pytest.raises(ConfigError, match=r"\.weights\.h5|legacy HDF5"):
            ModelCheckpoint(str(tmp_path / name), save_weights_only=weights_only)
    ModelCheckpoint(str(tmp_path / "m.keras"))  # a whole model to .keras: the Keras format
    ModelCheckpoint(str(tmp_path / "m.rnnkit"), save_weights_only=True)  # rnnkit's format
    assert not os.path.exists(tmp_path / "w.h5")
