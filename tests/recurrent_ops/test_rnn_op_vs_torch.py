"""rnnkit's fused recurrent ops against PyTorch's nn.RNN / nn.LSTM / nn.GRU on identical weights (float64):
outputs, final states, and the gradients of the inputs, initial states and every weight."""
import numpy as np
import pytest
from helpers.gradcheck import relative_error
from helpers.torch_ref import require_torch
from recurrent_op_cases import arrays_and_names, lengths_mask, make_case, run
from torch_twins import torch_run

from rnnkit import Tensor

TOL = 1e-9
CASES = [("simple_rnn", "tanh"), ("simple_rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru"]


def rnnkit_run(kind, case, g_out, g_states, mask=None, activation="tanh"):
    """Forward and backward in rnnkit with the same output/final-state gradients as :func:`torch_run`."""
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=True, dtype="float64") for a in arrays]
    options = {"activation": activation} if kind == "simple_rnn" else {}
    outputs, *finals = run(kind, names, leaves, mask=mask, **options)
    loss = (outputs * Tensor(g_out, dtype="float64")).sum()
    for f, g in zip(finals, g_states):
        loss = loss + (f * Tensor(g, dtype="float64")).sum()
    loss.backward()
    result = {"outputs": outputs.data, "h_last": finals[0].data}
    if kind == "lstm":
        result["c_last"] = finals[1].data
    result.update({n: leaf.grad for n, leaf in zip(names, leaves)})
    return result


def assert_same(ours, theirs, keys):
    for key in keys:
        err = relative_error(ours[key], theirs[key])
        assert err < TOL, f"{key}: relative error {err:.2e} between rnnkit and PyTorch"


def _grads(case, kind, seed):
    rng = np.random.default_rng(seed)
    B, T, H = case["x"].shape[0], case["x"].shape[1], case["h0"].shape[1]
    g_states = [rng.standard_normal((B, H)) for _ in range(2 if kind == "lstm" else 1)]
    return rng.standard_normal((B, T, H)), g_states


def _keys(kind, case):
    keys = ["outputs", "h_last", "x", "h0", "kernel", "recurrent_kernel"]
    keys += ["c_last", "c0"] if kind == "lstm" else []
    return keys + (["bias"] if case["bias"] is not None else [])


@pytest.mark.parametrize("kind, activation", CASES, ids=IDS)
@pytest.mark.parametrize("B, T, D, H", [(4, 6, 3, 5), (1, 1, 2, 3), (2, 40, 4, 8)])
def test_matches_torch(kind, activation, B, T, D, H):
    torch = require_torch()
    case = make_case(kind, B=B, T=T, D=D, H=H, seed=10 + T)
    g_out, g_states = _grads(case, kind, seed=T)
    ours = rnnkit_run(kind, case, g_out, g_states, activation=activation)
    theirs = torch_run(torch, kind, case, g_out, g_states, activation=activation)
    assert_same(ours, theirs, _keys(kind, case))


@pytest.mark.parametrize("kind, activation", CASES, ids=IDS)
def test_matches_torch_without_bias(kind, activation):
    torch = require_torch()
    case = make_case(kind, B=3, T=5, D=2, H=4, seed=21, use_bias=False)
    g_out, g_states = _grads(case, kind, seed=2)
    ours = rnnkit_run(kind, case, g_out, g_states, activation=activation)
    theirs = torch_run(torch, kind, case, g_out, g_states, activation=activation)
    assert_same(ours, theirs, _keys(kind, case))


@pytest.mark.parametrize("kind, activation", CASES, ids=IDS)
def test_masked_batch_matches_packed_sequences(kind, activation):
    """Right-padded rows with unsorted lengths == pack_padded_sequence(enforce_sorted=False): every valid step,
    zero outputs past each length, final states at each row's last valid step, and all gradients."""
    torch = require_torch()
    lengths = [3, 7, 1, 5, 7]
    T = 7
    case = make_case(kind, B=5, T=T, D=3, H=4, seed=31)
    g_out, g_states = _grads(case, kind, seed=3)
    ours = rnnkit_run(kind, case, g_out, g_states, mask=lengths_mask(lengths, T), activation=activation)
    theirs = torch_run(torch, kind, case, g_out, g_states, lengths=lengths, activation=activation)
    assert_same(ours, theirs, _keys(kind, case))
    assert np.all(ours["outputs"][0, 3:] == 0) and np.all(ours["x"][2, 1:] == 0)
