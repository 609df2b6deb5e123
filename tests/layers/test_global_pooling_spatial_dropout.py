"""GlobalAveragePooling1D, GlobalMaxPooling1D and SpatialDropout1D against Keras 3 on the same inputs and masks,
finite differences in float64, the layer harness, and save/load inside a model."""
from __future__ import annotations

import numpy as np
import pytest

from layer_harness import check_layer, check_param_gradients, leaf, right_padded_mask
from rnnkit import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import (
    Dense,
    Embedding,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Masking,
    SpatialDropout1D,
)
from rnnkit.models import Sequential, load_model

keras = pytest.importorskip("keras")  # conftest sets KERAS_BACKEND=torch before this import

POOLINGS = {"average": (GlobalAveragePooling1D, "GlobalAveragePooling1D"),
            "max": (GlobalMaxPooling1D, "GlobalMaxPooling1D")}
LENGTHS = [5, 2, 1, 4]  # rows of a (4, 5, 3) batch; every row keeps at least one step


def keras_out(layer, x, mask=None, **kwargs):
    out = layer(x) if mask is None else layer(x, mask=mask, **kwargs)
    return np.asarray(keras.ops.convert_to_numpy(out))


def channels(x, data_format):
    return x if data_format == "channels_last" else np.ascontiguousarray(x.transpose(0, 2, 1))  # (B, D, T)


@pytest.mark.parametrize("kind", sorted(POOLINGS))
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_unmasked_pooling_equals_keras(kind, data_format, keepdims):
    ours, theirs = POOLINGS[kind]
    x = channels(np.random.default_rng(1).standard_normal((4, 5, 3)), data_format)
    expected = keras_out(getattr(keras.layers, theirs)(data_format=data_format, keepdims=keepdims, dtype="float64"), x)
    got = ours(data_format=data_format, keepdims=keepdims, dtype="float64")(x)
    assert got.shape == expected.shape
    # Keras' unmasked mean (torch backend) accumulates in float32 even for float64 layers
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-7)
    assert got._keras_mask is None


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_masked_average_equals_keras(data_format, keepdims):
    x = channels(np.random.default_rng(2).standard_normal((4, 5, 3)), data_format)
    mask = right_padded_mask(LENGTHS, 5)
    mask[0, 1] = False  # a hole inside a row, not only right padding
    reference = keras.layers.GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims, dtype="float64")
    expected = keras_out(reference, x, mask)
    got = GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims, dtype="float64")(x, mask=mask)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)
    plain = GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims, dtype="float64")(x).numpy()
    assert not np.allclose(got.numpy(), plain)  # the mask changed the result


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_masked_max_equals_keras_max_over_the_kept_steps(data_format, keepdims):
    # Keras 3's GlobalMaxPooling1D ignores masks; the reference is Keras' max over each row's kept steps only
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5, 3))
    x[:, -1, :] += 10.0  # padded steps hold the largest values: ignoring the mask would show
    mask = right_padded_mask(LENGTHS, 5)
    axis = 1 if data_format == "channels_last" else 2
    reference = keras.layers.GlobalMaxPooling1D(data_format=data_format, keepdims=True, dtype="float64")
    expected = np.concatenate([keras_out(reference, channels(x[b:b + 1, :n], data_format))
                               for b, n in enumerate(LENGTHS)])
    if not keepdims:
        expected = expected.squeeze(axis)
    got = GlobalMaxPooling1D(data_format=data_format, keepdims=keepdims, dtype="float64")(
        channels(x, data_format), mask=mask)
    np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize("kind", sorted(POOLINGS))
def test_pooling_after_embedding_with_mask_zero_equals_keras(kind):
    ours, theirs = POOLINGS[kind]
    ids = np.array([[4, 2, 7, 0, 0], [1, 0, 0, 0, 0], [3, 3, 9, 8, 5]])
    embed = Embedding(10, 4, mask_zero=True, dtype="float64")
    pooled = ours(dtype="float64")(embed(ids))
    k_embed = keras.layers.Embedding(10, 4, mask_zero=True, dtype="float64")
    k_embed.build((None, 5))
    k_embed.set_weights(embed.get_weights())
    table = embed.get_weights()[0]
    if kind == "average":  # Keras honours the Embedding's mask itself
        expected = keras_out(keras.layers.GlobalAveragePooling1D(dtype="float64"), k_embed(ids))
    else:  # Keras ignores it: its max over the non-padding rows of each sentence
        expected = np.stack([keras_out(keras.layers.GlobalMaxPooling1D(dtype="float64"), table[row[row != 0]][None])[0]
                             for row in ids])
    np.testing.assert_allclose(pooled.numpy(), expected, rtol=1e-12, atol=1e-12)
    padded_too = ours(dtype="float64")(Tensor(table[ids])).numpy()  # the same vectors without a mask
    assert not np.allclose(pooled.numpy(), padded_too)


