"""Greedy and beam search on hand-built models whose best sequences are known: beam search finds what greedy
misses, beam_width=1 is greedy, exhaustive beams match brute force with and without length normalisation, end
tokens and max_length are honoured, sentences in a batch are independent, results are deterministic."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from rnnkit.decoding import beam_search, greedy_search
from rnnkit.errors import ConfigError, ShapeError

END, A, B, START = 0, 1, 2, 3


def markov_step(tables):
    """A step function whose next-token distribution depends on the previous token and on the sentence's table
    (carried in the states, so that the search must reorder them correctly)."""
    with np.errstate(divide="ignore"):
        log_tables = np.log(tables)

    def step(previous, states):
        (which,) = states
        return log_tables[which, previous], states

    return step


def known_tables():
    # table 0: greedy takes A (0.6) and then can do no better than end (0.35): 0.21; the best sequence is B, end
    # (0.4 * 0.95 = 0.38). Table 1: greedy is right (A then end, 0.9 * 0.9).
    tables = np.full((2, 4, 4), 1e-9)
    tables[0, START, [A, B]] = 0.6, 0.4
    tables[0, A, [END, A, B]] = 0.35, 0.325, 0.325
    tables[0, B, [END, A, B]] = 0.95, 0.025, 0.025
    tables[1, START, [A, B]] = 0.9, 0.1
    tables[1, A, [END, A, B]] = 0.9, 0.05, 0.05
    tables[1, B, [END, A, B]] = 0.1, 0.45, 0.45
    return tables / tables.sum(-1, keepdims=True)


def test_beam_finds_the_known_best_sequence_greedy_does_not():
    tables = known_tables()
    step = markov_step(tables)
    starts = np.array([START, START])
    states = [np.array([0, 1])]
    greedy = greedy_search(step, starts, states, max_length=6, end_id=END)
    beam = beam_search(step, starts, states, beam_width=2, max_length=6, end_id=END)
    assert [h.tokens for h in greedy] == [[A], [A]]
    assert [h.tokens for h in beam] == [[B], [A]]
    assert all(h.finished for h in greedy + beam)
    np.testing.assert_allclose(np.exp(beam[0].log_prob), 0.4 * 0.95, rtol=1e-6)
    np.testing.assert_allclose(np.exp(greedy[0].log_prob), 0.6 * 0.35, rtol=1e-6)
    assert beam[0].log_prob > greedy[0].log_prob  # greedy is provably worse on sentence 0
    np.testing.assert_allclose(np.exp(beam[1].log_prob), 0.9 * 0.9, rtol=1e-6)


def random_tables(rng, sentences, vocabulary, peaked=3.0):
    logits = rng.normal(size=(sentences, vocabulary + 1, vocabulary + 1)) * peaked
    logits[..., vocabulary] = -np.inf  # the start token (id = vocabulary) is never generated
    tables = np.exp(logits - logits.max(-1, keepdims=True))
    return tables / tables.sum(-1, keepdims=True)


@pytest.mark.parametrize("seed", range(4))
def test_beam_width_one_is_greedy(seed):
    rng = np.random.default_rng(seed)
    vocabulary, sentences = 5, 6
    step = markov_step(random_tables(rng, sentences, vocabulary))
    starts = np.full(sentences, vocabulary)
    states = [np.arange(sentences)]
    greedy = greedy_search(step, starts, states, max_length=7, end_id=0)
    beam = beam_search(step, starts, states, beam_width=1, max_length=7, end_id=0)
    assert [h.tokens for h in beam] == [h.tokens for h in greedy]
    np.testing.assert_allclose([h.log_prob for h in beam], [h.log_prob for h in greedy], rtol=1e-12)
    assert [h.finished for h in beam] == [h.finished for h in greedy]


def second_order_step(tables):
    """Next-token distributions that depend on the last two tokens: the one before the previous token lives in
    the states, which differ between hypotheses of a sentence, so the search must carry them along."""
    with np.errstate(divide="ignore"):
        log_tables = np.log(tables)

    def step(previous, states):
        which, before = states
        return log_tables[which, before, previous], [which, previous.copy()]

    return step


def brute_force(step, start, states, vocabulary, max_length, alpha):
    """The best (normalised score, tokens) over every sequence of at most max_length tokens, scored by running
    ``step`` on one sequence at a time."""
    best = None
    for length in range(1, max_length + 1):
        for sequence in itertools.product(range(vocabulary), repeat=length):
            if END in sequence[:-1]:
                continue  # nothing follows the end token
            if sequence[-1] != END and length < max_length:
                continue  # unfinished sequences count only at max_length
            previous, current, total = np.array([start]), states, 0.0
            for token in sequence:
                log_probs, current = step(previous, current)
                total += log_probs[0, token]
                previous = np.array([token])
            score = total / length ** alpha
            tokens = list(sequence[:-1]) if sequence[-1] == END else list(sequence)
            if best is None or score > best[0] + 1e-12:
                best = (score, tokens)
    return best


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
def test_exhaustive_beam_equals_brute_force_with_length_normalisation(alpha):
    rng = np.random.default_rng(11)
    vocabulary, sentences, max_length = 3, 5, 4
    logits = rng.normal(size=(sentences, vocabulary + 1, vocabulary + 1, vocabulary + 1))
    logits[..., vocabulary] = -np.inf  # the start token (id = vocabulary) is never generated
    logits[..., END] -= 1.0  # make longer sequences competitive
    tables = np.exp(logits)
    tables /= tables.sum(-1, keepdims=True)
    step = second_order_step(tables)
    starts = np.full(sentences, vocabulary)
    states = [np.arange(sentences), starts.copy()]
    results = beam_search(step, starts, states, beam_width=vocabulary ** max_length, max_length=max_length,
                          end_id=END, alpha=alpha)
    narrow = beam_search(step, starts, states, beam_width=2, max_length=max_length, end_id=END, alpha=alpha)
    for b, hypothesis in enumerate(results):
        score, tokens = brute_force(step, vocabulary, [np.array([b]), np.array([vocabulary])], vocabulary,
                                    max_length, alpha)
        assert hypothesis.tokens == tokens
        np.testing.assert_allclose(hypothesis.score, score, rtol=1e-10)
        assert narrow[b].score <= hypothesis.score + 1e-12


def test_length_normalisation_changes_the_choice():
    tables = np.full((1, 4, 4), 1e-9)
    tables[0, START, [END, A]] = 0.5, 0.5  # stop now (0.5) or say A, A, A ... (0.5 * 0.9^k * 0.95)
    tables[0, A, [END, A]] = 0.05, 0.95
    tables = tables / tables.sum(-1, keepdims=True)
    step = markov_step(tables)
    plain = beam_search(step, np.array([START]), [np.array([0])], beam_width=3, max_length=4, end_id=END)
    mean = beam_search(step, np.array([START]), [np.array([0])], beam_width=3, max_length=4, end_id=END, alpha=1.0)
    assert plain[0].tokens == [] and plain[0].finished
    assert mean[0].tokens == [A, A, A, A] and not mean[0].finished  # cut at max_length, still the best per token


def test_end_token_and_max_length():
    tables = np.full((1, 4, 4), 1e-9)
    tables[0, START, A] = 1.0
    tables[0, A, A] = 1.0  # never ends
    step = markov_step(tables / tables.sum(-1, keepdims=True))
    for search in (greedy_search, lambda *a, **k: beam_search(*a, beam_width=2, **k)):
        result = search(step, np.array([START]), [np.array([0])], max_length=3, end_id=END)[0]
        assert result.tokens == [A, A, A] and not result.finished
    ends = known_tables()
    ends[:, START] = 0.0
    ends[:, START, END] = 1.0  # ends at once: an empty translation
    step = markov_step(ends)
    for search in (greedy_search, lambda *a, **k: beam_search(*a, beam_width=3, **k)):
        results = search(step, np.array([START, START]), [np.array([0, 1])], max_length=5, end_id=END)
        assert [h.tokens for h in results] == [[], []] and all(h.finished for h in results)


def test_batch_equals_one_sentence_at_a_time_and_is_deterministic():
    rng = np.random.default_rng(3)
    vocabulary, sentences = 6, 5
    tables = random_tables(rng, sentences, vocabulary, peaked=1.0)
    step = markov_step(tables)
    starts = np.full(sentences, vocabulary)
    together = beam_search(step, starts, [np.arange(sentences)], beam_width=3, max_length=6, end_id=0, alpha=0.6)
    again = beam_search(step, starts, [np.arange(sentences)], beam_width=3, max_length=6, end_id=0, alpha=0.6)
    assert together == again
    for b in range(sentences):
        alone = beam_search(step, starts[b:b + 1], [np.array([b])], beam_width=3, max_length=6, end_id=0, alpha=0.6)
        assert alone[0] == together[b]
    uniform = markov_step(np.full((1, 4, 4), 0.25))  # all ties: the lowest ids win
    assert greedy_search(uniform, np.array([3]), [np.array([0])], max_length=3, end_id=0)[0].tokens == []
    assert beam_search(uniform, np.array([3]), [np.array([0])], beam_width=2, max_length=3, end_id=0)[0].tokens == []


def test_bad_arguments():
    step = markov_step(known_tables())
    with pytest.raises(ConfigError, match="beam_width"):
        beam_search(step, np.array([START]), [np.array([0])], beam_width=0, max_length=3, end_id=END)
    with pytest.raises(ConfigError, match="max_length"):
        greedy_search(step, np.array([START]), [np.array([0])], max_length=0, end_id=END)
    with pytest.raises(ShapeError, match="start_ids"):
        greedy_search(step, np.array([[START]]), [np.array([0])], max_length=3, end_id=END)
    with pytest.raises(ShapeError, match="log-probabilities"):
        greedy_search(lambda p, s: (np.zeros(4), s), np.array([START]), [], max_length=3, end_id=END)
