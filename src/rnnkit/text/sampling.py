"""Sampling text from a trained character model, one step at a time, carrying the recurrent states.

``sample_text(model, vocabulary, prime, length)`` makes a batch-of-one copy of ``model`` whose recurrent
layers are ``stateful`` (the trained model is left untouched), reads the whole prime in one call, then feeds
back one sampled character per step: each step costs one time step of the network, never a re-run of the
prefix. The next character is drawn from the model's distribution sharpened by ``temperature`` (probabilities
``p ** (1 / temperature)``, renormalised) and restricted to the ``top_k`` most likely characters; ``seed``
makes the text reproducible, and ``temperature=0`` takes the most likely character every step (greedy).

The model maps ids ``(1, T)`` to next-id probabilities ``(1, T, V)`` (or ``(1, V)``), as
``Embedding -> LSTM/GRU(return_sequences=True) -> Dense(V, softmax)``; ``vocabulary[i]`` is the text of id ``i``.

>>> import numpy as np
>>> from rnnkit.layers import Dense, Embedding, LSTM
>>> from rnnkit.models import Sequential
>>> vocabulary = ["", "[UNK]", "a", "b", "c"]
>>> model = Sequential([Embedding(5, 4), LSTM(8, return_sequences=True), Dense(5, activation="softmax")])
>>> model.build((None, 3))  # (a trained model is built already)
>>> text = sample_text(model, vocabulary, prime="ab", length=10, temperature=0.8, seed=1)
>>> len(text), text == sample_text(model, vocabulary, prime="ab", length=10, temperature=0.8, seed=1)
(10, True)
"""
from __future__ import annotations

import math

import numpy as np

from rnnkit.autograd import no_grad
from rnnkit.errors import ConfigError
from rnnkit.text.streams import stepping_copy

SPECIAL = ("", "[UNK]")  # never sampled: padding and the out-of-vocabulary id


def next_id(probabilities, temperature: float = 1.0, top_k: int | None = None, rng=None,
            banned=()) -> int:
    """Draw one id from ``probabilities`` (1-D) after temperature and top-k; ``temperature=0``: the argmax.

    >>> next_id(np.array([0.1, 0.6, 0.3]), temperature=0)
    1
    >>> next_id(np.array([0.1, 0.6, 0.3]), top_k=1, rng=np.random.default_rng(0))
    1
    """
    p = np.asarray(probabilities, dtype=np.float64).copy()
    if banned:
        p[list(banned)] = 0.0
    if temperature == 0 or not p.any():
        return int(np.argmax(p))
    if top_k is not None and top_k < len(p):
        cutoff = np.partition(p, len(p) - top_k)[len(p) - top_k]  # the k-th largest probability
        keep = np.flatnonzero(p >= cutoff)[:]
        if len(keep) > top_k:  # ties at the cutoff: keep the first ones, so exactly top_k remain
            order = np.argsort(-p[keep], kind="stable")
            keep = keep[order[:top_k]]
        mask = np.zeros_like(p, dtype=bool)
        mask[keep] = True
        p[~mask] = 0.0
    with np.errstate(divide="ignore"):
        logits = np.log(p) / temperature
    logits -= logits.max()
    weights = np.exp(logits)
    weights /= weights.sum()
    rng = rng if rng is not None else np.random.default_rng()
    return int(rng.choice(len(weights), p=weights))


def _ids(text: str, vocabulary: list, index: dict) -> list:
    unknown = index.get("[UNK]")
    ids = []
    for ch in text:
        i = index.get(ch, unknown)
        if i is None:
            raise ConfigError(f"the prime text holds {ch!r}, which is not in the model's vocabulary "
                              f"({len(vocabulary)} characters) and the vocabulary has no [UNK]")
        ids.append(i)
    return ids


def _last_probabilities(out) -> np.ndarray:
    data = np.asarray(out.data, dtype=np.float64)
    return data[0, -1] if data.ndim == 3 else data[0]  # (1, T, V) or (1, V) -> (V,)


def sample_text(model, vocabulary, prime: str, length: int, temperature: float = 1.0, top_k: int | None = None,
                seed: int | None = None) -> str:
    """``length`` characters generated after ``prime`` (the prime itself is not repeated).

    Args:
        model: a trained character model (ids -> next-id probabilities).
        vocabulary: the text of each id (``""`` and ``"[UNK]"`` are never generated).
        prime: the text to start from (non-empty); characters outside the vocabulary read as ``[UNK]``.
        length: how many characters to generate.
        temperature: > 0 sharpens (< 1) or flattens (> 1) the distribution; 0 is greedy (argmax).
        top_k: draw only among the ``top_k`` most likely characters (None: all).
        seed: the same seed gives the same text.
    """
    vocabulary = list(vocabulary)
    if not isinstance(prime, str) or not prime:
        raise ConfigError(f"prime must be a non-empty string; got {prime!r}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ConfigError(f"length must be a non-negative integer; got {length!r}")
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
        raise ConfigError(f"temperature must be a number >= 0; got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ConfigError(f"top_k must be None or a positive integer; got {top_k!r}")
    index = {ch: i for i, ch in enumerate(vocabulary)}
    banned = [index[s] for s in SPECIAL if s in index]
    rng = np.random.default_rng(seed)
    stepper = stepping_copy(model)
    out = []
    with no_grad():
        probabilities = _last_probabilities(stepper(np.array([_ids(prime, vocabulary, index)], dtype=np.int64)))
        for _ in range(int(length)):
            i = next_id(probabilities, temperature, top_k, rng, banned)
            out.append(vocabulary[i])
            probabilities = _last_probabilities(stepper(np.array([[i]], dtype=np.int64)))  # (1, 1): one step
    return "".join(out)
