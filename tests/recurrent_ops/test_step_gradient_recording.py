"""The per-step state gradients the fused ops record (ops/recurrent/recording.py) against central differences of
the loss with respect to a perturbation of the state h_t (LSTM also c_t) after step t, computed by running the op
in two pieces with the perturbed state between them; and recording off leaves every result bit-identical."""
from __future__ import annotations

import numpy as np
import pytest
from recurrent_op_cases import arrays_and_names, lengths_mask, make_case, padded_and_gapped_mask, run

from rnnkit import Tensor
from rnnkit.ops.recurrent import recording, record_step_gradients

KINDS = [("simple_rnn", {}), ("lstm", {}), ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn", "lstm", "gru-after", "gru-before"]
B, T, D, H = 4, 6, 3, 5


def masks():
    end = lengths_mask([6, 4, 2, 5], T)  # padded at the end (rows 1-3)
    front = end[:, ::-1].copy()  # padded at the front
    return {"nomask": None, "end": end, "front": front, "gapped": padded_and_gapped_mask(B, T)}


def weights_of(kind, seed=3):
    """Upstream gradients: of the outputs ``(B, T, H)`` and of each final state ``(B, H)``."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, T, H)), [rng.standard_normal((B, H)) for _ in range(2 if kind == "lstm" else 1)]


def loss_of(kind, case, options, mask, g_out, g_states, shift=None):
    """``sum(outputs * g_out) + sum(final states * g_states)`` in float64; ``shift = (t, {"h": d, "c": d})`` adds
    ``d`` to the state ``h_t`` (``c_t``) as step ``t`` computes it: the sequence runs as three pieces, steps before
    ``t``, step ``t`` and the steps after, the perturbation between step ``t``'s state and its uses (the output at
    ``t`` where it is not masked, the next step, the final state). For LSTM, step ``t`` is computed here by hand so
    that a shifted ``c_t`` also reaches ``h_t = o * tanh(c_t)``."""
    arrays, names = arrays_and_names(case)
    args = dict(zip(names, [Tensor(a, dtype="float64") for a in arrays]))
    if shift is None:
        results = run(kind, list(args), list(args.values()), mask=mask, **options)
        return _weighted(results[0].data, [r.data for r in results[1:]], g_out, g_states)
    t, deltas = shift
    states = [case["h0"]] + ([case["c0"]] if kind == "lstm" else [])
    outputs = np.zeros((B, 0, H))
    if t > 0:
        outputs, states = _piece(kind, args, options, mask, 0, t, states)
    valid = np.ones((B, 1), bool) if mask is None else mask[:, t : t + 1]  # (B, 1)
    if kind == "lstm":
        states = _lstm_step_by_hand(case, t, states, valid, deltas)
    else:
        _, stepped = _piece(kind, args, options, mask, t, t + 1, states)
        states = [stepped[0] + deltas["h"]]
    outputs = np.concatenate([outputs, (states[0] * valid)[:, None]], axis=1)  # (B, t+1, H): a masked step outputs 0
    if t + 1 < T:
        rest, states = _piece(kind, args, options, mask, t + 1, T, states)
        outputs = np.concatenate([outputs, rest], axis=1)
    return _weighted(outputs, states, g_out, g_states)


def _weighted(outputs, finals, g_out, g_states):
    return float(np.sum(outputs * g_out) + sum(np.sum(f * g) for f, g in zip(finals, g_states)))


def _piece(kind, args, options, mask, t0, t1, states):
    """The op over steps ``[t0, t1)`` from ``states``: ``(outputs (B, t1-t0, H), final states)``."""
    piece = dict(args, x=Tensor(args["x"].data[:, t0:t1], dtype="float64"), h0=Tensor(states[0], dtype="float64"))
    if kind == "lstm":
        piece["c0"] = Tensor(states[1], dtype="float64")
    results = run(kind, list(piece), list(piece.values()), mask=None if mask is None else mask[:, t0:t1], **options)
    return results[0].data, [r.data for r in results[1:]]


def _lstm_step_by_hand(case, t, states, valid, deltas):
    """LSTM step ``t`` (Keras gate order i, f, c, o; tanh and sigmoid) with ``deltas`` added to ``c_t`` before
    ``h_t`` reads it and to ``h_t``; a masked row carries ``h_{t-1}``, ``c_{t-1}`` (then ``h_t`` does not read
    ``c_t``)."""
    h, c = states
    z = case["x"][:, t] @ case["kernel"] + h @ case["recurrent_kernel"] + case["bias"]  # (B, 4H)
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H : 2 * H]), np.tanh(z[:, 2 * H : 3 * H]), sigmoid(z[:, 3 * H :])
    c_new = np.where(valid, f * c + i * g, c) + deltas["c"]
    h_new = np.where(valid, o * np.tanh(c_new), h) + deltas["h"]
    return [h_new, c_new]


def recorded(kind, case, options, mask, g_out, g_states, dtype="float64", x_grad=True):
    """One forward + backward under the recorder; returns the op's record and the leaves' gradients."""
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=(n != "x" or x_grad), dtype=dtype) for a, n in zip(arrays, names)]
    with record_step_gradients() as recorder:
        results = run(kind, names, leaves, mask=mask, **options)
        loss = sum((r * Tensor(g, dtype=dtype)).sum() for r, g in zip(results, [g_out, *g_states]))
        loss.backward()
    (record,) = recorder.records
    return record, results, [leaf.grad for leaf in leaves]


@pytest.mark.parametrize("mask_name", ["nomask", "end", "front", "gapped"])
@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
def test_recorded_state_gradients_equal_central_differences(kind, options, mask_name):
    case = make_case(kind, B=B, T=T, D=D, H=H, seed=11, reset_after=options.get("reset_after", True))
    mask = masks()[mask_name]
    g_out, g_states = weights_of(kind)
    record, _, _ = recorded(kind, case, options, mask, g_out, g_states)
    assert record.op == kind and record.sizes == (B, T, D, H) and record.h.shape == (B, T, H)
    assert (record.c is not None) == (kind == "lstm")
    rng = np.random.default_rng(5)
    eps = 1e-6
    for t in range(T):
        for state in ("h", "c") if kind == "lstm" else ("h",):
            direction = rng.standard_normal((B, H))
            zeros = {"h": np.zeros((B, H)), "c": np.zeros((B, H))}
            plus = loss_of(kind, case, options, mask, g_out, g_states, (t, dict(zeros, **{state: eps * direction})))
            minus = loss_of(kind, case, options, mask, g_out, g_states, (t, dict(zeros, **{state: -eps * direction})))
            numeric = (plus - minus) / (2 * eps)
            analytic = float(np.sum(getattr(record, state)[:, t] * direction))
            assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8), (state, t)
    # the unshifted two-piece run is the op itself (the check's own check)
    assert loss_of(kind, case, options, mask, g_out, g_states, (2, zeros)) == pytest.approx(
        loss_of(kind, case, options, mask, g_out, g_states), rel=1e-12)


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
def test_recorded_input_gradient_is_the_ops_even_when_x_needs_none(kind, options):
    case = make_case(kind, B=B, T=T, D=D, H=H, seed=12, reset_after=options.get("reset_after", True))
    mask = masks()["gapped"]
    g_out, g_states = weights_of(kind)
    record, _, grads = recorded(kind, case, options, mask, g_out, g_states)
    np.testing.assert_array_equal(record.x, grads[0])
    constant_x, _, grads_without = recorded(kind, case, options, mask, g_out, g_states, x_grad=False)
    assert grads_without[0] is None  # x needs no gradient: the op still hands the recorder one
    np.testing.assert_array_equal(constant_x.x, grads[0])
    np.testing.assert_array_equal(constant_x.h, record.h)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mask_name", ["nomask", "gapped"])
@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
def test_recording_leaves_every_result_bit_identical(kind, options, mask_name, dtype):
    case = make_case(kind, B=B, T=T, D=D, H=H, seed=13, reset_after=options.get("reset_after", True))
    mask = masks()[mask_name]
    g_out, g_states = weights_of(kind)
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
    results = run(kind, names, leaves, mask=mask, **options)
    sum((r * Tensor(g, dtype=dtype)).sum() for r, g in zip(results, [g_out, *g_states])).backward()
    plain = [r.data.copy() for r in results] + [leaf.grad.copy() for leaf in leaves]
    record, results_rec, grads_rec = recorded(kind, case, options, mask, g_out, g_states, dtype)
    assert record.h.dtype == np.dtype(dtype)
    for got, want in zip([r.data for r in results_rec] + grads_rec, plain):
        np.testing.assert_array_equal(got, want)


def test_nothing_is_recorded_outside_the_context_and_the_context_always_closes():
    case = make_case("lstm", B=2, T=3, D=2, H=3)
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    assert recording.start("lstm", (2, 3, 2, 3)) is None and recording.step_arrays(None, (3, 3, 2), "f8", 2)[0].size == 0
    with pytest.raises(ValueError):
        with record_step_gradients() as recorder:
            outputs = run("lstm", names, leaves)[0]
            raise ValueError("the caller failed")
    assert not recording._ACTIVE  # the recorder is gone even though the block raised
    outputs.sum().backward()  # a backward after the context still fills the record of an op run inside it
    assert recorder.records[0].h.shape == (2, 3, 3) and recorder.records[0].outputs() is outputs
    gru_arrays, gru_names = arrays_and_names(make_case("gru", B=2, T=3, D=2, H=3))
    with record_step_gradients() as outer:
        with recording.label("layer a"):
            run("gru", gru_names, [Tensor(a, requires_grad=True) for a in gru_arrays])
        with record_step_gradients() as inner:  # contexts nest: the innermost one records
            run("simple_rnn", ["x", "kernel", "recurrent_kernel", "h0"],
                [leaves[0], Tensor(np.ones((2, 3))), Tensor(np.eye(3), requires_grad=True), leaves[4]])
    assert [r.op for r in outer.records] == ["gru"] and outer.labelled("layer a") == outer.records
    assert [r.op for r in inner.records] == ["simple_rnn"] and inner.records[0].h is None  # no backward ran
    run("lstm", names, leaves)[0].sum().backward()
    assert len(outer.records) == 1 and len(recorder.records) == 1