def test_average_after_masking_equals_keras():
    x = np.random.default_rng(4).standard_normal((3, 6, 2))
    x[0, 4:] = 0.0
    x[2, 1] = 0.0
    expected = keras_out(keras.layers.GlobalAveragePooling1D(dtype="float64"), keras.layers.Masking(dtype="float64")(x))
    got = GlobalAveragePooling1D(dtype="float64")(Masking(dtype="float64")(x))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(POOLINGS))
def test_fully_masked_row_gives_zeros_and_zero_gradient(kind):
    ours, _ = POOLINGS[kind]
    x = leaf(np.random.default_rng(5).standard_normal((2, 4, 3)))
    mask = np.array([[True, True, False, False], [False, False, False, False]])
    out = ours(dtype="float64")(x, mask=mask)
    assert np.isfinite(out.numpy()).all()
    np.testing.assert_array_equal(out.numpy()[1], 0.0)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad[1], 0.0)
    np.testing.assert_array_equal(x.grad[0, 2:], 0.0)  # masked steps get no gradient


@pytest.mark.parametrize("kind", sorted(POOLINGS))
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("masked", [False, True])
def test_pooling_gradients_match_finite_differences(kind, data_format, masked):
    ours, _ = POOLINGS[kind]
    rng = np.random.default_rng(6)
    x = leaf(channels(rng.standard_normal((4, 5, 3)), data_format))
    mask = right_padded_mask(LENGTHS, 5) if masked else None
    if masked:
        mask[3] = False  # and one fully masked row
    layer = ours(data_format=data_format, dtype="float64")
    check_param_gradients(lambda: layer(x, mask=mask), [x], rtol=1e-7)


@pytest.mark.parametrize("kind", sorted(POOLINGS))
@pytest.mark.parametrize("keepdims", [False, True])
def test_pooling_harness(kind, keepdims):
    ours, _ = POOLINGS[kind]
    x = np.random.default_rng(7).standard_normal((2, 4, 3))
    check_layer(lambda: ours(keepdims=keepdims), x, output_shapes=[(2, 1, 3) if keepdims else (2, 3)],
                weight_shapes=[], output_mask=None, call_kwargs={"mask": right_padded_mask([4, 2], 4)})


def test_pooling_config_and_errors():
    config = GlobalMaxPooling1D(data_format="channels_first", keepdims=True).get_config()
    assert config["data_format"] == "channels_first" and config["keepdims"] is True
    assert GlobalAveragePooling1D().data_format == keras.layers.GlobalAveragePooling1D().data_format
    with pytest.raises(ConfigError, match="data_format must be one of"):
        GlobalAveragePooling1D(data_format="channels_middle")
    with pytest.raises(ConfigError, match="keepdims must be True or False"):
        GlobalMaxPooling1D(keepdims="yes")
    with pytest.raises(ShapeError, match="expects input of rank 3"):
        GlobalAveragePooling1D()(np.ones((2, 3)))
    with pytest.raises(ShapeError, match="mask shape"):
        GlobalMaxPooling1D()(np.ones((2, 3, 4)), mask=np.ones((2, 4), bool))


@pytest.mark.parametrize("pooling", [GlobalAveragePooling1D, GlobalMaxPooling1D])
def test_model_with_pooling_saves_and_loads(tmp_path, pooling):
    model = Sequential([Embedding(20, 4, mask_zero=True), SpatialDropout1D(0.3), pooling(), Dense(1, "sigmoid")])
    ids = np.array([[3, 5, 0, 0], [7, 1, 2, 9]])
    expected = model.predict(ids, verbose=0)
    model.save(tmp_path / "m.rnnkit")
    loaded = load_model(tmp_path / "m.rnnkit")
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), expected)


