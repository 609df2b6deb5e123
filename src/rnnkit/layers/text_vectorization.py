"""TextVectorization: strings -> token ids, multi-hot, counts or TF-IDF vectors (Keras 3 ``TextVectorization``).

Each string goes through three steps, as in Keras:

1. ``standardize``: ``"lower_and_strip_punctuation"`` (default), ``"lower"``, ``"strip_punctuation"`` or None.
   As Keras (``tf.strings.lower`` and its punctuation pattern), only ASCII letters are lowered and only the 32
   ASCII punctuation characters are removed: ``"École!"`` becomes ``"École"``.
2. ``split``: ``"whitespace"`` (runs of ASCII whitespace, no empty tokens), ``"character"`` (Unicode code
   points) or None (the whole string is one token); then ``ngrams`` (an int ``n`` for 1..n-grams, or a tuple of
   widths) joins neighbouring tokens with a space, all the grams of the first width first.
3. lookup in the vocabulary (``adapt`` counts tokens: most frequent first, ties by the token, higher first):

   - ``output_mode="int"``: index 0 is padding (``""``), 1 is ``"[UNK]"`` (out of vocabulary), tokens from 2.
     Rows are padded with 0 to the longest row, or cut/padded to ``output_sequence_length``. dtype int64.
   - ``"multi_hot"``, ``"count"``, ``"tf_idf"``: no padding slot: index 0 is ``"[UNK]"``, tokens from 1; one
     float row of ``vocabulary_size()`` (``max_tokens`` with ``pad_to_max_tokens``) per string. TF-IDF is
     ``count * idf`` with ``idf = log(1 + documents / (1 + documents containing the token))``; the ``[UNK]``
     slot gets the mean idf of the learned tokens.

``max_tokens`` counts the special tokens. The vocabulary and idf weights are part of the layer's config, so a
model saved with ``model.save`` and read back with ``load_model`` vectorizes identically.

Inputs: a list or NumPy array of Python strings, shape ``(N,)`` or ``(N, 1)`` (bytes are decoded as UTF-8).

>>> from rnnkit.layers import TextVectorization
>>> layer = TextVectorization(output_sequence_length=4)
>>> layer.adapt(["the cat sat", "the dog", "The END!"])
>>> layer.get_vocabulary()
['', '[UNK]', 'the', 'sat', 'end', 'dog', 'cat']
>>> layer(["The cat ran."]).numpy()
array([[2, 6, 1, 0]])
>>> TextVectorization(output_mode="count", vocabulary=["a", "b"])(["a b a c"]).numpy()
array([[1., 2., 1.]], dtype=float32)
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError, DataError, ShapeError
from rnnkit.layers.base import Layer

PADDING = ""
OOV = "[UNK]"
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = ("whitespace", "character")
OUTPUT_MODES = ("int", "multi_hot", "count", "tf_idf")

_ASCII_LOWER = {ord(c): ord(c) + 32 for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_PUNCTUATION = {ord(c): None for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}
_ASCII_SPACE = re.compile(r"[ \t\n\v\f\r]+")


def _strings(data, where: str) -> np.ndarray:
    """``data`` (list, array, Tensor of strings or bytes) as a NumPy array of ``str``."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (str, bytes)):
        data = [data]
    array = np.asarray(data, dtype=object) if not isinstance(data, np.ndarray) else data
    if array.dtype.kind == "U":
        return array
    if array.dtype.kind in "OS":
        flat = [_text(x, where) for x in array.ravel()]
        return np.array(flat, dtype=str).reshape(array.shape) if flat else np.zeros(array.shape, dtype=str)
    raise DataError(f"{where} expects strings (a list or array of str); got an array of dtype {array.dtype}")


