"""ONNX export (rnnkit.interop.onnx): every recurrent kind (SimpleRNN tanh / relu, LSTM, GRU with both
reset_after) in every direction (forward, go_backwards, Bidirectional with each merge mode), with and without
masks (Embedding(mask_zero=True), Masking; lengths varying within the batch) and return_sequences, plus Dense,
activations and Dropout, run under onnxruntime: outputs equal rnnkit's predict (float32, 1e-5), for a batch
and time length other than the ones the model was built with. Unsupported layers and options are errors
naming them."""
import numpy as np
import onnx
import onnxruntime
import pytest

from rnnkit.errors import ConfigError
from rnnkit.interop.onnx import export, to_onnx
from rnnkit.layers import GRU, LSTM, Bidirectional, Conv1D, Dense, Dropout, Embedding, Masking, SimpleRNN
from rnnkit.models import Input, Model, Sequential

B, T, D, H, VOCAB = 4, 7, 3, 5, 13
LENGTHS = [7, 3, 1, 5]
KINDS = {
    "rnn_tanh": lambda **k: SimpleRNN(H, **k),
    "rnn_relu": lambda **k: SimpleRNN(H, activation="relu", **k),
    "lstm": lambda **k: LSTM(H, **k),
    "gru": lambda **k: GRU(H, **k),
    "gru_reset_before": lambda **k: GRU(H, reset_after=False, **k),
}
DIRECTIONS = ("forward", "backwards", "bidirectional")
MASKS = ("none", "embedding", "masking", "embedding_pre", "masking_pre")  # _pre: padding at the front


def run_onnx(path_or_proto, x):
    data = path_or_proto if isinstance(path_or_proto, bytes) else path_or_proto.SerializeToString()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