# ------------------------------------------------------------------------------------------ SpatialDropout1D
def channel_keep_mask(x, y, rate):
    """The (B, 1, D) keep-mask behind ``y = SpatialDropout1D(x)``; asserts each channel of each sample is either
    dropped at every step or kept and scaled by 1 / (1 - rate) at every step."""
    kept = np.isclose(y, x / (1.0 - rate), rtol=1e-6, atol=0)
    dropped = y == 0
    assert (kept | dropped).all(), "every value is 0 or x / (1 - rate)"
    keep = kept.all(axis=1, keepdims=True)
    assert (keep | dropped.all(axis=1, keepdims=True)).all(), "a channel is dropped or kept at every step"
    return keep


@pytest.mark.parametrize("rate", [0.25, 0.5])
def test_spatial_dropout_drops_whole_channels_like_keras(rate):
    x = np.random.default_rng(8).uniform(0.5, 1.5, size=(400, 6, 8))  # no zeros in x
    y = SpatialDropout1D(rate, seed=3, dtype="float64")(x, training=True).numpy()
    keep = channel_keep_mask(x, y, rate)
    theirs = np.asarray(keras.ops.convert_to_numpy(
        keras.layers.SpatialDropout1D(rate, seed=3, dtype="float64")(x, training=True)))
    keep_keras = channel_keep_mask(x, theirs, rate)  # Keras has the same structure and scaling
    for fraction in (1 - keep.mean(), 1 - keep_keras.mean()):
        assert abs(fraction - rate) < 0.03  # 3,200 channel draws: 4+ standard deviations
    # channels of one sample are drawn independently: not all kept or all dropped together
    assert 0 < keep.all(axis=2).mean() < 0.2


def test_spatial_dropout_inference_is_identity_and_masks_pass():
    x = np.random.default_rng(9).standard_normal((2, 3, 4))
    layer = SpatialDropout1D(0.5)
    expected = np.asarray(keras.ops.convert_to_numpy(keras.layers.SpatialDropout1D(0.5)(x)), dtype=np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), expected)
    ids = np.array([[2, 3, 0]])
    out = SpatialDropout1D(0.5)(Embedding(5, 4, mask_zero=True)(ids), training=True)
    np.testing.assert_array_equal(out._keras_mask, [[True, True, False]])
    np.testing.assert_array_equal(SpatialDropout1D(0.0)(x, training=True).numpy(), x.astype(np.float32))


def test_spatial_dropout_gradient_is_the_scaled_keep_mask():
    x = leaf(np.random.default_rng(10).uniform(0.5, 1.5, size=(5, 4, 6)))
    layer = SpatialDropout1D(0.4, seed=1, dtype="float64")
    y = layer(x, training=True)
    weights = np.random.default_rng(11).standard_normal(y.shape)
    (y * Tensor(weights, dtype="float64")).sum().backward()
    keep = channel_keep_mask(x.numpy(), y.numpy(), 0.4)
    np.testing.assert_allclose(x.grad, weights * keep / 0.6, rtol=1e-12)


def test_spatial_dropout_seeds_and_config():
    x = np.ones((4, 3, 5))
    first = SpatialDropout1D(0.5, seed=7)(x, training=True).numpy()
    again = SpatialDropout1D(0.5, seed=7)(x, training=True).numpy()
    other = SpatialDropout1D(0.5, seed=8)(x, training=True).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    layer = SpatialDropout1D(0.2, seed=5)
    config = layer.get_config()
    keras_config = keras.layers.SpatialDropout1D(0.2, seed=5).get_config()
    assert {k: config[k] for k in ("rate", "seed")} == {k: keras_config[k] for k in ("rate", "seed")}
    assert "noise_shape" not in config
    check_layer(lambda: SpatialDropout1D(0.3, seed=2), x, output_shapes=[(4, 3, 5)], weight_shapes=[],
                call_kwargs={"training": False})
    with pytest.raises(ShapeError, match="expects input of rank 3"):
        SpatialDropout1D(0.5)(np.ones((2, 3)), training=True)
    with pytest.raises(ConfigError, match=r"rate must be a number in \[0, 1\)"):
        SpatialDropout1D(1.0)
