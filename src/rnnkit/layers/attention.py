"""Dot-product (Luong) and additive (Bahdanau) attention, as Keras 3's ``Attention`` and ``AdditiveAttention``.

Both take ``[query, value]`` or ``[query, value, key]`` (``key`` defaults to ``value``), shapes
``query (B, Tq, D)``, ``value (B, Tv, Dv)``, ``key (B, Tv, D)``, and return ``(B, Tq, Dv)``::

    scores  = Attention:          query @ key^T  (* scale)                       (score_mode="dot")
                                  w * sum(tanh(scale * (q_i + k_j)))             (score_mode="concat")
              AdditiveAttention:  sum(scale * tanh(q_i + k_j))                   (B, Tq, Tv)
    scores  = scores - 1e9 where the value is masked (value_mask, use_causal_mask)
    weights = softmax(scores)  (dropout on the weights in training)
    output  = weights @ value, zeroed where the query is masked

Masked value positions therefore get weight exactly 0 (``exp(-1e9)`` is 0). A row whose values are all masked
is, as in Keras 3, the softmax of the unmasked scores shifted by the same 1e9: defined, never NaN (in float32
nearly uniform). The layers are compositions of tape ops (``matmul``, ``softmax`` ...; the additive scores are
one fused op, ``ops/attention_scores.py``); ``tests/layers/test_attention.py`` checks the gradients with finite
differences and the values against Keras 3.

>>> import numpy as np
>>> from rnnkit.layers import Attention, AdditiveAttention
>>> query, value = np.ones((2, 3, 4)), np.ones((2, 5, 4))
>>> Attention()([query, value]).shape
(2, 3, 4)
>>> output, scores = AdditiveAttention()([query, value], mask=[None, np.array([[1, 1, 0, 0, 0]] * 2, bool)],
...                                       return_attention_scores=True)
>>> scores.numpy()[0, 0].tolist()
[0.5, 0.5, 0.0, 0.0, 0.0]
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers.arguments import check_rate
from rnnkit.layers.base import Layer
from rnnkit.ops import expand_dims, matmul, softmax, tanh, transpose
from rnnkit.ops.attention_scores import additive_scores
from rnnkit.ops import sum as sum_
from rnnkit.random import generator

MASK_VALUE = 1.0e9  # what Keras 3 subtracts from masked scores (float32 and float64)


def mask_array(mask, shape: tuple, what: str, owner: str):
    """A boolean ``(B, T)`` array from a mask given as array, list or Tensor (None stays None)."""
    if mask is None:
        return None
    array = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if array.shape != tuple(shape):
        raise ShapeError(f"layer {owner!r}: {what} has shape {array.shape}; expected {tuple(shape)}")
    return array.astype(bool, copy=False)


def input_masks(inputs, mask, count: int, owner: str) -> list:
    """``mask`` as a list of ``count`` entries; where none was given, the masks the inputs carry."""
    if mask is None:
        return [getattr(x, "_keras_mask", None) for x in inputs][:count] + [None] * max(0, count - len(inputs))
    if not isinstance(mask, (list, tuple)):
        raise ConfigError(f"layer {owner!r}: mask must be a list [query_mask, value_mask]; got "
                          f"{type(mask).__name__}")
    mask = list(mask)
    if not 2 <= len(mask) <= 3:
        raise ConfigError(f"layer {owner!r}: mask must list 2 or 3 entries [query_mask, value_mask]; got {len(mask)}")
    return (mask + [None] * count)[:count]


class Attention(Layer):
    """Dot-product attention (Luong), Keras 3's ``Attention``.

    Args:
        use_scale: learn a scalar ``scale`` that multiplies the scores (initialised to 1).
        score_mode: ``"dot"`` (query-key dot products) or ``"concat"`` (``w * sum(tanh(scale * (q + k)))``
            with a learnt scalar ``concat_score_weight``, initialised to 1).
        dropout: rate of dropout on the attention weights in training, in ``[0, 1)``.
        seed: seed of the dropout masks.

    Call: ``layer([query, value])`` or ``layer([query, value, key])``; ``mask=[query_mask, value_mask]``
    (``(B, Tq)``, ``(B, Tv)`` booleans; by default the masks the inputs carry); ``use_causal_mask=True``
    (query ``i`` sees values ``j <= i``); ``return_attention_scores=True`` returns ``(output, weights)``
    with the softmax weights ``(B, Tq, Tv)``; ``training``. The output carries the query mask.

    >>> layer = Attention(use_scale=True, score_mode="concat")
    >>> output = layer([np.ones((1, 2, 3)), np.ones((1, 4, 3))])
    >>> output.shape, [w.shape for w in layer.weights]
    ((1, 2, 3), [(), ()])
    """

    supports_masking = True

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ConfigError(f"{type(self).__name__}: score_mode must be 'dot' or 'concat'; got {score_mode!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = check_rate(dropout, "dropout", type(self).__name__)
        self.seed = seed
        self._rng = generator(seed)
        self.scale = self.concat_score_weight = None

    # ------------------------------------------------------------------------------------------ build
    def build(self, input_shape):
        if self.use_scale:
            self.scale = self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight("concat_score_weight", (), "ones")

    def _check_same_features(self, shape):
        pass  # checked in call (the query's size may change unless a weight depends on it)

    def _check_inputs(self, inputs) -> list:
        if not isinstance(inputs, (list, tuple)):
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) must be called on a list [query, value] "
                             f"or [query, value, key]; got a {type(inputs).__name__}")
        if not 2 <= len(inputs) <= 3:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) takes [query, value] or "
                             f"[query, value, key]; got a list of {len(inputs)}")
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        shapes = [tuple(t.shape) for t in (query, value, key)]
        if any(len(s) != 3 for s in shapes) or shapes[0][0] != shapes[1][0] or shapes[1][:2] != shapes[2][:2] \
                or shapes[0][2] != shapes[2][2]:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) expects query (B, Tq, D), value "
                             f"(B, Tv, Dv) and key (B, Tv, D); got shapes query {shapes[0]}, value {shapes[1]}, "
                             f"key {shapes[2]}")
        return [query, value, key]

    # ------------------------------------------------------------------------------------------- call
    def _scores(self, query, key) -> Tensor:
        if self.score_mode == "dot":
            scores = matmul(query, transpose(key, (0, 2, 1)))  # (B, Tq, D) @ (B, D, Tv) -> (B, Tq, Tv)
            return scores if self.scale is None else scores * self.scale
        both = expand_dims(query, -2) + expand_dims(key, -3)  # (B, Tq, 1, D) + (B, 1, Tv, D) -> (B, Tq, Tv, D)
        if self.scale is not None:
            both = both * self.scale
        return self.concat_score_weight * sum_(tanh(both), axis=-1)  # (B, Tq, Tv)

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        query, value, key = self._check_inputs(inputs)
        masks = input_masks(inputs, mask, 2, self.name)
        batch, tq, tv = query.shape[0], query.shape[1], value.shape[1]
        query_mask = mask_array(masks[0], (batch, tq), "the query mask", self.name)
        value_mask = mask_array(masks[1], (batch, tv), "the value mask", self.name)
        scores = self._scores(query, key)  # (B, Tq, Tv)
        keep = None if value_mask is None else value_mask[:, None, :]  # (B, 1, Tv)
        if use_causal_mask:
            causal = np.tril(np.ones((tq, tv), dtype=bool))[None]  # (1, Tq, Tv): row i sees columns j <= i
            keep = causal if keep is None else keep & causal
        if keep is not None:
            scores = scores - Tensor((~keep) * MASK_VALUE, dtype=scores.dtype)
        weights = softmax(scores, axis=-1)
        if training and self.dropout > 0.0:
            kept = self._rng.random(weights.shape) >= self.dropout
            weights = weights * Tensor(kept / (1.0 - self.dropout), dtype=weights.dtype)
        output = matmul(weights, value)  # (B, Tq, Tv) @ (B, Tv, Dv) -> (B, Tq, Dv)
        if query_mask is not None:
            output = output * Tensor(query_mask[..., None], dtype=output.dtype)  # (B, Tq, 1)
        return (output, weights) if return_attention_scores else output

    def compute_mask(self, inputs, mask=None):
        masks = input_masks(inputs if isinstance(inputs, (list, tuple)) else [inputs], mask, 2, self.name)
        return None if masks[0] is None else np.asarray(getattr(masks[0], "data", masks[0])).astype(bool)

    def get_config(self):
        config = super().get_config()
        config.update(use_scale=self.use_scale, score_mode=self.score_mode, dropout=self.dropout, seed=self.seed)
        return config


class AdditiveAttention(Attention):
    """Additive attention (Bahdanau), Keras 3's ``AdditiveAttention``: ``scores = sum(scale * tanh(q + k))``.

    Args:
        use_scale: True (default): a learnt vector ``scale (D,)`` (glorot uniform), Bahdanau's ``v``; False: 1.
        dropout, seed: as :class:`Attention`.

    For Bahdanau's full score ``v^T tanh(W1 q + W2 k)`` project the query and the keys with ``Dense`` layers
    first (``layer([Dense(U)(query), value, Dense(U)(value)])``). The call is that of :class:`Attention`.

    >>> layer = AdditiveAttention()
    >>> _ = layer([np.ones((1, 2, 3)), np.ones((1, 4, 5)), np.ones((1, 4, 3))])
    >>> [w.shape for w in layer.weights]
    [(3,)]
    """

    def __init__(self, use_scale=True, dropout=0.0, seed=None, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def build(self, input_shape):
        if self.use_scale:
            self.scale = self.add_weight("scale", (input_shape[-1],), "glorot_uniform")

    def _scores(self, query, key):
        scale = self.scale if self.scale is not None else Tensor(np.ones(query.shape[-1]), dtype=query.dtype)
        if scale.shape != (query.shape[-1],):
            raise ShapeError(f"layer {self.name!r} (AdditiveAttention) was built for queries of size "
                             f"{scale.shape[0]}; got query shape {tuple(query.shape)}")
        return additive_scores(query, key, scale)  # (B, Tq, Tv): sum(scale * tanh(q_i + k_j)), one fused op

    def get_config(self):
        config = super().get_config()
        config.pop("score_mode")
        return config