def randomize(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([0.6 * rng.standard_normal(w.shape) for w in model.get_weights()])


def data(mask, seed, batch=B, steps=T, lengths=LENGTHS, start=None):
    """Inputs with real steps ``start[b] <= t < start[b] + lengths[b]``; ``start`` 0 by default, or the
    front padding for a mask named ``*_pre``."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    if start is None:
        start = steps - lengths if mask.endswith("_pre") else np.zeros_like(lengths)
    t = np.arange(steps)[None, :]
    padded = (t < np.asarray(start)[:, None]) | (t >= (start + lengths)[:, None])  # (B, T)
    mask = mask.removesuffix("_pre")
    if mask == "embedding":
        ids = rng.integers(1, VOCAB, size=(batch, steps))
        ids[padded] = 0
        return ids.astype(np.int64)
    x = rng.standard_normal((batch, steps, D)).astype(np.float32)
    if mask == "masking":
        x[padded] = 0.0
    return x


def check(model, x, proto=None):
    proto = proto or to_onnx(model)
    expected = model.predict(x, verbose=0)
    actual = run_onnx(proto, x)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def build(model, mask, seed):
    model(data(mask, seed, batch=2, steps=3, lengths=[3, 3]))  # built on another batch size and length
    randomize(model, seed)
    return model


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_recurrent_layers_match_onnxruntime(kind, direction, mask, return_sequences):
    layer = KINDS[kind](return_sequences=return_sequences, go_backwards=direction == "backwards")
    if direction == "bidirectional":
        layer = Bidirectional(layer)
    first = {"embedding": [Embedding(VOCAB, D, mask_zero=True)], "masking": [Masking()],
             "none": []}[mask.removesuffix("_pre")]
    model = build(Sequential(first + [layer]), mask, seed=len(kind) + len(direction) + len(mask))
    check(model, data(mask, 1))


@pytest.mark.parametrize("merge_mode", ["sum", "ave", "mul"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
def test_bidirectional_merge_modes(merge_mode, return_sequences):
    model = Sequential([Masking(), Bidirectional(GRU(H, return_sequences=return_sequences), merge_mode=merge_mode)])
    check(build(model, "masking", 3), data("masking", 4))


def test_stacked_model_with_dense_activations_and_dropout(tmp_path):
    model = Sequential([Embedding(VOCAB, D, mask_zero=True), Dropout(0.5),
                        Bidirectional(LSTM(H, return_sequences=True)), GRU(H, return_sequences=True, go_backwards=True),
                        Dense(6, activation="tanh"), SimpleRNN(H, activation="relu"), Dropout(0.2),
                        Dense(4, activation="relu"), Dense(3, activation="softmax")])
    build(model, "embedding", 5)
    path = tmp_path / "stack.onnx"
    export(model, path)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "time"]
    check(model, data("embedding", 6), proto)
    single = data("embedding", 7, batch=1, steps=11, lengths=[9])  # batch 1, a longer sequence
    check(model, single, proto)


@pytest.mark.parametrize("activation", ["sigmoid", "log_softmax", "hard_sigmoid", "softplus", "elu", "linear"])
def test_dense_activations_on_2d_inputs(activation):
    model = Sequential([LSTM(H), Dense(4, activation=activation), Dense(3, use_bias=False)])
    check(build(model, "none", 8), data("none", 9))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_other_gate_activations(kind):
    layer = KINDS[kind](activation="relu", recurrent_activation="hard_sigmoid", return_sequences=True)
    model = Sequential([Masking(), Bidirectional(layer)])
    check(build(model, "masking", 10), data("masking", 11))


@pytest.mark.parametrize("opset", [14, 18, 21])
def test_opsets(opset):
    model = build(Sequential([Masking(), Bidirectional(LSTM(H), merge_mode="ave"), Dense(2)]), "masking", 12)
    proto = to_onnx(model, opset=opset)
    assert proto.opset_import[0].version == opset
    check(model, data("masking", 13), proto)


def test_functional_chain():
    inputs = Input((None, D))
    outputs = Dense(2)(GRU(H)(Masking()(inputs)))
    model = Model(inputs, outputs)
    randomize(model, 14)
    check(model, data("masking", 15))


def test_unsupported_layers_and_options_are_named():
    model = build(Sequential([Conv1D(4, 2), LSTM(H)]), "none", 0)
    with pytest.raises(ConfigError, match=r"does not support layer\(s\) conv1d\w* \(Conv1D\)"):
        to_onnx(model)
    for layer, message in [(LSTM(H, return_state=True), "return_state=True"),
                           (Bidirectional(GRU(H), merge_mode=None), "merge_mode=None"),
                           (Bidirectional(GRU(H, go_backwards=True)), "go_backwards")]:
        model = Sequential([Masking(), layer])
        model(data("masking", 0))
        with pytest.raises(ConfigError, match=message):
            to_onnx(model)
    model = build(Sequential([LSTM(H)]), "none", 0)
    with pytest.raises(ConfigError, match="opset must be an integer from 14"):
        to_onnx(model, opset=9)
    with pytest.raises(ConfigError, match="not built"):
        to_onnx(Sequential([LSTM(H)]))


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
def test_a_fully_masked_sequence(return_sequences):
    model = Sequential([Masking(), Bidirectional(LSTM(H, return_sequences=return_sequences)), Dense(2)])
    check(build(model, "masking", 16), data("masking", 17, lengths=[7, 0, 2, 4]))  # row 1: padding only


def test_masks_padded_on_both_sides_and_the_post_only_graph():
    model = build(Sequential([Embedding(VOCAB, D, mask_zero=True), Bidirectional(GRU(H, return_sequences=True)),
                              LSTM(H, go_backwards=True, return_sequences=True), SimpleRNN(H)]), "embedding", 18)
    check(model, data("embedding", 19, lengths=[3, 4, 0, 2], start=[2, 0, 0, 5]))  # one block per row, anywhere
    post = to_onnx(model, padding="post")
    assert "GatherElements" not in {node.op_type for node in post.graph.node}
    check(model, data("embedding", 20), post)  # padding at the end only
    with pytest.raises(ConfigError, match="padding must be one of"):
        to_onnx(model, padding="pre")
