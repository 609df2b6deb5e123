"""Greedy and beam-search decoding over a step function, batched over sentences and deterministic.

A decoder is given as ``step(previous_ids, states) -> (log_probs, new_states)``: ``previous_ids`` is an int
array ``(N,)``, ``log_probs`` a float array ``(N, V)`` of log-probabilities of the next token, and ``states``
any nesting of lists / tuples / dicts of arrays whose first axis is ``N`` (recurrent states, and constants
such as encoder outputs, which the step returns unchanged). The search reorders and repeats the states along
that axis as hypotheses are kept and extended; it never looks inside them.

Both searches start from ``start_ids (B,)`` and ``states`` for ``B`` sentences, generate at most ``max_length``
tokens per sentence (the end token included) and return one :class:`Hypothesis` per sentence: the tokens
without the end token, the summed log-probability ``log_prob`` of the tokens generated (end token included),
and ``score``, the value hypotheses are ranked by.

- ``greedy_search``: the most probable token at each step (ties: the lowest id).
- ``beam_search``: ``beam_width`` live hypotheses per sentence. Each step extends every live hypothesis by
  every token and keeps the ``2 * beam_width`` best extensions: those ending with ``end_id`` and among the
  best ``beam_width`` join the sentence's finished hypotheses (the ``beam_width`` best are kept), the best
  ``beam_width`` others stay live. A sentence stops when no live hypothesis is left, when its ``beam_width``
  finished ones all score at least as well as the best live one would if it ended now (exact without length
  normalisation, where scores only fall), or at ``max_length`` (the live hypotheses then count too). The result is
  the finished hypothesis with the best ``score = log_prob / length ** alpha`` (``length``: tokens generated,
  end token included; ``alpha = 0``: no length normalisation, ``alpha = 1``: the mean log-probability per
  token). Ties are broken by hypothesis order, then token id: the same input gives the same output.
  With ``beam_width=1`` beam search is greedy search.

>>> import numpy as np
>>> table = np.log(np.array([[0.1, 0.6, 0.3],      # after token 0 (the start): 1 is likelier than 2
...                          [0.4, 0.3, 0.3],      # after 1: end (0) with 0.4
...                          [0.9, 0.05, 0.05]]))  # after 2: end with 0.9
>>> def step(previous, states):
...     return table[previous], states
>>> greedy_search(step, np.array([0]), [], max_length=5, end_id=0)[0].tokens
[1]
>>> best = beam_search(step, np.array([0]), [], beam_width=2, max_length=5, end_id=0)[0]
>>> best.tokens, round(float(np.exp(best.log_prob)), 2)    # 0.3 * 0.9 = 0.27 beats 0.6 * 0.4 = 0.24
([2], 0.27)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnkit.errors import ConfigError, ShapeError


@dataclass
class Hypothesis:
    """One decoded sentence: ``tokens`` (end token excluded), ``log_prob`` (sum over the generated tokens, end
    token included), ``score`` (``log_prob / length ** alpha``), ``finished`` (it ended with the end token)."""

    tokens: list = field(default_factory=list)
    log_prob: float = 0.0
    score: float = 0.0
    finished: bool = False


def map_states(fn, states):
    """``states`` with ``fn`` applied to every array inside (lists, tuples and dicts are kept)."""
    if isinstance(states, (list, tuple)):
        return type(states)(map_states(fn, s) for s in states)
    if isinstance(states, dict):
        return {k: map_states(fn, v) for k, v in states.items()}
    if states is None:
        return None
    return fn(states)


def _check(start_ids, max_length, end_id, beam_width=1, alpha=0.0) -> np.ndarray:
    start_ids = np.asarray(start_ids)
    if start_ids.ndim != 1 or start_ids.dtype.kind not in "iu":
        raise ShapeError(f"start_ids must be a 1-D integer array (one start token per sentence); got shape "
                         f"{start_ids.shape} and dtype {start_ids.dtype}")
    for name, value in (("max_length", max_length), ("beam_width", beam_width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive integer; got {value!r}")
    if not isinstance(end_id, (int, np.integer)) or isinstance(end_id, bool):
        raise ConfigError(f"end_id must be an integer token id; got {end_id!r}")
    if not np.isfinite(alpha) or alpha < 0:
        raise ConfigError(f"alpha (length normalisation) must be a number >= 0; got {alpha!r}")
    return start_ids.astype(np.int64)


def _log_probs(step, previous, states, rows: int):
    log_probs, states = step(previous, states)
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2 or log_probs.shape[0] != rows:
        raise ShapeError(f"the step function must return log-probabilities of shape ({rows}, vocabulary); got "
                         f"{log_probs.shape}")
    return log_probs, states


def greedy_search(step, start_ids, states, max_length: int, end_id: int) -> list:
    """The most probable next token at every step, for every sentence at once; a list of ``Hypothesis``."""
    start_ids = _check(start_ids, max_length, end_id)
    batch = len(start_ids)
    previous = start_ids
    tokens = np.full((batch, max_length), end_id, dtype=np.int64)
    log_prob = np.zeros(batch)
    length = np.zeros(batch, dtype=np.int64)
    live = np.ones(batch, dtype=bool)
    for t in range(max_length):
        rows = np.flatnonzero(live)
        if not len(rows):
            break
        log_probs, new_states = _log_probs(step, previous[rows], map_states(lambda s: s[rows], states), len(rows))
        chosen = np.argmax(log_probs, axis=1)  # first maximum: the lowest id on ties
        tokens[rows, t] = chosen
        log_prob[rows] += log_probs[np.arange(len(rows)), chosen]
        length[rows] += 1

        def put(old, new):
            old = old.copy()
            old[rows] = new
            return old

        states = map_states_pair(put, states, new_states)
        previous = previous.copy()
        previous[rows] = chosen
        live[rows[chosen == end_id]] = False
    out = []
    for b in range(batch):
        finished = bool(length[b] and tokens[b, length[b] - 1] == end_id)
        kept = tokens[b, :length[b] - 1 if finished else length[b]].tolist()
        out.append(Hypothesis(kept, float(log_prob[b]), float(log_prob[b]), finished))
    return out


def map_states_pair(fn, old, new):
    """``fn(old_array, new_array)`` over two states of the same nesting."""
    if isinstance(old, (list, tuple)):
        return type(old)(map_states_pair(fn, a, b) for a, b in zip(old, new))
    if isinstance(old, dict):
        return {k: map_states_pair(fn, old[k], new[k]) for k in old}
    if old is None:
        return None
    return fn(np.asarray(old), np.asarray(new))


def normalised(log_prob: float, length: int, alpha: float) -> float:
    """``log_prob / length ** alpha`` (the ranking score of a finished hypothesis)."""
    return log_prob / (max(length, 1) ** alpha) if alpha else log_prob


def keep_best(pool: list, hypothesis: Hypothesis, width: int) -> None:
    """Add ``hypothesis`` to ``pool``, keeping at most ``width``: the best scores, the earliest on ties."""
    if len(pool) < width:
        pool.append(hypothesis)
        return
    worst = min(range(len(pool)), key=lambda i: (pool[i].score, -i))
    if hypothesis.score > pool[worst].score:
        del pool[worst]
        pool.append(hypothesis)


def beam_search(step, start_ids, states, beam_width: int, max_length: int, end_id: int, alpha: float = 0.0) -> list:
    """Beam search for every sentence at once (see the module's description); a list of ``Hypothesis``."""
    start_ids = _check(start_ids, max_length, end_id, beam_width, alpha)
    batch, width = len(start_ids), int(beam_width)
    # live hypotheses: rows of sentence b are b*width ... b*width + width - 1; at first only one per sentence
    previous = np.repeat(start_ids, width)
    states = map_states(lambda s: np.repeat(np.asarray(s), width, axis=0), states)
    scores = np.tile(np.r_[0.0, np.full(width - 1, -np.inf)], batch)  # (B*K,) summed log-probabilities
    history = np.zeros((batch * width, 0), dtype=np.int64)  # (B*K, t) tokens so far
    finished: list[list] = [[] for _ in range(batch)]
    active = np.ones(batch, dtype=bool)
    for t in range(max_length):
        sentences = np.flatnonzero(active)
        if not len(sentences):
            break
        rows = (sentences[:, None] * width + np.arange(width)).ravel()  # (A*K,) rows of the active sentences
        log_probs, new_states = _log_probs(step, previous[rows], map_states(lambda s: s[rows], states), len(rows))
        vocabulary = log_probs.shape[1]
        candidates = (scores[rows, None] + log_probs).reshape(len(sentences), width * vocabulary)  # (A, K*V)
        keep = min(2 * width, candidates.shape[1])
        top = np.argpartition(-candidates, keep - 1, axis=1)[:, :keep]  # (A, 2K) the best, unordered
        top_scores = np.take_along_axis(candidates, top, axis=1)
        order = np.lexsort((top, -top_scores), axis=1)  # best first; ties: lower hypothesis, then lower token
        top = np.take_along_axis(top, order, axis=1)
        top_scores = np.take_along_axis(top_scores, order, axis=1)
        chosen_rows = np.empty((len(sentences), width), dtype=np.int64)  # into the A*K rows of this step
        chosen_tokens = np.full((len(sentences), width), end_id, dtype=np.int64)
        chosen_scores = np.full((len(sentences), width), -np.inf)
        for a, b in enumerate(sentences):
            slot = 0
            for position, (flat, value) in enumerate(zip(top[a], top_scores[a])):
                if not np.isfinite(value):
                    break
                beam, token = divmod(int(flat), vocabulary)
                if token == end_id:  # finished, if among the best ``width`` extensions (as fairseq)
                    if position < width:
                        hypothesis = Hypothesis(history[b * width + beam].tolist(), float(value),
                                                normalised(float(value), t + 1, alpha), True)
                        keep_best(finished[b], hypothesis, width)
                    continue
                if slot < width:
                    chosen_rows[a, slot], chosen_tokens[a, slot], chosen_scores[a, slot] = a * width + beam, \
                        token, value
                    slot += 1
            chosen_rows[a, slot:] = a * width  # padding hypotheses (score -inf) copy the first row
            if slot == 0 or (len(finished[b]) >= width and min(h.score for h in finished[b])
                             >= normalised(chosen_scores[a, 0], t + 1, alpha)):
                active[b] = False  # no live hypothesis left, or none that would rank among the finished
        picked = chosen_rows.ravel()  # (A*K,) for each row of ``rows``, its parent among this step's outputs

        def reorder(old, new):
            old = old.copy()
            old[rows] = new[picked]
            return old

        states = map_states_pair(reorder, states, new_states)
        parents = history[rows][picked]  # (A*K, t)
        history = np.concatenate([history, np.full((batch * width, 1), end_id, dtype=np.int64)], axis=1)
        history[rows] = np.concatenate([parents, chosen_tokens.reshape(-1, 1)], axis=1)  # (A*K, t + 1)
        previous = previous.copy()
        previous[rows] = chosen_tokens.ravel()
        scores[rows] = chosen_scores.ravel()
    results = []
    for b in range(batch):
        pool = list(finished[b])
        if active[b]:  # max_length reached: the live hypotheses count too
            for k in range(width):
                row = b * width + k
                if np.isfinite(scores[row]) and len(history[row]):
                    tokens = history[row].tolist()
                    pool.append(Hypothesis(tokens, float(scores[row]), normalised(float(scores[row]), len(tokens),
                                                                                  alpha), False))
        if not pool:
            results.append(Hypothesis([], 0.0, 0.0, False))
            continue
        best = max(range(len(pool)), key=lambda i: (pool[i].score, -i))  # ties: the one found first
        results.append(pool[best])
    return results
