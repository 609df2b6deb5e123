"""CTC decoding: greedy equal to Keras 3's ``keras.ops.ctc_decode``; beam search equal to the exact labelling
probabilities found by enumerating every alignment, and to Keras' beam search."""
import itertools

import numpy as np
import pytest

from rnnkit.errors import ConfigError, DataError, ShapeError
from rnnkit.ops import ctc_decode


def _collapse(path, blank, merge_repeated=True):
    labels, previous = [], None
    for c in path:
        if c != blank and not (merge_repeated and c == previous):
            labels.append(c)
        previous = c
    return tuple(labels)


def _exact_labellings(logits, blank=0, merge_repeated=True):
    """Every labelling's log-probability, by summing over all C^T alignments (small T and C only)."""
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    T, C = logp.shape
    totals = {}
    for path in itertools.product(range(C), repeat=T):
        label = _collapse(path, blank, merge_repeated)
        totals[label] = np.logaddexp(totals.get(label, -np.inf), logp[np.arange(T), path].sum())
    return sorted(totals.items(), key=lambda item: -item[1])


def _rows(decoded, k, b):
    row = decoded[k, b]
    return tuple(int(c) for c in row[row >= 0])


def test_greedy_equals_keras_ctc_decode():
    import keras

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((6, 9, 5)) * 2).astype(np.float32)
    x[0, 2:5] = 0
    x[0, 2:5, 3] = 5  # a label held for three steps
    lengths = np.array([9, 7, 4, 1, 9, 0])
    for merge in (True, False):
        for blank in (0, 4):
            expected, expected_scores = keras.ops.ctc_decode(x, lengths, strategy="greedy", merge_repeated=merge,
                                                             mask_index=blank)
            got, scores = ctc_decode(x, lengths, strategy="greedy", merge_repeated=merge, mask_index=blank)
            assert got.shape == (1, 6, 9) and scores.shape == (6, 1)
            np.testing.assert_array_equal(got, keras.ops.convert_to_numpy(expected))
            np.testing.assert_allclose(scores, keras.ops.convert_to_numpy(expected_scores), rtol=1e-5)


def test_greedy_known_answers():
    C = 4
    steps = [0, 1, 1, 0, 1, 2, 2, 3, 0]  # "1 1 _ 1 2 2 3": 1, 1, 2, 3 after merging; 1 1 1 2 2 3 without
    x = np.eye(C)[steps][None] * 5.0  # (1, T, C)
    merged, _ = ctc_decode(x, np.array([9]))
    unmerged, _ = ctc_decode(x, np.array([9]), merge_repeated=False)
    cut, _ = ctc_decode(x, np.array([4]))  # only the first 4 steps
    assert _rows(merged, 0, 0) == (1, 1, 2, 3)
    assert _rows(unmerged, 0, 0) == (1, 1, 1, 2, 2, 3)
    assert _rows(cut, 0, 0) == (1,)


@pytest.mark.parametrize("seed", range(4))
def test_beam_search_finds_the_exact_most_likely_labellings(seed):
    rng = np.random.default_rng(seed)
    T, C = 5, 3
    x = rng.standard_normal((2, T, C)) * 1.5
    decoded, scores = ctc_decode(x, np.array([T, T]), strategy="beam_search", beam_width=50, top_paths=3)
    assert decoded.shape == (3, 2, T) and scores.shape == (2, 3)
    for b in range(2):
        exact = _exact_labellings(x[b])[:3]
        assert [_rows(decoded, k, b) for k in range(3)] == [label for label, _ in exact]
        np.testing.assert_allclose(scores[b], [value for _, value in exact], rtol=1e-10)


def test_beam_search_without_merging_counts_every_emission():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 4, 3))
    decoded, scores = ctc_decode(x, np.array([4]), strategy="beam_search", beam_width=50, top_paths=2,
                                 merge_repeated=False)
    exact = _exact_labellings(x[0], merge_repeated=False)[:2]
    assert [_rows(decoded, k, 0) for k in range(2)] == [label for label, _ in exact]
    np.testing.assert_allclose(scores[0], [value for _, value in exact], rtol=1e-10)


def test_beam_search_is_right_where_greedy_is_wrong():
    """Greedy reads the single best alignment; the best labelling can have its probability spread over many."""
    p = np.array([[0.45, 0.55, 0.00],   # blank, "a", "b"
                  [0.45, 0.00, 0.55],
                  [0.45, 0.55, 0.00]]) + 1e-9
    x = np.log(p)[None]  # (1, 3, 3)
    greedy, _ = ctc_decode(x, np.array([3]))
    beam, scores = ctc_decode(x, np.array([3]), strategy="beam_search", beam_width=10)
    best_label, best_logp = _exact_labellings(x[0])[0]
    assert _rows(greedy, 0, 0) == (1, 2, 1)  # "a b a", probability 0.55^3 = 0.166
    assert best_label == _rows(beam, 0, 0) != _rows(greedy, 0, 0)
    np.testing.assert_allclose(scores[0, 0], best_logp, rtol=1e-9)


def test_beam_search_equals_keras_beam_search():
    import keras

    rng = np.random.default_rng(2)
    x = (rng.standard_normal((4, 8, 5)) * 2).astype(np.float32)
    lengths = np.array([8, 6, 3, 1])
    expected, expected_scores = keras.ops.ctc_decode(x, lengths, strategy="beam_search", beam_width=20,
                                                     top_paths=3)
    got, scores = ctc_decode(x, lengths, strategy="beam_search", beam_width=20, top_paths=3)
    np.testing.assert_array_equal(got, keras.ops.convert_to_numpy(expected))
    np.testing.assert_allclose(scores, keras.ops.convert_to_numpy(expected_scores), rtol=1e-5)


def test_narrow_beam_keeps_the_best_prefixes():
    """beam_width=1 still returns a valid labelling whose score is its exact probability over the kept paths;
    a wider beam never scores the best labelling lower."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 6, 4))
    narrow, narrow_scores = ctc_decode(x, np.array([6]), strategy="beam_search", beam_width=1)
    wide, wide_scores = ctc_decode(x, np.array([6]), strategy="beam_search", beam_width=64)
    exact = dict(_exact_labellings(x[0]))
    assert narrow_scores[0, 0] <= exact[_rows(narrow, 0, 0)] + 1e-12
    np.testing.assert_allclose(wide_scores[0, 0], max(exact.values()), rtol=1e-10)


def test_ctc_decode_bad_arguments():
    x = np.zeros((2, 3, 4))
    with pytest.raises(ConfigError, match="Invalid strategy"):
        ctc_decode(x, np.array([3, 3]), strategy="best")
    with pytest.raises(ShapeError, match=r"sequence_lengths must have shape \(2,\)"):
        ctc_decode(x, np.array([3]))
    with pytest.raises(ShapeError, match="inputs must be logits"):
        ctc_decode(np.zeros((3, 4)), np.array([3]))
    with pytest.raises(DataError, match="mask_index 4"):
        ctc_decode(x, np.array([3, 3]), mask_index=4)
    with pytest.raises(ConfigError, match="top_paths"):
        ctc_decode(x, np.array([3, 3]), strategy="beam_search", beam_width=2, top_paths=3)
