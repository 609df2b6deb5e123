"""Convolution, pooling, BatchNormalization and reshaping layers: the shared harness, Keras 3 (torch backend)
on the same weights and inputs, parameter gradients by finite differences, and clear errors."""
import numpy as np
import pytest
from layer_harness import check_layer, check_param_gradients, leaf

from rnnkit import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import (
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
    Permute,
    Reshape,
    deserialize,
    serialize,
)


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


def keras_output(keras_layer, x, weights=None, training=False):
    """Run a Keras layer on ``x`` (as a float64 tensor) after building it and setting ``weights``."""
    import keras

    if not keras_layer.built:
        keras_layer.build(x.shape)
    if weights is not None:
        keras_layer.set_weights(weights)
    out = keras_layer(keras.ops.convert_to_tensor(x, dtype="float64"), training=training)
    return keras.ops.convert_to_numpy(out)


# ------------------------------------------------------------------------------------- conv layers
CONV2D_CONFIGS = [
    dict(filters=4, kernel_size=3),
    dict(filters=3, kernel_size=(2, 2), padding="same"),
    dict(filters=2, kernel_size=(4, 3), strides=(2, 3), padding="same", activation="relu"),
    dict(filters=3, kernel_size=2, strides=2),
    dict(filters=2, kernel_size=(3, 2), dilation_rate=(2, 1), padding="same", use_bias=False),
    dict(filters=5, kernel_size=1, activation="tanh"),
]


@pytest.mark.parametrize("config", CONV2D_CONFIGS, ids=lambda c: str(sorted(c.items())))
def test_conv2d_equals_keras(config, keras):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 8, 3))
    ours = Conv2D(**config, dtype="float64")
    ours(x)
    weights = [rng.standard_normal(w.shape) for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs = keras.layers.Conv2D(**config, dtype="float64")
    np.testing.assert_allclose(ours(x).numpy(), keras_output(theirs, x, weights), rtol=1e-9, atol=1e-9)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]


CONV1D_CONFIGS = [
    dict(filters=4, kernel_size=3),
    dict(filters=2, kernel_size=4, padding="same"),
    dict(filters=3, kernel_size=3, padding="causal", dilation_rate=2),
    dict(filters=2, kernel_size=2, strides=3, padding="same", activation="sigmoid"),
]


@pytest.mark.parametrize("config", CONV1D_CONFIGS, ids=lambda c: str(sorted(c.items())))
def test_conv1d_equals_keras(config, keras):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 10, 3))
    ours = Conv1D(**config, dtype="float64")
    ours(x)
    weights = [rng.standard_normal(w.shape) for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs = keras.layers.Conv1D(**config, dtype="float64")
    np.testing.assert_allclose(ours(x).numpy(), keras_output(theirs, x, weights), rtol=1e-9, atol=1e-9)


def test_conv2d_harness():
    x = np.random.default_rng(0).standard_normal((2, 6, 5, 3)).astype(np.float32)
    check_layer(lambda: Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="relu"), x,
                output_shapes=[(2, 3, 5, 4)], weight_shapes=[(3, 2, 3, 4), (4,)])


def test_conv1d_harness():
    x = np.random.default_rng(0).standard_normal((2, 9, 3)).astype(np.float32)
    check_layer(lambda: Conv1D(4, 3, padding="causal"), x, output_shapes=[(2, 9, 4)],
                weight_shapes=[(3, 3, 4), (4,)])


def test_conv2d_parameter_gradients():
    rng = np.random.default_rng(2)
    layer = Conv2D(2, (2, 3), strides=(1, 2), padding="same", activation="tanh", dtype="float64")
    x = leaf(rng.standard_normal((2, 5, 6, 2)))
    layer(x)
    layer.set_weights([0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()])
    check_param_gradients(lambda: layer(x), [x] + layer.trainable_weights)


def test_conv_default_initialisation_is_glorot_over_the_receptive_field():
    layer = Conv2D(64, 3)
    layer(np.zeros((1, 5, 5, 32)))
    limit = np.sqrt(6.0 / (9 * 32 + 9 * 64))  # Keras: fan_in = kh*kw*in, fan_out = kh*kw*out
    kernel = layer.get_weights()[0]
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert not layer.get_weights()[1].any()


