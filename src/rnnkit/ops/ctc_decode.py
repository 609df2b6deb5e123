"""Decoding of CTC outputs with Keras 3's ``keras.ops.ctc_decode`` conventions: greedy (best path) or prefix
beam search, on logits ``(B, T, C)`` with the blank at ``mask_index``.

Returns ``(decoded, scores)`` as NumPy arrays:

- ``decoded``: int32 ``(top_paths, B, T)`` label sequences packed to the left, padded with -1 (greedy: one path);
- ``scores``: greedy: ``(B, 1)``, minus the sum over the valid steps of the largest logit (Keras' value);
  beam search: ``(B, top_paths)``, the log-probability of each labelling (summed over its alignments that stayed
  in the beam), best first.

Greedy takes the most likely class at each step, merges repeats (``merge_repeated``) and drops blanks. Beam
search keeps, for every candidate labelling (prefix), the log-probabilities of its alignments ending in a blank
and in its last label, and keeps the ``beam_width`` most likely prefixes after each step. It finds labellings
that greedy misses when the probability of one labelling is spread over many alignments:

>>> import numpy as np
>>> p = np.array([[[0.4, 0.6, 0.0], [0.4, 0.6, 0.0]]]) + 1e-12  # (B, T, C) probabilities, class 0 = blank
>>> greedy, _ = ctc_decode(np.log(p), np.array([2]))  # best path: "1 1" -> "1" (0.36)
>>> beam, scores = ctc_decode(np.log(p), np.array([2]), strategy="beam_search", top_paths=2)
>>> greedy[0, 0].tolist(), beam[:, 0].tolist()  # "1" has 0.36 + 0.24 + 0.24 = 0.84; "" has 0.16
([1, -1], [[1, -1], [-1, -1]])
>>> np.round(np.exp(scores), 4).tolist()
[[0.84, 0.16]]
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError, DataError, ShapeError


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _lse(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    return a if b == -np.inf else a + float(np.log1p(np.exp(b - a)))


def ctc_decode(inputs, sequence_lengths, strategy: str = "greedy", beam_width: int = 100, top_paths: int = 1,
               merge_repeated: bool = True, mask_index: int = 0):
    """Decode CTC logits ``inputs (B, T, C)`` with valid lengths ``sequence_lengths (B,)``.

    Args (Keras' names and defaults):
        strategy: ``"greedy"`` or ``"beam_search"``.
        beam_width: prefixes kept after each step (beam search).
        top_paths: number of labellings returned (beam search; greedy returns one).
        merge_repeated: merge a label repeated on consecutive steps (the CTC rule); False emits every
            non-blank step.
        mask_index: the blank class.

    Returns:
        ``(decoded, scores)``: see the module docstring.
    """
    x = np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs)
    if x.ndim != 3:
        raise ShapeError(f"ctc_decode: inputs must be logits of shape (batch_size, max_length, num_classes); got "
                         f"shape {x.shape}")
    B, T, C = x.shape
    x = x.astype(np.float64) if x.dtype != np.float64 else x
    lengths = np.asarray(sequence_lengths.data if isinstance(sequence_lengths, Tensor) else sequence_lengths)
    if lengths.ndim == 2 and lengths.shape[1] == 1:
        lengths = lengths[:, 0]  # (B, 1) -> (B,)
    if lengths.shape != (B,):
        raise ShapeError(f"ctc_decode: sequence_lengths must have shape ({B},); got shape {lengths.shape}")
    lengths = np.clip(lengths.astype(np.int64), 0, T)
    blank = int(mask_index)
    if not 0 <= blank < C:
        raise DataError(f"ctc_decode: mask_index {mask_index} is not a class of the {C} in inputs (0..{C - 1})")
    if strategy == "greedy":
        return _greedy(x, lengths, bool(merge_repeated), blank)
    if strategy == "beam_search":
        if int(beam_width) < 1 or int(top_paths) < 1:
            raise ConfigError(f"ctc_decode: beam_width and top_paths must be >= 1; got {beam_width} and {top_paths}")
        if int(top_paths) > int(beam_width):
            raise ConfigError(f"ctc_decode: top_paths ({top_paths}) cannot exceed beam_width ({beam_width})")
        return _beam_search(x, lengths, int(beam_width), int(top_paths), bool(merge_repeated), blank)
    raise ConfigError(f"Invalid strategy {strategy}. Supported values are 'greedy' and 'beam_search'.")


def _greedy(x: np.ndarray, lengths: np.ndarray, merge_repeated: bool, blank: int):
    B, T, _ = x.shape
    best = x.argmax(axis=-1)  # (B, T)
    valid = np.arange(T)[None, :] < lengths[:, None]  # (B, T)
    best = np.where(valid, best, blank)
    keep = best != blank
    if merge_repeated:
        keep[:, 1:] &= best[:, 1:] != best[:, :-1]
    decoded = np.full((1, B, T), -1, dtype=np.int32)
    for b in range(B):
        labels = best[b][keep[b]]
        decoded[0, b, : labels.size] = labels
    scores = -np.where(valid, x.max(axis=-1), 0.0).sum(axis=1, keepdims=True)  # (B, 1)
    return decoded, scores


def _beam_search(x: np.ndarray, lengths: np.ndarray, beam_width: int, top_paths: int, merge_repeated: bool,
                 blank: int):
    B, T, C = x.shape
    logp = _log_softmax(x)  # (B, T, C)
    decoded = np.full((top_paths, B, T), -1, dtype=np.int32)
    scores = np.full((B, top_paths), -np.inf)
    for b in range(B):
        beams = _prefix_beam_search(logp[b, : lengths[b]], beam_width, merge_repeated, blank)
        for k, (prefix, score) in enumerate(beams[:top_paths]):
            decoded[k, b, : len(prefix)] = prefix
            scores[b, k] = score
    return decoded, scores


def _prefix_beam_search(logp: np.ndarray, beam_width: int, merge_repeated: bool, blank: int) -> list:
    """``[(prefix tuple, log-probability)]`` best first, for one sample's log-probabilities ``(T, C)``.

    Each prefix carries ``(pb, pnb)``: log-probabilities of its alignments so far that end in a blank and in
    its last label. Extending prefix ``p`` by class ``c`` at step ``t``:

        p stays:  pb'(p) += y(blank) + lse(pb, pnb);  pnb'(p) += y(last) + pnb       (repeat merged)
        p + c:    pnb'(p + c) += y(c) + (pb if c == last and merge_repeated else lse(pb, pnb))

    Only the ``beam_width`` best new prefixes are formed: every other one would rank below them after merging
    (a new prefix can only merge with a kept prefix, whose extensions are always formed)."""
    T, C = logp.shape
    beams = {(): (0.0, -np.inf)}
    others = np.array([c for c in range(C) if c != blank], dtype=np.int64)
    for t in range(T):
        y = logp[t]
        prefixes = list(beams)
        pb = np.array([beams[p][0] for p in prefixes])
        pnb = np.array([beams[p][1] for p in prefixes])
        total = np.logaddexp(pb, pnb)  # (N,)
        nxt: dict = {}

        def add(prefix, b_score, nb_score):
            old = nxt.get(prefix)
            nxt[prefix] = (b_score, nb_score) if old is None else (_lse(old[0], b_score), _lse(old[1], nb_score))

        for i, p in enumerate(prefixes):
            stay_nb = pnb[i] + y[p[-1]] if (p and merge_repeated) else -np.inf
            add(p, total[i] + y[blank], stay_nb)
        # extensions (N, C'): from both endings, except a repeat, which only follows a blank
        ext = total[:, None] + y[others][None, :]
        if merge_repeated:
            for i, p in enumerate(prefixes):
                if p:
                    where = np.searchsorted(others, p[-1])
                    ext[i, where] = pb[i] + y[p[-1]]
        flat = ext.ravel()
        chosen = set()
        if flat.size > beam_width:
            chosen.update(np.argpartition(-flat, beam_width - 1)[:beam_width].tolist())
        else:
            chosen.update(range(flat.size))
        for i, p in enumerate(prefixes):  # extensions that merge into a kept prefix are always formed
            if len(p) and p[:-1] in beams:
                chosen.add(prefixes.index(p[:-1]) * others.size + int(np.searchsorted(others, p[-1])))
        for k in chosen:
            i, j = divmod(k, others.size)
            if flat[k] == -np.inf:
                continue
            add(prefixes[i] + (int(others[j]),), -np.inf, float(flat[k]))
        ranked = sorted(nxt.items(), key=lambda item: -_lse(*item[1]))
        beams = dict(ranked[:beam_width])
    result = [(p, _lse(*s)) for p, s in beams.items()]
    result.sort(key=lambda item: -item[1])
    return result
