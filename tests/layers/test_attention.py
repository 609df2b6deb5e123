"""Attention and AdditiveAttention: equal to Keras 3's layers (torch backend) on identical weights in float64,
gradients equal to finite differences, masks, causal masks, fully masked rows, dropout, config round trips."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.gradcheck import check_gradients
from rnnkit import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import AdditiveAttention, Attention, deserialize, serialize



@pytest.fixture
def keras64(monkeypatch):
    """Keras 3 with its arithmetic in float64: its result_type turns float64 into float32 (JAX's default
    without x64), so ``ops.matmul`` of two float64 tensors is float32. The comparisons at 1e-9 need that off."""
    import keras  # noqa: F401
    from keras.src.backend.common import dtypes

    monkeypatch.setattr(dtypes, "BIT64_TO_BIT32_DTYPE", {})


CASES = [  # (rnnkit class, constructor kwargs)
    (Attention, {}),
    (Attention, {"use_scale": True}),
    (Attention, {"score_mode": "concat"}),
    (Attention, {"score_mode": "concat", "use_scale": True}),
    (AdditiveAttention, {}),
    (AdditiveAttention, {"use_scale": False}),
]


def random_masks(rng, batch, tq, tv, full_row=True):
    query_mask = rng.random((batch, tq)) > 0.3
    value_mask = rng.random((batch, tv)) > 0.4
    value_mask[:, 0] = True
    if full_row:
        value_mask[-1] = False  # one sentence whose values are all masked
    return query_mask, value_mask


def keras_twin(cls, kwargs, layer, inputs):
    import keras
    import torch

    twin = getattr(keras.layers, cls.__name__)(dtype="float64", **kwargs)
    twin([torch.tensor(x) for x in inputs])  # build
    twin.set_weights(layer.get_weights())
    return twin


def keras_call(twin, inputs, masks=None, **call_kwargs):
    import torch

    tensors = [torch.tensor(x) for x in inputs]
    mask = None if masks is None else [None if m is None else torch.tensor(m) for m in masks]
    result = twin(tensors, mask=mask, **call_kwargs)
    if isinstance(result, tuple):
        return [r.detach().numpy() for r in result]
    return [result.detach().numpy()]


@pytest.mark.parametrize("cls,kwargs", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_equals_keras_with_masks_and_keys(cls, kwargs, seed, keras64):
    rng = np.random.default_rng(seed)
    batch, tq, tv, dim, dv = rng.integers(2, 5), rng.integers(1, 6), rng.integers(1, 7), rng.integers(1, 5), \
        rng.integers(1, 5)
    query, value, key = rng.normal(size=(batch, tq, dim)), rng.normal(size=(batch, tv, dv)), \
        rng.normal(size=(batch, tv, dim))
    layer = cls(dtype="float64", **kwargs)
    layer([query, value, key])
    if layer.weights:  # not the default ones: a test that the weights are used
        layer.set_weights([rng.normal(size=w.shape) for w in layer.weights])
    twin = keras_twin(cls, kwargs, layer, [query, value, key])
    masks = random_masks(rng, batch, tq, tv)
    for inputs in ([query, value, key], [query, value if dv == dim else key]):
        for mask in (None, list(masks), [None, masks[1]], [masks[0], None]):
            for causal in (False, True):
                ours = layer(inputs, mask=mask, use_causal_mask=causal, return_attention_scores=True)
                theirs = keras_call(twin, inputs, mask, use_causal_mask=causal, return_attention_scores=True)
                for a, b in zip(ours, theirs):
                    assert a.dtype == np.float64
                    np.testing.assert_allclose(a.numpy(), b, rtol=1e-9, atol=1e-12)
                assert np.all(np.isfinite(ours[0].numpy()))


@pytest.mark.parametrize("cls", [Attention, AdditiveAttention])
def test_masked_values_get_zero_weight_and_full_masked_row_is_defined(cls):
    rng = np.random.default_rng(3)
    query, value = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))
    value_mask = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0]], dtype=bool)
    for dtype in ("float32", "float64"):
        out, weights = cls(dtype=dtype)([query, value], mask=[None, value_mask], return_attention_scores=True)
        w = weights.numpy()
        assert np.all(w[0][:, ~value_mask[0]] == 0.0)
        np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
        assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(w))


def test_query_mask_zeroes_output_and_is_carried():
    query, value = np.ones((1, 3, 2)), np.ones((1, 4, 2))
    query_mask = np.array([[True, False, True]])
    out = Attention()([query, value], mask=[query_mask, None])
    assert out.numpy()[0, 1].tolist() == [0.0, 0.0]
    assert out._keras_mask.tolist() == query_mask.tolist()
    q, v = Tensor(query), Tensor(value)
    q._keras_mask = query_mask  # masks the inputs carry (Embedding, recurrent layers) are used by default
    v._keras_mask = np.array([[True, True, False, False]])
    _, weights = Attention()([q, v], return_attention_scores=True)
    assert np.all(weights.numpy()[0, :, 2:] == 0)


@pytest.mark.parametrize("cls,kwargs", CASES)
def test_gradients_finite_differences(cls, kwargs):
    rng = np.random.default_rng(7)
    for trial in range(2):
        batch, tq, tv, dim = 2, int(rng.integers(1, 4)), int(rng.integers(2, 5)), int(rng.integers(1, 4))
        layer = cls(dtype="float64", dropout=0.0, **kwargs)
        query, value, key = rng.normal(size=(batch, tq, dim)), rng.normal(size=(batch, tv, 3)), \
            rng.normal(size=(batch, tv, dim))
        layer([query, value, key])
        weights = [rng.normal(size=w.shape) for w in layer.weights]
        # no fully masked row here: its scores sit 1e9 below zero, where a float64 difference step of 1e-6 is
        # below the rounding of the scores (the row's values are checked against Keras above)
        query_mask, value_mask = random_masks(rng, batch, tq, tv, full_row=False)
        names = [w.name.split("/")[-1] for w in layer.weights]
        causal = trial == 1

        def forward(q, v, k, *ws):
            for name, w in zip(names, ws):
                setattr(layer, name, w)
            out, scores = layer([q, v, k], mask=[query_mask, value_mask], use_causal_mask=causal,
                                return_attention_scores=True)
            return [out, scores]

        check_gradients(forward, [query, value, key, *weights])


def test_dropout_on_weights_in_training_only():
    layer = AdditiveAttention(dropout=0.5, seed=1, dtype="float64")
    query, value = np.ones((2, 3, 4)), np.ones((2, 6, 4))
    _, plain = layer([query, value], return_attention_scores=True)
    _, dropped = layer([query, value], return_attention_scores=True, training=True)
    np.testing.assert_allclose(plain.numpy(), 1 / 6)
    assert set(np.round(dropped.numpy().ravel(), 12)) == {0.0, round(2 / 6, 12)}


def test_config_round_trip_and_errors():
    for cls, kwargs in CASES:
        layer = cls(name=f"attention_{cls.__name__}_{len(kwargs)}_{kwargs.get('score_mode', '')}", dropout=0.25,
                    **kwargs)
        rebuilt = deserialize(serialize(layer))
        assert type(rebuilt) is cls and rebuilt.get_config() == layer.get_config()
    with pytest.raises(ConfigError, match="score_mode"):
        Attention(score_mode="general")
    with pytest.raises(ShapeError, match=r"\[query, value\]"):
        Attention()(np.ones((1, 2, 3)))
    with pytest.raises(ShapeError, match="key"):
        Attention()([np.ones((1, 2, 3)), np.ones((1, 4, 3)), np.ones((1, 4, 2))])
    with pytest.raises(ShapeError, match="value mask"):
        Attention()([np.ones((1, 2, 3)), np.ones((1, 4, 3))], mask=[None, np.ones((1, 3), bool)])
