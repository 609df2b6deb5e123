"""Data of the sentiment task: ``sentence<TAB>label`` files, stratified folds and validation splits.

``read_labelled(path)`` reads one file (UTF-8; lines end at ``\\n`` only, since the UCI IMDb file holds NEL
characters inside sentences that ``str.splitlines`` would break on); blank lines are skipped, any other line
must hold a tab and a label 0 or 1 after its last tab, else a ``DataError`` names the file and the line.
``stratified_folds`` gives every sample a fold so that each fold has the class ratio of the whole (to one
sample per class), seeded; ``stratified_split`` carves a validation part out of training indices the same way.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "demo.txt")
>>> _ = open(path, "w").write("good phone\\t1\\nbad\\tbattery\\t0\\n\\n")
>>> read_labelled(path)
(['good phone', 'bad\\tbattery'], [1, 0])
>>> folds = stratified_folds([0, 0, 1, 1, 1, 1], 2, seed=0)
>>> sorted(folds.tolist())
[0, 0, 0, 1, 1, 1]
"""
from __future__ import annotations


import numpy as np

from rnnkit.errors import ConfigError, DataError

LABELS = (0, 1)
LABEL_NAMES = {0: "negative", 1: "positive"}


def read_labelled(path: str) -> tuple:
    """``(sentences, labels)`` of one ``sentence<TAB>label`` file; ``DataError`` naming the file (and line)."""
    from rnnkit.tasks.files import read_utf8

    text = read_utf8(path, "a text file of 'sentence<TAB>label' lines",
                     missing=f"no such data file: {path} (expected a text file of 'sentence<TAB>label' lines)")
    sentences, labels = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if "\t" not in line:
            raise DataError(f"{path}, line {number}: no tab; expected 'sentence<TAB>label' with label 0 or 1, "
                            f"got {line[:60]!r}")
        sentence, label = line.rsplit("\t", 1)
        if label.strip() not in ("0", "1"):
            raise DataError(f"{path}, line {number}: the label is {label.strip()[:20]!r}; labels must be 0 or 1")
        if not sentence.strip():
            raise DataError(f"{path}, line {number}: the sentence before the tab is empty")
        sentences.append(sentence.strip())
        labels.append(int(label))
    if not sentences:
        raise DataError(f"{path} holds no labelled sentences (expected 'sentence<TAB>label' lines)")
    return sentences, labels


def read_sources(paths) -> tuple:
    """``(sentences, labels (N,) int64, source (N,) int64)`` of several files, ``source`` the file's index."""
    sentences, labels, sources = [], [], []
    for index, path in enumerate(paths):
        texts, ys = read_labelled(path)
        sentences += texts
        labels += ys
        sources += [index] * len(texts)
    return sentences, np.asarray(labels, np.int64), np.asarray(sources, np.int64)


def check_classes(labels, where: str, need: int = 1) -> None:
    """Both classes present at least ``need`` times each; ``DataError`` naming ``where`` otherwise."""
    counts = np.bincount(np.asarray(labels, np.int64), minlength=2)
    if counts.min() < need:
        raise DataError(f"{where} has {counts[0]} negative and {counts[1]} positive sentences; it needs at least "
                        f"{need} of each")


def stratified_folds(labels, k: int, seed: int = 0) -> np.ndarray:
    """``(N,)`` fold number of each sample: each class shuffled (seeded) and dealt round-robin into ``k`` folds,
    so every fold holds ``n_c // k`` or ``n_c // k + 1`` samples of class ``c``."""
    labels = np.asarray(labels)
    if not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"--cv must be an integer >= 2 (the number of folds); got {k!r}")
    counts = np.bincount(labels.astype(np.int64), minlength=2)
    if counts.min() < k:
        raise DataError(f"--cv {k} needs at least {k} sentences of each label; the data has {counts[0]} negative "
                        f"and {counts[1]} positive")
    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), np.int64)
    start = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        folds[members] = (np.arange(len(members)) + start) % k  # continue the deal so fold sizes stay even
        start += len(members)
    return folds


def stratified_split(indices, labels, fraction: float, seed: int = 0) -> tuple:
    """``(kept, held_out)`` index arrays: ``round(fraction * n_c)`` of each class (at least one) held out."""
    indices = np.asarray(indices, np.int64)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in np.unique(labels[indices]):
        members = rng.permutation(indices[labels[indices] == label])
        count = min(max(1, int(round(fraction * len(members)))), len(members) - 1)
        if count < 1:
            raise DataError(f"only {len(members)} sentence(s) labelled {label}: too few to hold some out")
        held.append(members[:count])
        kept.append(members[count:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))