def _text(value, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(f"{where}: a bytes input is not valid UTF-8 ({error})") from None
    raise DataError(f"{where} expects strings; got an element of type {type(value).__name__}: {value!r:.60}")


class TextVectorization(Layer):
    """Turn a batch of strings into token ids (or bag-of-words vectors), with Keras 3's arguments.

    Args:
        max_tokens: the largest vocabulary, special tokens included (None: no limit).
        standardize: ``"lower_and_strip_punctuation"``, ``"lower"``, ``"strip_punctuation"``, None, or a
            callable taking and returning a NumPy array of ``str`` (not savable).
        split: ``"whitespace"``, ``"character"`` or None.
        ngrams: None, an int ``n`` (grams of widths 1..n) or a tuple of widths.
        output_mode: ``"int"``, ``"multi_hot"``, ``"count"`` or ``"tf_idf"`` (``"binary"`` and ``"tf-idf"``
            are accepted as Keras' old names).
        output_sequence_length: ``"int"`` mode only: cut or pad every row to this length.
        pad_to_max_tokens: non-int modes: rows of ``max_tokens`` columns even if the vocabulary is smaller.
        vocabulary: a list of tokens instead of ``adapt`` (special tokens may lead, in Keras' order).
        idf_weights: ``"tf_idf"`` with ``vocabulary``: one weight per token.

    Output: ``(N, T)`` int64 ids (``"int"``), or ``(N, depth)`` float32 rows.

    >>> layer = TextVectorization(output_mode="tf_idf", ngrams=2)
    >>> layer.adapt(["a b", "a c"])
    >>> layer.get_vocabulary()
    ['[UNK]', 'a', 'c', 'b', 'a c', 'a b']
    >>> layer(["a b a"]).numpy().round(3)
    array([[0.657, 1.022, 0.   , 0.693, 0.   , 0.693]], dtype=float32)
    """

    cast_integer_inputs = False  # integer ids stay integers (see Layer.cast_integer_inputs)

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", has_input_vocabulary=None,
                 vocabulary_size=None, **kwargs):
        super().__init__(**kwargs)
        if not (standardize is None or standardize in STANDARDIZE or callable(standardize)):
            raise ConfigError(f"TextVectorization: standardize must be one of {STANDARDIZE}, None or a callable; "
                              f"got {standardize!r}")
        if not (split is None or split in SPLIT):
            raise ConfigError(f"TextVectorization: split must be one of {SPLIT} or None; got {split!r}")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in OUTPUT_MODES:
            raise ConfigError(f"TextVectorization: output_mode must be one of {OUTPUT_MODES}; got {output_mode!r}")
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        ok = ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool) and ngrams >= 1) or (
            isinstance(ngrams, tuple) and ngrams and all(isinstance(n, int) and n >= 1 for n in ngrams))
        if not ok:
            raise ConfigError(f"TextVectorization: ngrams must be None, a positive integer or a tuple of them; "
                              f"got {ngrams!r}")
        if output_sequence_length is not None:
            if output_mode != "int":
                raise ConfigError("TextVectorization: output_sequence_length must not be set if output_mode is not "
                                  f"'int'; got output_sequence_length={output_sequence_length!r} with "
                                  f"output_mode={output_mode!r}")
            if isinstance(output_sequence_length, bool) or not isinstance(output_sequence_length, int) \
                    or output_sequence_length < 0:
                raise ConfigError("TextVectorization: output_sequence_length must be None or a non-negative "
                                  f"integer; got {output_sequence_length!r}")
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                       or max_tokens <= (2 if output_mode == "int" else 1)):
            raise ConfigError(f"TextVectorization: max_tokens must be None or an integer above the "
                              f"{2 if output_mode == 'int' else 1} special token(s); got {max_tokens!r}")
        if pad_to_max_tokens and max_tokens is None:
            raise ConfigError("TextVectorization: pad_to_max_tokens=True needs max_tokens")
        if sparse or ragged:
            raise ConfigError("TextVectorization: sparse and ragged outputs need TensorFlow; rnnkit returns dense "
                              "arrays (sparse=False, ragged=False)")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ConfigError(f"TextVectorization: idf_weights is only used with output_mode='tf_idf'; got "
                              f"output_mode={output_mode!r}")
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ConfigError("TextVectorization: with output_mode='tf_idf' and a vocabulary, idf_weights must be "
                              "given too (one per token)")
        self.max_tokens = max_tokens
        self.standardize = standardize
        self.split = split
        self.ngrams = ngrams
        self._widths = None if ngrams is None else (tuple(range(1, ngrams + 1)) if isinstance(ngrams, int)
                                                     else tuple(ngrams))
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.encoding = encoding
        self._has_input_vocabulary = vocabulary is not None if has_input_vocabulary is None \
            else bool(has_input_vocabulary)
        self._tokens: list[str] = []  # learned tokens, without the special ones
        self._index: dict[str, int] = {}
        self._idf: np.ndarray | None = None  # one weight per output column
        self._set = False
        if vocabulary is not None:
            self._set_vocabulary(vocabulary, idf_weights)

    # ------------------------------------------------------------------------------------- vocabulary
    def _special(self) -> list:
        return [PADDING, OOV] if self.output_mode == "int" else [OOV]

    def _start(self) -> int:
        return len(self._special())

    def get_vocabulary(self, include_special_tokens=True) -> list:
        """The tokens in index order (with ``""`` and ``"[UNK]"`` first unless ``include_special_tokens=False``)."""
        return (self._special() if include_special_tokens else []) + list(self._tokens)

    def vocabulary_size(self) -> int:
        """The number of indices, special tokens included."""
        return self._start() + len(self._tokens)

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Use ``vocabulary`` (a list or 1-D array of tokens) and, for ``"tf_idf"``, ``idf_weights``."""
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ConfigError("TextVectorization: idf_weights must be set if output_mode is 'tf_idf'")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ConfigError(f"TextVectorization: idf_weights should only be set if output_mode is 'tf_idf'; got "
                              f"output_mode={self.output_mode!r}")
        self._set_vocabulary(vocabulary, idf_weights)
        self._has_input_vocabulary = True

    def _set_vocabulary(self, vocabulary, idf_weights) -> None:
        if isinstance(vocabulary, str):
            raise ConfigError("TextVectorization: vocabulary must be a list of tokens; vocabulary files are not "
                              f"supported (got the string {vocabulary!r:.80})")
        tokens = [_text(t, "TextVectorization vocabulary") for t in list(np.asarray(vocabulary, dtype=object).ravel())]
        if not tokens:
            raise ConfigError("TextVectorization: cannot set an empty vocabulary")
        special = self._special()
        found_special = tokens[:len(special)] == special
        if found_special:
            tokens = tokens[len(special):]
        repeated = sorted(t for t, n in Counter(tokens).items() if n > 1)
        if repeated:
            raise ConfigError(f"TextVectorization: the vocabulary repeats tokens {repeated[:10]}; each token must "
                              "appear once")
        if PADDING in tokens:
            raise ConfigError(f"TextVectorization: the padding token '' may only lead the vocabulary, in this order: "
                              f"{special}; found it at index {tokens.index(PADDING) + (len(special) if found_special else 0)}")
        size = len(special) + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ConfigError(f"TextVectorization: a vocabulary of {size} tokens (special tokens included) is larger "
                              f"than max_tokens={self.max_tokens}")
        idf = None
        if self.output_mode == "tf_idf" and idf_weights is not None:
            weights = np.asarray(idf_weights, dtype=np.float64)
            given = len(tokens) + (len(special) if found_special else 0)
            if weights.ndim != 1 or len(weights) != given:
                raise ConfigError(f"TextVectorization: idf_weights must be 1-D with one weight per vocabulary entry "
                                  f"({given}); got shape {weights.shape}")
            front = [] if found_special else [float(np.mean(weights))] * len(special)
            idf = np.concatenate([np.asarray(front), weights])
        self._tokens = tokens
        self._index = {t: i for i, t in enumerate(tokens, start=len(special))}
        self._idf = None if idf is None else self._padded_idf(idf)
        self._set = True

    def _padded_idf(self, idf: np.ndarray) -> np.ndarray:
        if self.pad_to_max_tokens:
            idf = np.concatenate([idf, np.zeros(self.max_tokens - len(idf))])
        return idf.astype(self.dtype)

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the vocabulary (and document frequencies for ``"tf_idf"``) from ``data``: a list or array of
        strings, or an iterable of such batches."""
        if self._has_input_vocabulary:
            raise ConfigError(f"cannot adapt layer {self.name!r} after a vocabulary was set with vocabulary= or "
                              "set_vocabulary()")
        if isinstance(data, (list, tuple, np.ndarray, Tensor, str, bytes)):
            batches = [data]
        else:
            try:
                batches = iter(data)
            except TypeError:
                raise DataError(f"TextVectorization.adapt() expects strings or an iterable of batches of strings; "
                                f"got {type(data).__name__}") from None
        counts, documents, n_documents = Counter(), Counter(), 0
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            for row in self._tokenize(batch, "TextVectorization.adapt()"):
                counts.update(row)
                if self.output_mode == "tf_idf":
                    documents.update(set(row))
                    n_documents += 1
        counts.pop(PADDING, None)
        counts.pop(OOV, None)
        order = sorted(counts.items(), key=lambda item: (item[1], item[0].encode("utf-8")), reverse=True)
        if self.max_tokens is not None:
            order = order[:self.max_tokens - self._start()]
        self._tokens = [token for token, _ in order]
        self._index = {t: i for i, t in enumerate(self._tokens, start=self._start())}
        self._set = True
        if self.output_mode == "tf_idf":
            if not self._tokens:
                raise DataError("TextVectorization.adapt() found no tokens; tf_idf needs at least one")
            idf = np.log(1.0 + n_documents / (1.0 + np.array([documents[t] for t in self._tokens], np.float64)))
            idf = idf.astype(np.float32).astype(np.float64)  # Keras computes in float64, then casts to float32
            self._idf = self._padded_idf(np.concatenate([[np.float32(idf.mean())] * self._start(), idf]))

    # ----------------------------------------------------------------------------------------- tokens
    def _standardize(self, strings: np.ndarray) -> np.ndarray:
        mode = self.standardize
        if mode is None:
            return strings
        if callable(mode):
            return _strings(mode(strings), f"layer {self.name!r}: the standardize callable's result")
        table = {}
        if mode in ("lower", "lower_and_strip_punctuation"):
            table.update(_ASCII_LOWER)
        if mode in ("strip_punctuation", "lower_and_strip_punctuation"):
            table.update(_PUNCTUATION)
        return np.array([s.translate(table) for s in strings.ravel()], dtype=str).reshape(strings.shape) \
            if strings.size else strings

    def _rows(self, strings: np.ndarray, where: str) -> np.ndarray:
        """The strings as one flat row per document (rank 0 -> 1; ``(N, 1)`` -> ``(N,)`` when splitting)."""
        if strings.ndim == 0:
            strings = strings.reshape(1)
        if strings.ndim > 1 and (self.split is not None or strings.shape[-1] == 1):
            if strings.ndim != 2 or strings.shape[-1] != 1:
                raise ShapeError(f"{where}: to split strings into tokens, the input must have shape (N,) or (N, 1); "
                                 f"got shape {strings.shape}")
            strings = strings[:, 0]
        return strings

    def _tokenize(self, data, where: str) -> list:
        """One list of tokens per document."""
        strings = self._rows(self._standardize(_strings(data, where)), where)
        if self.split == "whitespace":
            rows = [[t for t in _ASCII_SPACE.split(s) if t] for s in strings]
        elif self.split == "character":
            rows = [list(s) for s in strings]
        else:  # one token per string; an (N, k) array holds k tokens per document
            rows = [list(row) for row in strings.reshape(len(strings), -1)] if strings.ndim else []
        if self._widths is not None:
            rows = [[" ".join(row[i:i + w]) for w in self._widths for i in range(len(row) - w + 1)] for row in rows]
        return rows

    # ------------------------------------------------------------------------------------------ calls
    def _as_input(self, inputs):
        return Tensor(_strings(inputs, f"layer {self.name!r} (TextVectorization)"))

    def build(self, input_shape):
        pass

    def _check_same_features(self, shape):
        pass  # the input is a batch of strings: any number of them, (N,) or (N, 1)

    def call(self, inputs):
        where = f"layer {self.name!r} (TextVectorization)"
        needs_vocabulary = self.output_mode == "tf_idf" or (self.output_mode != "int" and not self.pad_to_max_tokens)
        if not self._set and needs_vocabulary:
            raise ConfigError(f"{where}: set the vocabulary before calling it with output_mode="
                              f"{self.output_mode!r}: pass vocabulary=..., or call adapt() on some texts")
        strings = inputs.data
        if self.output_mode == "int" and self.split is None:
            return Tensor(self._lookup_ids(strings, where))
        if self.split is None and np.ndim(strings) == 1:
            return Tensor(self._bag_rows(self._tokenize(strings[None], where))[0])  # (N,): one document, as Keras
        rows = self._tokenize(strings, where)
        if self.output_mode == "int":
            return Tensor(self._int_rows(rows))
        return Tensor(self._bag_rows(rows))

    def _id(self, token: str) -> int:
        return 0 if token == PADDING else self._index.get(token, 1)

    def _lookup_ids(self, strings: np.ndarray, where: str) -> np.ndarray:
        strings = self._standardize(_strings(strings, where))
        if strings.ndim == 0:
            strings = strings.reshape(1)
        ids = np.array([self._id(s) for s in strings.ravel()], dtype=np.int64).reshape(strings.shape)
        length = self.output_sequence_length
        if length is not None:
            ids = ids[..., :length]
            pad = [(0, 0)] * (ids.ndim - 1) + [(0, length - ids.shape[-1])]
            ids = np.pad(ids, pad)
        return ids

    def _int_rows(self, rows: list) -> np.ndarray:
        length = self.output_sequence_length
        if length is None:
            length = max((len(r) for r in rows), default=0)
        ids = np.zeros((len(rows), length), dtype=np.int64)  # (N, T), 0 = padding
        index = self._index
        for n, row in enumerate(rows):
            row = row[:length]
            ids[n, :len(row)] = [0 if t == PADDING else index.get(t, 1) for t in row]
        return ids

    def _bag_rows(self, rows: list) -> np.ndarray:
        depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        out = np.zeros((len(rows), depth), dtype=self.dtype)  # (N, depth)
        index = self._index
        for n, row in enumerate(rows):
            ids = [index.get(t, 0) for t in row if t != PADDING]
            if ids:
                np.add.at(out[n], ids, 1.0)
        if self.output_mode == "multi_hot":
            np.minimum(out, 1.0, out=out)
        elif self.output_mode == "tf_idf":
            out *= self._idf[:depth]
        return out

    def compute_mask(self, inputs, mask=None):
        return None

    # ----------------------------------------------------------------------------------------- config
    def get_config(self) -> dict:
        if callable(self.standardize):
            raise ConfigError(f"layer {self.name!r}: a TextVectorization with a callable standardize cannot be "
                              "saved; use one of " + ", ".join(map(repr, STANDARDIZE)) + " or None")
        config = super().get_config()
        idf = None
        if self._idf is not None:
            idf = [float(w) for w in self._idf[:self.vocabulary_size()]]
        config.update(max_tokens=self.max_tokens, standardize=self.standardize, split=self.split,
                      ngrams=list(self.ngrams) if isinstance(self.ngrams, tuple) else self.ngrams,
                      output_mode=self.output_mode, output_sequence_length=self.output_sequence_length,
                      pad_to_max_tokens=self.pad_to_max_tokens,
                      vocabulary=self.get_vocabulary() if self._set else None, idf_weights=idf,
                      encoding=self.encoding, has_input_vocabulary=self._has_input_vocabulary,
                      vocabulary_size=self.vocabulary_size())
        return config

    @classmethod
    def from_config(cls, config: dict) -> "TextVectorization":
        config = dict(config)
        config.pop("vocabulary_size", None)
        has_input = config.pop("has_input_vocabulary", None)
        layer = cls(**config, has_input_vocabulary=has_input)
        return layer
