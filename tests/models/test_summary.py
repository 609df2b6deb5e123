"""model.summary(): layer rows with output shapes and parameter counts, and the totals."""
from __future__ import annotations

from rnnkit.layers import LSTM, Dense, Embedding, SimpleRNN
from rnnkit.models import Input, Model, Sequential


def lines_of(model) -> list:
    lines = []
    model.summary(print_fn=lines.append)
    return lines


def row(lines, name):
    return next(line for line in lines if line.lstrip().startswith(name)).split()


def test_seed_model_summary():
    model = Sequential([SimpleRNN(32, input_shape=(28, 28), name="rnn"), Dense(10, activation="softmax", name="fc")])
    lines = lines_of(model)
    assert lines[0] == 'Model: "' + model.name + '"'
    assert row(lines, "rnn") == ["rnn", "(SimpleRNN)", "(None,", "32)", str(28 * 32 + 32 * 32 + 32)]  # 1952
    assert row(lines, "fc") == ["fc", "(Dense)", "(None,", "10)", str(32 * 10 + 10)]
    assert "Total params: 2,282 (8.91 KB)" in lines
    assert "Trainable params: 2,282 (8.91 KB)" in lines and "Non-trainable params: 0 (0.00 B)" in lines


def test_lazy_model_is_built_from_its_first_batch_and_variable_length_axes_print_none():
    model = Sequential([Embedding(50, 8, name="emb"), LSTM(4, return_sequences=True, name="lstm")])
    model.predict([[1, 2, 3]], verbose=0)  # built on a (1, 3) batch
    lines = lines_of(model)
    assert row(lines, "emb")[2:] == ["(None,", "3,", "8)", str(50 * 8)]
    assert row(lines, "lstm")[-1] == str(4 * (8 * 4 + 4 * 4 + 4))
    variable = Sequential([Input((None, 5)), SimpleRNN(3, return_sequences=True, name="seq")])
    assert row(lines_of(variable), "seq")[2:5] == ["(None,", "None,", "3)"]


def test_non_trainable_weights_are_counted_apart():
    frozen = Dense(4, name="frozen", trainable=False)
    model = Sequential([Dense(3, input_shape=(2,), name="first"), frozen])
    lines = lines_of(model)
    assert "Total params: 25 (100.00 B)" in lines  # (2*3 + 3) + (3*4 + 4)
    assert "Trainable params: 9 (36.00 B)" in lines and "Non-trainable params: 16 (64.00 B)" in lines


def test_functional_summary_shows_inputs_and_connections():
    enc_in, dec_in = Input((None, 3), name="enc_in"), Input((None, 3), name="dec_in")
    _, h, c = LSTM(4, return_state=True, name="encoder")(enc_in)
    out = Dense(2, name="head")(LSTM(4, return_sequences=True, name="decoder")(dec_in, initial_state=[h, c]))
    lines = lines_of(Model([enc_in, dec_in], out, name="s2s"))
    assert lines[0] == 'Model: "s2s"'
    decoder = " ".join(row(lines, "decoder"))
    assert "(None, None, 4)" in decoder and "dec_in, encoder[1], encoder[2]" in decoder
    assert str(4 * (3 * 4 + 4 * 4 + 4)) in decoder
    assert row(lines, "enc_in")[:5] == ["enc_in", "(InputLayer)", "(None,", "None,", "3)"]