@pytest.mark.parametrize("make, message", [
    (lambda: Conv2D(0, 3), r"Conv2D: filters must be a positive integer; got 0"),
    (lambda: Conv2D(4, (3, 3, 3)), r"Conv2D: kernel_size must be a positive integer or a tuple of 2"),
    (lambda: Conv2D(4, 3, padding="causal"), r"Conv2D: padding must be one of \['valid', 'same'\]; got 'causal'"),
    (lambda: Conv2D(4, 3, strides=2, dilation_rate=2), r"strides > 1 not supported in conjunction with dilation"),
    (lambda: Conv2D(4, 3, data_format="channels_first"), r"only data_format='channels_last' is supported"),
    (lambda: Conv2D(4, 3, groups=2), r"only groups=1 is supported"),
    (lambda: MaxPooling2D(padding="full"), r"MaxPooling2D: padding must be one of"),
    (lambda: Reshape((2, 0)), r"Reshape: target_shape must be a tuple of positive integers"),
    (lambda: Permute((0, 1)), r"Permute: dims must be a permutation of 1..2"),
    (lambda: BatchNormalization(momentum=1.5), r"expected momentum in \[0, 1\]"),
])
def test_bad_arguments_are_config_errors(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_wrong_input_ranks_and_channels_are_shape_errors():
    with pytest.raises(ShapeError, match=r"expects input of rank 4 \(batch, height, width, channels\); got shape "
                                         r"\(2, 5, 3\)"):
        Conv2D(2, 3)(np.zeros((2, 5, 3)))
    layer = Conv2D(2, 3)
    layer(np.zeros((1, 5, 5, 3)))
    with pytest.raises(ShapeError, match=r"built for inputs with last axis 3"):
        layer(np.zeros((1, 5, 5, 4)))
    with pytest.raises(ShapeError, match=r"expects input of rank 3 \(batch, steps, channels\)"):
        MaxPooling1D()(np.zeros((1, 5, 5, 3)))
    with pytest.raises(ShapeError, match=r"cannot reshape a sample of shape \(4, 3\) \(12 values\) to target_shape "
                                         r"\(5, -1\)"):
        Reshape((5, -1))(np.zeros((2, 4, 3)))
    with pytest.raises(ShapeError, match=r"must have rank 4; got shape \(2, 4\)"):
        Permute((2, 1, 3))(np.zeros((2, 4)))


# ---------------------------------------------------------------------------------------- pooling
POOL_LAYERS = [
    ("MaxPooling2D", dict(), (2, 7, 8, 3)),
    ("MaxPooling2D", dict(pool_size=(3, 2), strides=(2, 1), padding="same"), (2, 7, 8, 3)),
    ("AveragePooling2D", dict(pool_size=3, strides=1), (2, 6, 5, 2)),
    ("AveragePooling2D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 9, 2)),  # symmetric pads
    ("MaxPooling1D", dict(pool_size=3, padding="same"), (2, 10, 3)),
    ("AveragePooling1D", dict(pool_size=3, strides=2), (2, 10, 3)),
    ("GlobalAveragePooling2D", dict(), (2, 4, 5, 3)),
    ("GlobalMaxPooling2D", dict(keepdims=True), (2, 4, 5, 3)),
]


@pytest.mark.parametrize("name, config, shape", POOL_LAYERS, ids=lambda v: str(v))
def test_pooling_equals_keras(name, config, shape, keras):
    from rnnkit import layers

    x = np.random.default_rng(3).standard_normal(shape)
    ours = getattr(layers, name)(**config, dtype="float64")
    theirs = getattr(keras.layers, name)(**config, dtype="float64")
    # Keras' torch backend takes float64 means through float32 (errors ~1e-8): a looser bound for the means
    tol = 1e-7 if name == "GlobalAveragePooling2D" else 1e-12
    np.testing.assert_allclose(ours(x).numpy(), keras_output(theirs, x), rtol=tol, atol=tol)


@pytest.mark.parametrize("make, shape, out_shape", [
    (lambda: MaxPooling2D((2, 1)), (2, 6, 5, 3), (2, 3, 5, 3)),
    (lambda: AveragePooling2D(2, padding="same"), (2, 5, 5, 3), (2, 3, 3, 3)),
    (lambda: MaxPooling1D(), (2, 7, 3), (2, 3, 3)),
    (lambda: AveragePooling1D(2, 1), (2, 7, 3), (2, 6, 3)),
    (lambda: GlobalAveragePooling2D(), (2, 3, 4, 5), (2, 5)),
    (lambda: GlobalMaxPooling2D(), (2, 3, 4, 5), (2, 5)),
    (lambda: GlobalAveragePooling2D(keepdims=True), (2, 3, 4, 5), (2, 1, 1, 5)),
    (lambda: Flatten(), (2, 3, 4, 5), (2, 60)),
    (lambda: Reshape((-1, 10)), (2, 3, 4, 5), (2, 6, 10)),
    (lambda: Permute((3, 1, 2)), (2, 3, 4, 5), (2, 5, 3, 4)),
])
def test_weightless_layers_harness_and_gradients(make, shape, out_shape):
    x = np.random.default_rng(4).standard_normal(shape)
    layer = check_layer(make, x.astype(np.float32), output_shapes=[out_shape], weight_shapes=[])
    assert layer(np.zeros((3,) + shape[1:])).shape[0] == 3  # another batch size is fine
    x64 = leaf(x)
    clone = deserialize(serialize(layer))
    clone.dtype = "float64"
    check_param_gradients(lambda: clone(x64), [x64])


@pytest.mark.parametrize("name, config, shape", [
    ("Reshape", dict(target_shape=(4, -1)), (2, 3, 4, 2)),
    ("Permute", dict(dims=(2, 1, 3)), (2, 3, 4, 2)),
    ("Flatten", dict(), (2, 3, 4, 2)),
    ("Flatten", dict(), (2, 3)),
])
def test_reshaping_equals_keras(name, config, shape, keras):
    from rnnkit import layers

    x = np.random.default_rng(5).standard_normal(shape)
    ours = getattr(layers, name)(**config, dtype="float64")
    theirs = getattr(keras.layers, name)(**config, dtype="float64")
    np.testing.assert_array_equal(ours(x).numpy(), keras_output(theirs, x))


# ---------------------------------------------------------------------------------- batch norm
BN_CONFIGS = [dict(), dict(momentum=0.5, epsilon=1e-2), dict(center=False), dict(scale=False, axis=1)]


@pytest.mark.parametrize("config", BN_CONFIGS, ids=str)
def test_batch_normalization_equals_keras_in_training_and_inference(config, keras):
    rng = np.random.default_rng(6)
    batches = [1.5 + 2.0 * rng.standard_normal((4, 3, 5, 3)) for _ in range(3)]
    ours = BatchNormalization(**config, dtype="float64")
    ours(batches[0])
    weights = [rng.standard_normal(w.shape) if "moving" not in w.name else w.data for w in ours.weights]
    ours.set_weights(weights)
    theirs = keras.layers.BatchNormalization(**config, dtype="float64")
    theirs.build(batches[0].shape)
    theirs.set_weights(weights)
    for batch in batches:  # training steps: batch statistics, moving statistics updated
        # Keras' torch backend computes float64 batch moments through float32 means (errors ~1e-7); the exact
        # float64 comparison is with torch.nn.functional.batch_norm in tests/ops and with numpy below
        np.testing.assert_allclose(ours(batch, training=True).numpy(), keras_output(theirs, batch, training=True),
                                   rtol=1e-6, atol=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    axes = tuple(a for a in range(4) if a != config.get("axis", -1) % 4)
    mean, var = np.zeros(3), np.ones(3)
    momentum = config.get("momentum", 0.99)
    for batch in batches:  # the moving averages, written out
        mean = mean * momentum + batch.mean(axis=axes) * (1 - momentum)
        var = var * momentum + batch.var(axis=axes) * (1 - momentum)
    np.testing.assert_allclose(ours.moving_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(ours.moving_variance.numpy(), var, rtol=1e-12)
    probe = rng.standard_normal((2, 3, 5, 3))
    theirs.set_weights(ours.get_weights())  # the same moving statistics (Keras' float64 here is float32-exact)
    np.testing.assert_allclose(ours(probe).numpy(), keras_output(theirs, probe), rtol=1e-6, atol=1e-6)
    shape = [1, 1, 1, 1]
    shape[config.get("axis", -1)] = 3
    gamma = ours.gamma.numpy() if ours.scale else np.ones(3)
    beta = ours.beta.numpy() if ours.center else np.zeros(3)
    expected = ((probe - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + ours.epsilon) * gamma.reshape(shape)
                + beta.reshape(shape))  # the inference formula with the moving statistics
    np.testing.assert_allclose(ours(probe).numpy(), expected, rtol=1e-12, atol=1e-12)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]


def test_batch_normalization_weights_and_gradients():
    layer = BatchNormalization(dtype="float64")
    x = leaf(np.random.default_rng(7).standard_normal((6, 4, 3)))
    layer(x)
    assert [w.name.split("/")[-1] for w in layer.trainable_weights] == ["gamma", "beta"]
    assert [w.name.split("/")[-1] for w in layer.non_trainable_weights] == ["moving_mean", "moving_variance"]
    layer.set_weights([np.random.default_rng(8).standard_normal(3) for _ in range(2)] + [np.zeros(3), np.ones(3)])
    moving = [w.data.copy() for w in layer.non_trainable_weights]
    check_param_gradients(lambda: layer(x, training=True), [x] + layer.trainable_weights)
    assert not np.array_equal(moving[0], layer.moving_mean.data)  # training calls moved the statistics
    check_param_gradients(lambda: layer(x), [x] + layer.trainable_weights)


def test_frozen_batch_normalization_uses_moving_statistics_even_in_training():
    layer = BatchNormalization(trainable=False, dtype="float64")
    x = np.random.default_rng(9).standard_normal((5, 3)) + 4.0
    np.testing.assert_array_equal(layer(x, training=True).numpy(), layer(x).numpy())
    np.testing.assert_array_equal(layer.moving_mean.numpy(), np.zeros(3))


def test_global_pooling_values():
    x = np.random.default_rng(10).standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(GlobalAveragePooling2D(dtype="float64")(x).numpy(), x.mean(axis=(1, 2)), rtol=1e-14)
    np.testing.assert_array_equal(GlobalMaxPooling2D(dtype="float64")(x).numpy(), x.max(axis=(1, 2)))
