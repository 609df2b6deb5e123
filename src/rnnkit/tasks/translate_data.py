"""Data of the translation task: reading tab-separated pairs, tokens, vocabularies, splits and padded batches.

Text is lowercased (Unicode NFC) and split into words and punctuation marks (``"I'm cold."`` ->
``["i", "'", "m", "cold", "."]``). A vocabulary maps tokens to ids with four reserved ids: padding 0, start 1,
end 2, unknown 3; the rest are the training tokens, most frequent first. Splits: ``sentence`` (the default) puts
every pair of an English sentence on the same side, so that no test sentence was seen in training; ``pair`` is
a plain random split of pairs (test sentences are then often in training with another translation).

>>> tokenize("Je suis prêt, merci !")
['je', 'suis', 'prêt', ',', 'merci', '!']
>>> vocabulary = Vocabulary.build([["a", "b", "a"], ["c"]])
>>> vocabulary.tokens[:6], vocabulary.encode(["a", "z"])
(['<pad>', '<start>', '<end>', '<unk>', 'a', 'b'], [4, 3])
>>> target_arrays([[5, 6]], 4)
(array([[1, 5, 6, 0]]), array([[5, 6, 2, 0]]))
"""
from __future__ import annotations

import collections
import os
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import DataError

PAD, START, END, UNK = 0, 1, 2, 3
SPECIAL = ["<pad>", "<start>", "<end>", "<unk>"]
_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list:
    """Lowercased words and punctuation marks of ``text``."""
    return _TOKEN.findall(unicodedata.normalize("NFC", text).lower())


@dataclass
class Vocabulary:
    """Tokens by id (the four special tokens first) and the ids by token."""

    tokens: list

    def __post_init__(self):
        if self.tokens[:4] != SPECIAL or len(set(self.tokens)) != len(self.tokens):
            raise DataError(f"a vocabulary must start with {SPECIAL} and hold each token once")
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, sentences, min_count: int = 1) -> Vocabulary:
        """From tokenized sentences: tokens seen at least ``min_count`` times, most frequent first (ties
        alphabetical, so the same data gives the same ids)."""
        counts = collections.Counter(token for sentence in sentences for token in sentence)
        kept = sorted((t for t, c in counts.items() if c >= min_count and t not in SPECIAL),
                      key=lambda t: (-counts[t], t))
        return cls(SPECIAL + kept)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens) -> list:
        """Ids of ``tokens``; unknown tokens get ``UNK``."""
        return [self.index.get(token, UNK) for token in tokens]

    def unknown(self, tokens) -> list:
        """The tokens that are not in the vocabulary."""
        return [token for token in tokens if token not in self.index]

    def decode(self, ids) -> list:
        """Tokens of ``ids``, stopping at the end token and leaving out padding and start."""
        out = []
        for i in ids:
            i = int(i)
            if i == END:
                break
            if i not in (PAD, START):
                out.append(self.tokens[i] if 0 <= i < len(self.tokens) else SPECIAL[UNK])
        return out


@dataclass
class Pairs:
    """Tokenized pairs of a file and what was left out: ``skipped_long`` (longer than ``max_length`` tokens),
    ``skipped_blank`` (blank lines or an empty side)."""

    source: list
    target: list
    source_text: list
    target_text: list
    skipped_long: int = 0
    skipped_blank: int = 0


def read_pairs(path: str, max_length: int) -> Pairs:
    """Pairs from a UTF-8 file of ``source<TAB>target[<TAB>anything]`` lines; a line without a tab is an error
    naming it; pairs with a side longer than ``max_length`` tokens are skipped and counted."""
    if not os.path.isfile(path):
        raise DataError(f"--data {path}: no such file (expected tab-separated lines 'english<TAB>french')")
    pairs = Pairs([], [], [], [])
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    pairs.skipped_blank += 1
                    continue
                columns = line.split("\t")
                if len(columns) < 2:
                    raise DataError(f"{path}, line {number}: found 1 column ({line[:60]!r}); expected at least 2 "
                                    "separated by a tab: source<TAB>target")
                source, target = tokenize(columns[0]), tokenize(columns[1])
                if not source or not target:
                    pairs.skipped_blank += 1
                    continue
                if len(source) > max_length or len(target) > max_length:
                    pairs.skipped_long += 1
                    continue
                pairs.source.append(source)
                pairs.target.append(target)
                pairs.source_text.append(columns[0].strip())
                pairs.target_text.append(columns[1].strip())
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text ({error})") from None
    if not pairs.source:
        raise DataError(f"{path} holds no usable pairs ({pairs.skipped_long} longer than --max-length "
                        f"{max_length}, {pairs.skipped_blank} blank)")
    return pairs


def split_indices(sources: list, test_size: int, mode: str, seed: int) -> tuple:
    """``(train, test)`` index arrays. ``pair``: a random ``test_size`` pairs. ``sentence``: distinct source
    sentences in random order, each with all its pairs, until exactly ``test_size`` test pairs (groups that
    would overshoot are passed over); no test source sentence occurs in training."""
    count = len(sources)
    if test_size >= count:
        raise DataError(f"--test-size {test_size} leaves no training pairs ({count} pairs after filtering)")
    rng = np.random.default_rng(seed)
    if mode == "pair":
        order = rng.permutation(count)
        return np.sort(order[test_size:]), np.sort(order[:test_size])
    groups: dict = collections.defaultdict(list)
    for i, tokens in enumerate(sources):
        groups[" ".join(tokens)].append(i)
    keys = sorted(groups)
    test = []
    for k in rng.permutation(len(keys)):
        members = groups[keys[k]]
        if len(test) + len(members) <= test_size:
            test.extend(members)
        if len(test) == test_size:
            break
    if len(test) < test_size or len(test) == count:
        raise DataError(f"cannot hold out {test_size} pairs by distinct source sentence from {count} pairs")
    test = np.sort(np.array(test))
    train = np.setdiff1d(np.arange(count), test)
    return train, test


def pad(sequences: list, length: int | None = None) -> np.ndarray:
    """Id lists as a ``(N, length)`` int array padded with ``PAD`` at the end."""
    length = max(map(len, sequences)) if length is None else length
    out = np.full((len(sequences), length), PAD, dtype=np.int64)
    for i, ids in enumerate(sequences):
        out[i, :len(ids)] = ids
    return out


def target_arrays(sequences: list, length: int | None = None) -> tuple:
    """Teacher forcing: the decoder reads ``<start> w1 ... wn`` and learns ``w1 ... wn <end>``."""
    length = max(map(len, sequences)) + 1 if length is None else length
    return pad([[START] + list(s) for s in sequences], length), pad([list(s) + [END] for s in sequences], length)
