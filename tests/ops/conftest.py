"""Fixtures for the op tests: a PyTorch twin comparison of values and gradients (float64)."""
import numpy as np
import pytest
from helpers.torch_ref import require_torch

from rnnkit import Tensor


def _as_list(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


@pytest.fixture
def torch_compare():
    """``compare(fn, torch_fn, arrays, wrt=None, tol=1e-10)``: same float64 inputs into rnnkit and PyTorch,
    random output weights, then assert equal outputs and equal gradients of every input in ``wrt``
    (default: every float input). Integer arrays are passed to ``torch_fn`` as int64 tensors."""
    torch = require_torch()

    def compare(fn, torch_fn, arrays, wrt=None, tol=1e-10, seed=0):
        arrays = [np.asarray(a) for a in arrays]
        arrays = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
        wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if wrt is None else list(wrt)
        ours = [Tensor(a, requires_grad=i in wrt, dtype=a.dtype) for i, a in enumerate(arrays)]
        theirs = [
            torch.tensor(a, requires_grad=i in wrt) if a.dtype.kind == "f" else torch.from_numpy(a.astype(np.int64))
            for i, a in enumerate(arrays)
        ]
        outs, touts = _as_list(fn(*ours)), _as_list(torch_fn(*theirs))
        assert len(outs) == len(touts)
        rng = np.random.default_rng(seed)
        total = 0
        for o, t in zip(outs, touts):
            expected = t.detach().numpy()
            assert o.shape == expected.shape, f"shape {o.shape} != torch {expected.shape}"
            np.testing.assert_allclose(o.data, expected, rtol=tol, atol=tol)
            w = rng.standard_normal(o.shape)
            if o.requires_grad:
                o.backward(w)
            total = total + (t * torch.tensor(w)).sum()
        total.backward()
        for i in wrt:
            expected = theirs[i].grad.numpy() if theirs[i].grad is not None else np.zeros(arrays[i].shape)
            got = ours[i].grad if ours[i].grad is not None else np.zeros(arrays[i].shape)
            np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, err_msg=f"gradient of input {i}")
        return ours, outs

    compare.torch = torch
    return compare
