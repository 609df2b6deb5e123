"""Random inputs and weights for the recurrent-op tests (Keras layout, float64), and a one-call runner.

``make_case(kind, ...)`` returns a dict of arrays; ``run(kind, case, ...)`` calls the matching rnnkit op.
"""
from __future__ import annotations

import numpy as np

from rnnkit.ops.recurrent import gru, lstm, simple_rnn

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def make_case(kind, B=3, T=4, D=2, H=3, seed=0, reset_after=True, use_bias=True, scale=0.6):
    """Inputs ``x (B, T, D)``, weights, and initial states ``h0`` (and ``c0`` for LSTM), all float64."""
    rng = np.random.default_rng(seed)
    G = GATES[kind]
    case = {
        "x": rng.standard_normal((B, T, D)),
        "kernel": rng.standard_normal((D, G * H)) * scale,
        "recurrent_kernel": rng.standard_normal((H, G * H)) * scale,
        "bias": None,
        "h0": rng.standard_normal((B, H)) * 0.5,
    }
    if use_bias:
        shape = (2, G * H) if kind == "gru" and reset_after else (G * H,)
        case["bias"] = rng.standard_normal(shape) * 0.3
    if kind == "lstm":
        case["c0"] = rng.standard_normal((B, H)) * 0.5
    return case


def arrays_and_names(case):
    """The float arrays of ``case`` in the op's argument order (the absent bias left out), and their names."""
    names = ["x", "kernel", "recurrent_kernel", "bias", "h0"] + (["c0"] if "c0" in case else [])
    names = [n for n in names if case[n] is not None]
    return [case[n] for n in names], names


def run(kind, names, arrays, mask=None, **options):
    """Call the rnnkit op for ``kind`` with ``arrays`` named by ``names`` (missing bias -> None)."""
    args = dict(zip(names, arrays))
    args.setdefault("bias", None)
    common = (args["x"], args["kernel"], args["recurrent_kernel"], args["bias"], args["h0"])
    if kind == "simple_rnn":
        return simple_rnn(*common, mask=mask, **options)
    if kind == "lstm":
        return lstm(*common, args["c0"], mask=mask, **options)
    return gru(*common, mask=mask, **options)


def lengths_mask(lengths, T):
    """Right-padded mask ``(B, T)``: True for the first ``lengths[b]`` steps of each row."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def padded_and_gapped_mask(B, T):
    """``(B, T)`` mask: row 0 right-padded by two steps, row 1 masked in the middle, the rest full."""
    mask = np.ones((B, T), bool)
    mask[0, T - 2 :] = False
    mask[1, 1 : T - 1] = False
    return mask
