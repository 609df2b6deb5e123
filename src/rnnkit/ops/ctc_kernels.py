"""Compiled alpha/beta recursions of the CTC loss, in log space, one sample at a time.

For a target ``l`` of length ``L`` the extended target is ``l' = (blank, l_1, blank, l_2, ..., l_L, blank)``,
``S = 2L + 1`` states. With ``y_t(c) = log_softmax(x_t)(c)`` (``logp``):

    alpha_0(0) = y_0(blank),  alpha_0(1) = y_0(l_1)
    alpha_t(s) = y_t(l'_s) + lse(alpha_{t-1}(s), alpha_{t-1}(s-1), [alpha_{t-1}(s-2) if l'_s != blank, l'_s != l'_{s-2}])
    beta_{T-1}(S-1) = y_{T-1}(blank),  beta_{T-1}(S-2) = y_{T-1}(l_L)
    beta_t(s)  = y_t(l'_s) + lse(beta_{t+1}(s), beta_{t+1}(s+1), [beta_{t+1}(s+2) if l'_s != blank, l'_s != l'_{s+2}])
    loss = -lse(alpha_{T-1}(S-1), alpha_{T-1}(S-2))

Both alpha and beta include the emission at ``t``, so the posterior occupancy of class ``c`` at ``t`` is

    occ_t(c) = exp(lse_{s: l'_s = c}(alpha_t(s) + beta_t(s)) - y_t(c) + loss)

and the gradient of the loss with respect to the logits is ``softmax(x_t) - occ_t`` for ``t < T`` (0 beyond the
sample's length, and 0 for a sample whose loss is infinite: no alignment exists).

>>> import numpy as np
>>> logp = np.log(np.full((1, 2, 2), 0.5))  # (B, T, C): two steps, blank and one class, each p = 1/2
>>> loss, grad = np.empty(1), np.empty((1, 2, 2))
>>> ctc_loss_and_grad(logp, np.array([[1]]), np.array([1]), np.array([2]), 0, loss, grad)
>>> round(float(np.exp(-loss[0])), 6)  # alignments "1 1", "0 1", "1 0": 3/4
0.75
"""
from __future__ import annotations

import math

import numpy as np

from rnnkit.compiled import jit

NEG_INF = -np.inf


@jit
def _lse2(a, b):
    """log(exp(a) + exp(b)), exact for -inf."""
    if a < b:
        a, b = b, a
    if b == -np.inf:
        return a
    return a + math.log1p(math.exp(b - a))


@jit
def ctc_loss_and_grad(logp, targets, target_lengths, output_lengths, blank, loss, grad):
    """Fill ``loss (B,)`` with the CTC negative log-likelihoods and ``grad (B, T, C)`` with
    ``softmax - occupancy`` (the gradient of each sample's loss w.r.t. its logits) from ``logp (B, T, C)``,
    float64 log-softmax values, ``targets (B, S_max)`` class ids, and the lengths ``(B,)``."""
    B, T, C = logp.shape
    s_cap = 2 * targets.shape[1] + 1
    alpha = np.empty((T, s_cap))
    beta = np.empty((T, s_cap))
    ext = np.empty(s_cap, np.int64)
    acc = np.empty(C)
    for b in range(B):
        L = target_lengths[b]
        Tb = output_lengths[b]
        S = 2 * L + 1
        for s in range(S):
            ext[s] = blank if s % 2 == 0 else targets[b, s // 2]
        lp = logp[b]
        g = grad[b]
        for t in range(T):
            for c in range(C):
                g[t, c] = 0.0
        if Tb == 0:
            loss[b] = 0.0 if L == 0 else np.inf
            continue
        # forward
        for s in range(S):
            alpha[0, s] = -np.inf
        alpha[0, 0] = lp[0, ext[0]]
        if S > 1:
            alpha[0, 1] = lp[0, ext[1]]
        for t in range(1, Tb):
            for s in range(S):
                a = alpha[t - 1, s]
                if s >= 1:
                    a = _lse2(a, alpha[t - 1, s - 1])
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    a = _lse2(a, alpha[t - 1, s - 2])
                alpha[t, s] = a + lp[t, ext[s]] if a != -np.inf else -np.inf
        end = alpha[Tb - 1, S - 1]
        if S > 1:
            end = _lse2(end, alpha[Tb - 1, S - 2])
        if end == -np.inf:
            loss[b] = np.inf  # no alignment of this target fits in Tb steps; its gradient stays 0
            continue
        nll = -end
        loss[b] = nll
        # backward
        for s in range(S):
            beta[Tb - 1, s] = -np.inf
        beta[Tb - 1, S - 1] = lp[Tb - 1, ext[S - 1]]
        if S > 1:
            beta[Tb - 1, S - 2] = lp[Tb - 1, ext[S - 2]]
        for t in range(Tb - 2, -1, -1):
            for s in range(S):
                a = beta[t + 1, s]
                if s + 1 < S:
                    a = _lse2(a, beta[t + 1, s + 1])
                if s + 2 < S and ext[s] != blank and ext[s] != ext[s + 2]:
                    a = _lse2(a, beta[t + 1, s + 2])
                beta[t, s] = a + lp[t, ext[s]] if a != -np.inf else -np.inf
        # softmax - occupancy
        for t in range(Tb):
            for c in range(C):
                acc[c] = -np.inf
            for s in range(S):
                ab = alpha[t, s] + beta[t, s]
                if ab != -np.inf:
                    acc[ext[s]] = _lse2(acc[ext[s]], ab)
            for c in range(C):
                occupancy = 0.0 if acc[c] == -np.inf else math.exp(acc[c] - lp[t, c] + nll)
                g[t, c] = math.exp(lp[t, c]) - occupancy
