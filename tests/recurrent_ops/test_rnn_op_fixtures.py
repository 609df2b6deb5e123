"""rnnkit against golden PyTorch results stored in ``tests/fixtures/torch_*.npz`` (made by
``scripts/make_torch_fixtures.py``): this check needs no torch, so it runs everywhere."""
from pathlib import Path

import numpy as np
import pytest
from helpers.gradcheck import relative_error
from recurrent_op_cases import lengths_mask, run

from rnnkit import Tensor

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NAMES = ["simple_rnn_tanh", "simple_rnn_relu", "lstm", "gru"]


@pytest.mark.parametrize("name", NAMES)
def test_matches_stored_torch_results(name):
    path = FIXTURES / f"torch_{name}.npz"
    assert path.exists(), f"missing fixture {path}; run scripts/make_torch_fixtures.py"
    with np.load(path, allow_pickle=False) as data:
        f = {k: data[k] for k in data.files}
    kind = str(f["kind"])
    names = ["x", "kernel", "recurrent_kernel", "bias", "h0"] + (["c0"] if kind == "lstm" else [])
    leaves = [Tensor(f[n], requires_grad=True, dtype="float64") for n in names]
    options = {"activation": str(f["activation"])} if kind == "simple_rnn" else {}
    mask = lengths_mask(f["lengths"], f["x"].shape[1])
    outputs, *finals = run(kind, names, leaves, mask=mask, **options)
    g_states = [f["g_h"]] + ([f["g_c"]] if kind == "lstm" else [])
    loss = (outputs * Tensor(f["g_out"], dtype="float64")).sum()
    for final, g in zip(finals, g_states):
        loss = loss + (final * Tensor(g, dtype="float64")).sum()
    loss.backward()
    ours = {"outputs": outputs.data, "h_last": finals[0].data}
    if kind == "lstm":
        ours["c_last"] = finals[1].data
    ours.update({"grad_" + n: leaf.grad for n, leaf in zip(names, leaves)})
    for key, value in ours.items():
        err = relative_error(value, f[key])
        assert err < 1e-9, f"{name}: {key} differs from PyTorch {f['torch_version']} by {err:.2e}"
