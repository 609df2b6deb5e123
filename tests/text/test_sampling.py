"""sample_text: a seed fixes the text; temperature -> 0 is the argmax path, which equals re-running the whole
prefix through the trained model at every step (so the carried states are right); the draws follow
p ** (1 / temperature) restricted to the top k."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.errors import ConfigError
from rnnkit.layers import GRU, LSTM, Dense, Embedding
from rnnkit.models import Sequential
from rnnkit.random import set_random_seed
from rnnkit.text.sampling import next_id, sample_text

VOCAB = ["", "[UNK]"] + list("abcdefgh ")


def char_model(cell=LSTM, stateful=False, seed=0):
    set_random_seed(seed)
    model = Sequential([Embedding(len(VOCAB), 6, dtype="float64"),
                        cell(16, return_sequences=True, stateful=stateful, dtype="float64"),
                        Dense(len(VOCAB), activation="softmax", dtype="float64")])
    model(np.zeros((3, 4), dtype=np.int64))  # built with batch 3 (a stateful model then holds states)
    rng = np.random.default_rng(seed)
    model.set_weights([w * 1.5 + rng.normal(0, 0.3, w.shape) for w in model.get_weights()])  # a varied path
    return model


def greedy_by_rerunning(model, prime, length):
    text = prime
    for _ in range(length):
        ids = np.array([[VOCAB.index(c) for c in text]])
        p = model.predict(ids, verbose=0)[0, -1].astype(np.float64)
        p[:2] = 0  # padding and [UNK] are never generated
        text += VOCAB[int(np.argmax(p))]
    return text[len(prime):]


@pytest.mark.parametrize("cell, seed", [(LSTM, 0), (GRU, 5)])
def test_temperature_zero_is_the_argmax_path_of_the_whole_prefix(cell, seed):
    model = char_model(cell, seed=seed)
    expected = greedy_by_rerunning(model, "bad cafe", 40)
    assert sample_text(model, VOCAB, "bad cafe", 40, temperature=0) == expected
    assert sample_text(model, VOCAB, "bad cafe", 40, temperature=1e-6, seed=3) == expected
    assert sample_text(model, VOCAB, "bad cafe", 40, top_k=1, seed=4) == expected
    assert len(set(expected)) > 2  # a path that moves, not one repeated character


def test_seed_fixes_the_text_and_the_trained_model_is_untouched():
    model = char_model(LSTM, stateful=True)
    weights = model.get_weights()
    states = [s.data.copy() for s in model.layers[1].states]
    first = sample_text(model, VOCAB, "ab", 60, temperature=1.0, seed=7)
    assert first == sample_text(model, VOCAB, "ab", 60, temperature=1.0, seed=7)
    others = {sample_text(model, VOCAB, "ab", 60, temperature=1.0, seed=s) for s in (8, 9, 10)}
    assert len(others | {first}) > 1
    assert "[UNK]" not in first and len(first) == 60
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.layers[1].states, states):
        np.testing.assert_array_equal(a.data, b)


def test_draws_follow_temperature_and_top_k():
    p = np.array([0.05, 0.1, 0.15, 0.3, 0.4])
    rng = np.random.default_rng(0)
    n = 8000
    for temperature, top_k in ((1.0, None), (0.5, None), (2.0, None), (1.0, 3), (0.7, 2)):
        draws = np.array([next_id(p, temperature, top_k, rng) for _ in range(n)])
        expected = p ** (1 / temperature)
        if top_k is not None:
            expected[np.argsort(p)[:-top_k]] = 0
        expected /= expected.sum()
        frequencies = np.bincount(draws, minlength=len(p)) / n
        np.testing.assert_allclose(frequencies, expected, atol=0.02)  # about 3.5 standard errors
        if top_k is not None:
            assert set(draws) <= set(np.argsort(p)[-top_k:])


def test_unknown_prime_characters_and_bad_arguments():
    model = char_model()
    assert len(sample_text(model, VOCAB, "xyz!", 5, seed=0)) == 5  # read as [UNK]
    with pytest.raises(ConfigError, match="non-empty"):
        sample_text(model, VOCAB, "", 5)
    with pytest.raises(ConfigError, match="not in the model's vocabulary"):
        sample_text(model, VOCAB[2:] + ["x", "y"], "z", 5)
    with pytest.raises(ConfigError, match="temperature"):
        sample_text(model, VOCAB, "a", 5, temperature=-1)
    with pytest.raises(ConfigError, match="top_k"):
        sample_text(model, VOCAB, "a", 5, top_k=0)
