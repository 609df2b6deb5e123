"""Shared layer-test harness (STYLE.md #6): every layer's tests run ``check_layer`` and, for gradients,
``check_param_gradients``.

``check_layer`` checks output shapes, weight count and shapes (``get_weights`` and ``trainable_weights`` in the
same order), a JSON config round trip (``deserialize(serialize(layer))`` then ``set_weights`` gives identical
outputs), and that one plain gradient step on the trainable weights lowers a loss.

``check_param_gradients`` compares the analytic gradients of any Tensors a forward closure reads (inputs,
weights, initial states) with central finite differences in float64: element by element for small arrays,
along random directions for large ones (long sequences).
"""
from __future__ import annotations

import json

import numpy as np

from helpers.gradcheck import relative_error
from rnnkit import Tensor, no_grad
from rnnkit.layers import deserialize, serialize
from rnnkit.random import set_random_seed


def as_list(outputs) -> list:
    """The output Tensors of a call, flattened (a cell returns ``(output, [states...])``)."""
    if not isinstance(outputs, (list, tuple)):
        return [outputs]
    return [t for item in outputs for t in as_list(item)]


def check_layer(make_layer, x, *, output_shapes, weight_shapes, call_kwargs=None, output_mask="unchecked",
                train_step=True):
    """Run the shared checks on ``make_layer()`` called on ``x``; returns the layer.

    ``output_mask``: when given, the mask the first output must carry (None for no mask).
    """
    call_kwargs = dict(call_kwargs or {})
    set_random_seed(0)  # initial weights, and so every check below, are reproducible
    layer = make_layer()
    outputs = as_list(layer(x, **call_kwargs))
    assert [tuple(o.shape) for o in outputs] == [tuple(s) for s in output_shapes]
    if not isinstance(output_mask, str):
        if output_mask is None:
            assert outputs[0]._keras_mask is None
        else:
            np.testing.assert_array_equal(outputs[0]._keras_mask, output_mask)
    assert [w.shape for w in layer.get_weights()] == [tuple(s) for s in weight_shapes]
    assert [tuple(w.shape) for w in layer.trainable_weights] == [tuple(s) for s in weight_shapes]
    assert all(w.dtype == np.dtype(layer.dtype) for w in layer.get_weights())

    spec = json.loads(json.dumps(serialize(layer)))  # must survive JSON
    clone = deserialize(spec)
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    clone(x, **call_kwargs)  # build
    clone.set_weights(layer.get_weights())
    if getattr(layer, "stateful", False):
        layer.reset_states()
        clone.reset_states()
    again = as_list(layer(x, **call_kwargs))
    cloned = as_list(clone(x, **call_kwargs))
    for a, b in zip(again, cloned):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    if train_step and layer.trainable_weights:
        _check_training_step(layer, x, call_kwargs)
    return layer


def _check_training_step(layer, x, call_kwargs):
    def loss():
        if getattr(layer, "stateful", False):
            layer.reset_states()
        total = None
        for i, out in enumerate(as_list(layer(x, **call_kwargs))):
            target = Tensor(np.random.default_rng(i).standard_normal(out.shape), dtype=out.dtype)
            term = ((out - target) ** 2).mean()
            total = term if total is None else total + term
        return total

    before = loss()
    layer.zero_grad()
    before.backward()
    grads = [w.grad for w in layer.trainable_weights]
    assert all(g is not None and np.isfinite(g).all() for g in grads), "every trainable weight gets a gradient"
    norm = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads))
    assert norm > 0
    for w, g in zip(layer.trainable_weights, grads):
        w.data -= (0.01 / norm) * g  # a small step along the negative gradient
    after = loss()
    assert after.item() < before.item(), f"one gradient step did not lower the loss: {before.item()} -> {after.item()}"


def check_param_gradients(forward, params, *, seed=0, eps=1e-6, rtol=1e-6, full_limit=120, directions=3):
    """Assert that backward() of ``sum_k <outputs_k, R_k>`` (random R) matches finite differences.

    ``forward()`` computes the outputs from the current ``.data`` of ``params`` (float64 Tensors that require
    grad: an input, the layer's weights, initial states). Returns the relative errors.
    """
    rng = np.random.default_rng(seed)
    outs = as_list(forward())
    projections = [rng.standard_normal(o.shape) for o in outs]
    for p in params:
        p.grad = None
    total = None
    for o, r in zip(outs, projections):
        if o.requires_grad:
            term = (o * Tensor(r, dtype=o.dtype)).sum()
            total = term if total is None else total + term
    total.backward()
    analytic = [np.zeros(p.shape) if p.grad is None else p.grad.copy() for p in params]

    def value() -> float:
        with no_grad():
            return float(sum(np.sum(o.numpy() * r) for o, r in zip(as_list(forward()), projections)))

    errors = []
    for p, grad in zip(params, analytic):
        if p.size <= full_limit:
            numeric = np.zeros(p.shape)
            for idx in np.ndindex(p.shape):
                keep = p.data[idx]
                p.data[idx] = keep + eps
                plus = value()
                p.data[idx] = keep - eps
                minus = value()
                p.data[idx] = keep
                numeric[idx] = (plus - minus) / (2 * eps)
            err = relative_error(grad, numeric)
        else:
            a_dirs, n_dirs = [], []
            for _ in range(directions):
                v = rng.standard_normal(p.shape)
                keep = p.data.copy()
                p.data[...] = keep + eps * v
                plus = value()
                p.data[...] = keep - eps * v
                minus = value()
                p.data[...] = keep
                n_dirs.append((plus - minus) / (2 * eps))
                a_dirs.append(float(np.sum(grad * v)))
            err = relative_error(np.array(a_dirs), np.array(n_dirs))
        name = getattr(p, "name", None) or f"shape {p.shape}"
        assert err < rtol, f"gradient of {name}: relative error {err:.3e} >= {rtol}"
        errors.append(err)
    return errors


def randomize_weights(layer, seed=0, scale=0.5):
    """Replace every weight by normal noise (biases included), so that zero biases hide nothing."""
    rng = np.random.default_rng(seed)
    layer.set_weights([scale * rng.standard_normal(w.shape) for w in layer.get_weights()])


def leaf(array, dtype="float64"):
    """A float Tensor that requires grad (for gradient checks)."""
    return Tensor(np.asarray(array), requires_grad=True, dtype=dtype)


def right_padded_mask(lengths, steps):
    """``(B, T)`` bool mask, True on the first ``lengths[b]`` steps of row ``b``."""
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]
