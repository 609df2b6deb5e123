"""Finite-difference gradient checks for rnnkit ops and layers (float64).

``check_gradients(fn, arrays)`` runs ``fn(*tensors)`` (a Tensor or a list of Tensors), reduces the outputs
to a scalar with fixed random weights, back-propagates, and compares every input's gradient with central
differences. Small inputs are checked element by element; large ones (long sequences) along random
directions, which checks the same derivative with a few function evaluations.
"""
from __future__ import annotations

import numpy as np

from rnnkit import Tensor, no_grad

FULL_CHECK_LIMIT = 600  # elements; above this, directional derivatives


def _outputs(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(np.linalg.norm(a), np.linalg.norm(b), 1e-12)
    return float(np.linalg.norm(a - b) / scale)


def check_gradients(fn, arrays, *, wrt=None, seed=0, eps=1e-6, rtol=1e-6, directions=3, tensors_out=None):
    """Assert analytic == numerical gradients of ``fn`` w.r.t. each array (or those indexed by ``wrt``).

    ``tensors_out`` (optional list) receives the leaf tensors so that callers can read extra grads.
    Returns the list of relative errors.
    """
    rng = np.random.default_rng(seed)
    arrays = [np.array(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in arrays]
    wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if wrt is None else list(wrt)
    leaves = [Tensor(a, requires_grad=(i in wrt), dtype=a.dtype) for i, a in enumerate(arrays)]
    outs = _outputs(fn(*leaves))
    weights = [rng.standard_normal(o.shape) for o in outs]

    def scalar(values) -> float:
        with no_grad():
            result = _outputs(fn(*[Tensor(v, dtype=v.dtype) for v in values]))
        return float(sum(np.sum(o.data * w) for o, w in zip(result, weights)))

    total = None
    for o, w in zip(outs, weights):
        if o.requires_grad:
            term = (o * Tensor(w, dtype=o.dtype)).sum()
            total = term if total is None else total + term
    assert total is not None, "no output depends on the inputs"
    total.backward()
    if tensors_out is not None:
        tensors_out.extend(leaves)

    errors = []
    for i in wrt:
        analytic = leaves[i].grad if leaves[i].grad is not None else np.zeros_like(arrays[i])
        if arrays[i].size <= FULL_CHECK_LIMIT:
            numeric = np.zeros_like(arrays[i])
            for idx in np.ndindex(arrays[i].shape):
                plus = [a.copy() for a in arrays]
                minus = [a.copy() for a in arrays]
                plus[i][idx] += eps
                minus[i][idx] -= eps
                numeric[idx] = (scalar(plus) - scalar(minus)) / (2 * eps)
            err = relative_error(analytic, numeric)
        else:
            a_dirs, n_dirs = [], []
            for _ in range(directions):
                v = rng.standard_normal(arrays[i].shape)
                plus = [a.copy() for a in arrays]
                minus = [a.copy() for a in arrays]
                plus[i] += eps * v
                minus[i] -= eps * v
                n_dirs.append((scalar(plus) - scalar(minus)) / (2 * eps))
                a_dirs.append(float(np.sum(analytic * v)))
            err = relative_error(np.array(a_dirs), np.array(n_dirs))
        assert err < rtol, f"gradient of input {i} (shape {arrays[i].shape}): relative error {err:.3e} >= {rtol}"
        errors.append(err)
    return errors
