"""Dropout masks per gate for the recurrent-op tests, and a plain NumPy reference of Keras' implementation 1.

``gate_masks(kind, B, D, H, rate, seed)`` draws ``(G, B, D)`` input and ``(G, B, H)`` recurrent masks as Keras'
``dropout(ones, rate)`` makes them (0 or ``1 / (1 - rate)``). ``reference(kind, case, ...)`` computes the
outputs and final states step by step from the equations of keras/src/layers/rnn/{simple_rnn,lstm,gru}.py
(``implementation == 1``), written here independently of rnnkit's ops.
"""
from __future__ import annotations

import numpy as np

from recurrent_op_cases import GATES


def gate_masks(kind, B, D, H, rate=0.4, seed=0, inputs=True, recurrent=True):
    """``(input_masks (G, B, D) or None, recurrent_masks (G, B, H) or None)`` with kept units ``1 / (1 - rate)``."""
    rng = np.random.default_rng(seed)
    G = GATES[kind]

    def draw(shape):
        mask = (rng.random(shape) >= rate) / (1.0 - rate)
        mask.reshape(-1)[:2] = (0.0, 1.0 / (1.0 - rate))  # at least one dropped and one kept unit
        return mask

    return (draw((G, B, D)) if inputs else None), (draw((G, B, H)) if recurrent else None)


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def reference(kind, case, input_masks=None, recurrent_masks=None, mask=None, reset_after=True):
    """``[outputs (B, T, H), h_T (, c_T)]``: Keras' implementation 1 with the given masks (None: ones); a masked
    step (``mask (B, T)`` False) keeps the states and outputs 0, as the rnnkit ops do."""
    x, W, U, b = case["x"], case["kernel"], case["recurrent_kernel"], case["bias"]
    B, T, D = x.shape
    H = U.shape[0]
    G = GATES[kind]
    dm = np.ones((G, B, D)) if input_masks is None else input_masks
    rm = np.ones((G, B, H)) if recurrent_masks is None else recurrent_masks
    h = case["h0"].copy()
    c = case.get("c0", np.zeros((B, H))).copy()
    blocks = [slice(g * H, (g + 1) * H) for g in range(G)]
    outputs = np.zeros((B, T, H))
    for t in range(T):
        xs = [x[:, t] * dm[g] for g in range(G)]
        hs = [h * rm[g] for g in range(G)]
        if kind == "simple_rnn":
            new_h = np.tanh(xs[0] @ W + (0 if b is None else b) + hs[0] @ U)
            new_c = c
        elif kind == "lstm":
            z = [xs[g] @ W[:, blocks[g]] + (0 if b is None else b[blocks[g]]) + hs[g] @ U[:, blocks[g]]
                 for g in range(4)]
            i, f, g_, o = _sigmoid(z[0]), _sigmoid(z[1]), np.tanh(z[2]), _sigmoid(z[3])
            new_c = f * c + i * g_
            new_h = o * np.tanh(new_c)
        else:
            bx = np.zeros(3 * H) if b is None else (b[0] if reset_after else b)
            bh = np.zeros(3 * H) if b is None or not reset_after else b[1]
            xz, xr, xh = (xs[g] @ W[:, blocks[g]] + bx[blocks[g]] for g in range(3))
            z = _sigmoid(xz + hs[0] @ U[:, blocks[0]] + bh[blocks[0]])
            r = _sigmoid(xr + hs[1] @ U[:, blocks[1]] + bh[blocks[1]])
            if reset_after:
                hh = np.tanh(xh + r * (hs[2] @ U[:, blocks[2]] + bh[blocks[2]]))
            else:
                hh = np.tanh(xh + (r * hs[2]) @ U[:, blocks[2]])
            new_h = z * h + (1 - z) * hh
            new_c = c
        keep = np.ones((B, 1), bool) if mask is None else mask[:, t : t + 1]
        h, c = np.where(keep, new_h, h), np.where(keep, new_c, c)
        outputs[:, t] = np.where(keep, h, 0.0)
    return [outputs, h, c] if kind == "lstm" else [outputs, h]
