"""TextVectorization and pad_sequences against real Keras 3 (torch backend; Keras' TextVectorization needs the
tensorflow package for its string ops), on real review sentences and on unicode / punctuation edge cases."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import LSTM, Dense, Embedding, TextVectorization
from rnnkit.models import Sequential, load_model
from rnnkit.random import set_random_seed
from rnnkit.utils import pad_sequences

import keras  # noqa: E402  (after conftest set KERAS_BACKEND=torch; TextVectorization also needs tensorflow)

EDGE = [
    "",
    "   ",
    "!!!...???",
    "Café ÉCOLE naïve façade — “curly quotes” ‘single’ «guillemets»",
    "I ❤️ it 😀😀 so much!!",
    "日本語のテキスト と 中文 文本",
    "tabs\tand\nnew\r\nlines  and   runs of spaces ",
    "non\u00a0breaking\u2003em space",
    "don't e-mail me at x@y.com, OK? 3.14 $5 100%",
    "HeLLo hello HELLO hello.",
    "a_b snake_case [brackets] {braces} (parens) <tags> back\\slash",
    "ÄÖÜ äöü ß ΣΊΣΥΦΟΣ σίσυφος",
]


@pytest.fixture(scope="module")
def sentences(shared_data):
    texts = []
    for name in ("amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt"):
        lines = (shared_data / "sentiment" / name).read_text(encoding="utf-8").splitlines()
        texts += [line.rsplit("\t", 1)[0] for line in lines[:120] if "\t" in line]
    return texts


def keras_layer(**kwargs):
    return keras.layers.TextVectorization(**kwargs)


def as_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


CONFIGS = [
    {},
    {"output_sequence_length": 9},
    {"output_sequence_length": 40, "max_tokens": 50},
    {"standardize": "lower"},
    {"standardize": "strip_punctuation"},
    {"standardize": None},
    {"standardize": None, "split": "character"},
    {"split": "character", "output_sequence_length": 30},
    {"ngrams": 2},
    {"ngrams": (1, 3), "output_sequence_length": 12, "max_tokens": 300},
    {"split": None},
    {"output_mode": "multi_hot", "max_tokens": 60},
    {"output_mode": "multi_hot", "split": None},
    {"output_mode": "count", "ngrams": 2},
    {"output_mode": "count", "split": "character", "standardize": "lower"},
    {"output_mode": "tf_idf"},
    {"output_mode": "tf_idf", "max_tokens": 40, "pad_to_max_tokens": True},
    {"output_mode": "multi_hot", "max_tokens": 2000, "pad_to_max_tokens": True, "ngrams": 2},
]


@pytest.mark.parametrize("config", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_adapt_and_call_match_keras(config, sentences):
    train = sentences[::2] + EDGE[:6]
    test = sentences[1::2][:60] + EDGE  # unseen sentences (OOV tokens) and every edge case
    ours, theirs = TextVectorization(**config), keras_layer(**config)
    ours.adapt(train)
    theirs.adapt(train)
    assert ours.get_vocabulary() == [str(t) for t in theirs.get_vocabulary()]
    assert ours.vocabulary_size() == theirs.vocabulary_size()
    for batch in (test, np.array(test), np.array(test)[:, None]):
        if config.get("split", "whitespace") is None and np.ndim(batch) == 1 and config.get("output_mode", "int") \
                == "int":
            continue  # Keras keeps the (N,) shape there; see test_split_none_int_keeps_shape
        expected = as_numpy(theirs(batch))
        got = ours(batch).numpy()
        assert got.shape == expected.shape
        if ours.output_mode == "int":
            assert got.dtype == np.int64
            np.testing.assert_array_equal(got, expected)
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_split_none_int_keeps_shape(sentences):
    ours, theirs = TextVectorization(split=None), keras_layer(split=None)
    texts = sentences[:30] + ["", "Café!"]
    ours.adapt(texts[:20])
    theirs.adapt(texts[:20])
    for batch in (np.array(texts), np.array(texts)[:, None]):
        np.testing.assert_array_equal(ours(batch).numpy(), as_numpy(theirs(batch)))


@pytest.mark.parametrize("mode", ["int", "multi_hot", "count"])
@pytest.mark.parametrize("with_special", [False, True])
def test_given_vocabulary_matches_keras(mode, with_special, sentences):
    vocabulary = ["the", "good", "bad", "phone", "it", "is", "not", "café"]
    if with_special:
        vocabulary = (["", "[UNK]"] if mode == "int" else ["[UNK]"]) + vocabulary
    ours = TextVectorization(output_mode=mode, vocabulary=vocabulary)
    theirs = keras_layer(output_mode=mode, vocabulary=vocabulary)
    assert ours.get_vocabulary() == [str(t) for t in theirs.get_vocabulary()]
    batch = sentences[:40] + EDGE
    np.testing.assert_allclose(ours(batch).numpy(), as_numpy(theirs(batch)))
    with pytest.raises(ConfigError, match="cannot adapt"):
        ours.adapt(batch)


@pytest.mark.parametrize("with_special", [False, True])
@pytest.mark.parametrize("pad", [False, True])
def test_given_idf_weights_match_keras(with_special, pad, sentences):
    vocabulary = ["the", "good", "bad", "phone", "it", "great"]
    idf = [0.2, 1.5, 1.7, 2.0, 0.4, 1.1]
    if with_special:
        vocabulary, idf = ["[UNK]"] + vocabulary, [0.9] + idf
    kwargs = dict(output_mode="tf_idf", vocabulary=vocabulary, idf_weights=idf,
                  max_tokens=12 if pad else None, pad_to_max_tokens=pad)
    ours, theirs = TextVectorization(**kwargs), keras_layer(**kwargs)
    batch = sentences[:40] + EDGE
    np.testing.assert_allclose(ours(batch).numpy(), as_numpy(theirs(batch)), rtol=1e-6)


def test_adapt_from_batches_equals_adapt_at_once(sentences):
    whole, batched = TextVectorization(output_mode="tf_idf"), TextVectorization(output_mode="tf_idf")
    whole.adapt(sentences)
    batched.adapt(sentences[i:i + 50] for i in range(0, len(sentences), 50))
    assert whole.get_vocabulary() == batched.get_vocabulary()
    np.testing.assert_array_equal(whole(sentences[:10]).numpy(), batched(sentences[:10]).numpy())


def test_errors_name_what_was_received():
    with pytest.raises(ConfigError, match="output_mode must be one of"):
        TextVectorization(output_mode="one_hot_vectors")
    with pytest.raises(ConfigError, match="output_sequence_length must not be set"):
        TextVectorization(output_mode="count", output_sequence_length=5)
    with pytest.raises(ConfigError, match="idf_weights must be given"):
        TextVectorization(output_mode="tf_idf", vocabulary=["a"])
    with pytest.raises(ConfigError, match="repeats tokens"):
        TextVectorization(vocabulary=["a", "b", "a"])
    with pytest.raises(ConfigError, match="larger than max_tokens"):
        TextVectorization(vocabulary=["a", "b", "c"], max_tokens=4)
    with pytest.raises(ConfigError, match="set the vocabulary before"):
        TextVectorization(output_mode="multi_hot")(["a"])
    with pytest.raises(ShapeError, match=r"\(N,\) or \(N, 1\)"):
        TextVectorization(vocabulary=["a"])(np.array([["a", "b"]]))
    with pytest.raises(Exception, match="expects strings"):
        TextVectorization(vocabulary=["a"])(np.array([1.0, 2.0]))


def _text_model(mode="int"):
    set_random_seed(3)
    if mode == "int":
        vectorize = TextVectorization(max_tokens=200, output_sequence_length=12)
        layers = [vectorize, Embedding(200, 8), LSTM(5), Dense(2, activation="softmax")]
    else:
        vectorize = TextVectorization(max_tokens=300, output_mode="tf_idf", ngrams=2)
        layers = [vectorize, Dense(2, activation="softmax")]
    return vectorize, Sequential(layers)


@pytest.mark.parametrize("mode", ["int", "tf_idf"])
def test_model_on_strings_trains_predicts_and_round_trips(mode, sentences, tmp_path):
    vectorize, model = _text_model(mode)
    vectorize.adapt(sentences)
    labels = np.arange(len(sentences)) % 2
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(np.array(sentences, dtype=object), labels, epochs=1, batch_size=32, verbose=0)
    texts = sentences[:7] + EDGE
    before = model.predict(texts, verbose=0)
    path = tmp_path / "text.rnnkit"
    model.save(path)
    loaded = load_model(path)
    assert loaded.layers[0].get_vocabulary() == vectorize.get_vocabulary()
    np.testing.assert_array_equal(loaded.predict(texts, verbose=0), before)
    np.testing.assert_array_equal(loaded.predict(np.array(texts)[:, None], verbose=0), before)
    assert loaded.evaluate(sentences, labels, verbose=0)[0] > 0
    if mode == "tf_idf":
        np.testing.assert_array_equal(loaded.layers[0]._idf, vectorize._idf)
    loaded.layers[0].adapt(["new words only"])  # an adapted layer may be adapted again, as in Keras
    assert {"new", "words", "only"} <= set(loaded.layers[0].get_vocabulary()) <= {"", "[UNK]", "new", "words", "only",
                                                                               "new words", "words only"}


# ------------------------------------------------------------------------------------------- pad_sequences
PAD_CASES = [
    {},
    {"maxlen": 3},
    {"maxlen": 7},
    {"padding": "post"},
    {"truncating": "post", "maxlen": 2},
    {"padding": "post", "truncating": "post", "maxlen": 4, "value": -1},
    {"dtype": "float32", "value": 0.5, "maxlen": 5},
    {"dtype": "int64", "padding": "post"},
]


@pytest.mark.parametrize("kwargs", PAD_CASES, ids=[str(k) for k in PAD_CASES])
def test_pad_sequences_matches_keras(kwargs):
    rng = np.random.default_rng(1)
    sequences = [list(rng.integers(1, 50, size=n)) for n in (0, 1, 5, 3, 9, 2)]
    expected = keras.utils.pad_sequences(sequences, **kwargs)
    got = pad_sequences(sequences, **kwargs)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_pad_sequences_vector_elements_and_strings_match_keras():
    rng = np.random.default_rng(2)
    sequences = [rng.standard_normal((n, 3)) for n in (2, 0, 4)]
    for kwargs in ({"dtype": "float32"}, {"dtype": "float64", "maxlen": 3, "padding": "post"}):
        np.testing.assert_array_equal(pad_sequences(sequences, **kwargs),
                                      keras.utils.pad_sequences(sequences, **kwargs))
    words = [["a", "b"], ["c"], []]
    np.testing.assert_array_equal(pad_sequences(words, dtype=object, value="<pad>"),
                                  keras.utils.pad_sequences(words, dtype=object, value="<pad>"))
    with pytest.raises(ConfigError, match="dtype=object"):
        pad_sequences(words, value="<pad>")
    with pytest.raises(ConfigError, match="padding must be"):
        pad_sequences([[1]], padding="middle")
    with pytest.raises(ShapeError, match="elements of shape"):
        pad_sequences([np.zeros((2, 3)), np.zeros((1, 4))], dtype="float32")
