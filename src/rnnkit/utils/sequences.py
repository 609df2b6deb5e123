"""``pad_sequences``: a list of variable-length sequences as one ``(N, maxlen)`` array (Keras' function).

>>> from rnnkit.utils import pad_sequences
>>> pad_sequences([[1], [2, 3], [4, 5, 6]])
array([[0, 0, 1],
       [0, 2, 3],
       [4, 5, 6]], dtype=int32)
>>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding="post", truncating="post", value=-1)
array([[ 1, -1],
       [ 2,  3],
       [ 4,  5]], dtype=int32)
"""
from __future__ import annotations

import numpy as np

from rnnkit.errors import ConfigError, ShapeError

_SIDES = ("pre", "post")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (and cut) each sequence to ``maxlen`` (default: the longest), as ``keras.utils.pad_sequences``.

    Args:
        sequences: a list of sequences (lists or arrays); each element may itself be an array (all of one shape).
        maxlen: the output length; longer sequences are cut.
        dtype: the output dtype (``"int32"``); ``object`` or a string dtype for strings.
        padding: ``"pre"`` (default) or ``"post"``: where the padding goes.
        truncating: ``"pre"`` (default: drop the beginning) or ``"post"`` (drop the end).
        value: the padding value.

    Returns: an array of shape ``(len(sequences), maxlen, *element_shape)``.
    """
    if not hasattr(sequences, "__len__"):
        raise ConfigError(f"pad_sequences expects a list of sequences; got {type(sequences).__name__}")
    if padding not in _SIDES:
        raise ConfigError(f"pad_sequences: padding must be 'pre' or 'post'; got {padding!r}")
    if truncating not in _SIDES:
        raise ConfigError(f"pad_sequences: truncating must be 'pre' or 'post'; got {truncating!r}")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0):
        raise ConfigError(f"pad_sequences: maxlen must be None or a non-negative integer; got {maxlen!r}")
    lengths, element_shape = [], None
    for i, seq in enumerate(sequences):
        try:
            lengths.append(len(seq))
        except TypeError:
            raise ConfigError(f"pad_sequences expects a list of sequences; element {i} is not one: "
                              f"{seq!r:.60}") from None
        if element_shape is None and len(seq):
            element_shape = np.asarray(seq).shape[1:]
    element_shape = element_shape or ()
    is_text = np.issubdtype(np.dtype(dtype), np.str_) or np.issubdtype(np.dtype(dtype), np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text:
        raise ConfigError(f"pad_sequences: dtype {dtype} cannot hold the string padding value {value!r}; use "
                          "dtype=object for strings")
    if maxlen is None:
        maxlen = max(lengths, default=0)
    out = np.full((len(lengths), int(maxlen)) + tuple(element_shape), value, dtype=dtype)  # (N, maxlen, ...)
    if maxlen == 0:
        return out
    for i, seq in enumerate(sequences):
        if not len(seq):
            continue
        kept = np.asarray(seq[-maxlen:] if truncating == "pre" else seq[:maxlen], dtype=dtype)
        if kept.shape[1:] != tuple(element_shape):
            raise ShapeError(f"pad_sequences: sequence {i} has elements of shape {kept.shape[1:]}; the first "
                             f"non-empty sequence has {tuple(element_shape)}")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out
