"""PyTorch state dicts <-> rnnkit models (rnnkit.interop.pytorch), checked against PyTorch itself in float64:
a PyTorch network of nn.Embedding / nn.RNN / nn.LSTM / nn.GRU / nn.Linear converted with ``from_state_dict``
gives the same outputs and the same gradients (inputs and every parameter, 1e-9 relative) for every option
(num_layers, bidirectional, batch_first, bias, tanh / relu, sequences or final state, masks as packed
sequences); rnnkit models converted with ``to_state_dict`` load into the PyTorch network and predict the same;
``.safetensors`` files round-trip bit for bit and cross to and from PyTorch's own safetensors files."""
import numpy as np
import pytest

from helpers.torch_ref import require_torch
from rnnkit import Tensor
from rnnkit.errors import ConfigError
from rnnkit.interop.pytorch import (from_state_dict, load_safetensors, pytorch_architecture, save_safetensors,
                                    to_state_dict)
from rnnkit.layers import GRU, LSTM, Bidirectional, Conv1D, Dense, Embedding, SimpleRNN
from rnnkit.models import Sequential

B, T, D, H, VOCAB, OUT = 3, 5, 3, 4, 11, 2
LENGTHS = [5, 2, 4]  # unsorted: pack_padded_sequence(enforce_sorted=False)
KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
SCENARIOS = {  # num_layers, bidirectional, batch_first, bias, return_sequences, input ("float", "ids", "masked")
    "single_last": (1, False, True, True, False, "float"),
    "stacked_bidirectional_time_major_nobias_sequences": (2, True, False, False, True, "float"),
    "embedding_mask_stacked_bidirectional_last": (2, True, True, True, False, "ids"),
    "masking_sequences": (1, False, True, True, True, "masked"),
    "three_layers_last": (3, False, False, True, False, "ids"),
}


def make_net(torch, kind, num_layers, bidirectional, batch_first, bias, return_sequences, source):
    """A PyTorch network: [Embedding] -> recurrent module -> Linear on the sequence or on the final state."""
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            width = D
            if source == "ids":
                self.emb = nn.Embedding(VOCAB, D)
            args = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
            if kind.startswith("rnn"):
                self.rnn = nn.RNN(width, H, nonlinearity=kind[4:], **args)
            else:
                self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(width, H, **args)
            self.fc = nn.Linear(H * (2 if bidirectional else 1), OUT)

        def forward(self, x, lengths=None):
            if source == "ids":
                x = self.emb(x)
            if not batch_first:
                x = x.transpose(0, 1)  # (T, B, D)
            if lengths is not None:
                x = nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first,
                                                      enforce_sorted=False)
            out, state = self.rnn(x)
            if return_sequences:
                if lengths is not None:
                    out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=T)
                if not batch_first:
                    out = out.transpose(0, 1)
                return self.fc(out)
            h_n = state[0] if kind == "lstm" else state
            last = torch.cat([h_n[-2], h_n[-1]], dim=-1) if bidirectional else h_n[-1]
            return self.fc(last)

    return Net().double()


def architecture(kind, scenario):
    num_layers, bidirectional, batch_first, bias, return_sequences, source = SCENARIOS[scenario]
    entries = []
    if source == "ids":
        entries.append("embedding:emb(mask_zero=true)")
    if source == "masked":
        entries.append("masking(mask_value=0)")
    options = [f"return_sequences={str(return_sequences).lower()}"]
    if kind.startswith("rnn"):
        options.append(f"nonlinearity={kind[4:]}")
    entries.append(f"rnn({'; '.join(options)})")  # the type comes from the shapes
    entries.append("fc")
    return ", ".join(entries)


def inputs(rng, source):
    if source == "ids":
        ids = rng.integers(1, VOCAB, size=(B, T))
        ids[np.arange(T)[None, :] >= np.array(LENGTHS)[:, None]] = 0  # padding at the end
        return ids, LENGTHS
    x = rng.standard_normal((B, T, D))
    if source == "masked":
        x[np.arange(T)[None, :] >= np.array(LENGTHS)[:, None]] = 0.0
        return x, LENGTHS
    return x, None


def numpy_state(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def randomize(torch, net, rng):
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.tensor(0.5 * rng.standard_normal(tuple(p.shape))))


def close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("kind", KINDS)
def test_pytorch_to_rnnkit_outputs_and_gradients(kind, scenario):
    torch = require_torch()
    rng = np.random.default_rng(KINDS.index(kind) * 10 + list(SCENARIOS).index(scenario))
    options = SCENARIOS[scenario]
    source = options[-1]
    net = make_net(torch, kind, *options)
    randomize(torch, net, rng)
    model = from_state_dict(numpy_state(net), architecture(kind, scenario))
    assert model.dtype == "float64"

    x, lengths = inputs(rng, source)
    x_r = Tensor(x, requires_grad=source != "ids", dtype="int64" if source == "ids" else "float64")
    y = model(x_r)
    x_t = torch.tensor(x, requires_grad=source != "ids")
    y_t = net(x_t, lengths)
    close(y.numpy(), y_t.detach().numpy(), "outputs")

    r = rng.standard_normal(y.shape)
    (y * Tensor(r, dtype="float64")).sum().backward()
    (y_t * torch.tensor(r)).sum().backward()
    if source != "ids":
        close(x_r.grad, x_t.grad.numpy(), "grad x")
    # rnnkit's gradients in PyTorch's layout: the same conversion applied to a model holding them
    grads = from_state_dict(numpy_state(net), architecture(kind, scenario))
    grads.set_weights([w.grad for w in model.weights])
    as_torch = to_state_dict(grads, prefixes=[n for n in ("emb", "rnn", "fc") if hasattr(net, n)])
    for name, p in net.named_parameters():
        key = name.replace("bias_hh", "bias_ih") if kind != "gru" and "bias_hh" in name else name
        close(as_torch[key], p.grad.numpy(), f"grad {name}")  # Keras' one bias gets both PyTorch biases' gradient


@pytest.mark.parametrize("scenario", ["stacked_bidirectional_time_major_nobias_sequences",
                                      "embedding_mask_stacked_bidirectional_last"])
@pytest.mark.parametrize("kind", KINDS)
def test_rnnkit_to_pytorch(kind, scenario):
    torch = require_torch()
    num_layers, bidirectional, batch_first, bias, return_sequences, source = SCENARIOS[scenario]
    rng = np.random.default_rng(7)
    cls, extra = {"rnn_tanh": (SimpleRNN, {"activation": "tanh"}), "rnn_relu": (SimpleRNN, {"activation": "relu"}),
                  "lstm": (LSTM, {}), "gru": (GRU, {})}[kind]
    layers = [Embedding(VOCAB, D, mask_zero=True, dtype="float64")] if source == "ids" else []
    for level in range(num_layers):
        layer = cls(H, return_sequences=return_sequences or level < num_layers - 1, use_bias=bias, dtype="float64",
                    **extra)
        layers.append(Bidirectional(layer) if bidirectional else layer)
    model = Sequential(layers + [Dense(OUT, dtype="float64")])
    x, lengths = inputs(rng, source)
    model(x)
    model.set_weights([0.5 * rng.standard_normal(w.shape) for w in model.get_weights()])
    prefixes = ["emb", "rnn", "fc"] if source == "ids" else ["rnn", "fc"]
    assert [m["type"] for m in pytorch_architecture(model, prefixes)] == [
        *(["embedding"] if source == "ids" else []), kind[:3] if kind.startswith("rnn") else kind, "linear"]
    net = make_net(torch, kind, num_layers, bidirectional, batch_first, bias, return_sequences, source)
    net.load_state_dict({k: torch.tensor(v) for k, v in to_state_dict(model, prefixes).items()}, strict=True)
    close(model.predict(x, verbose=0), net(torch.tensor(x), lengths).detach().numpy(), "outputs")


def test_lone_layers_have_the_module_keys():
    torch = require_torch()
    layer = Bidirectional(LSTM(H, return_sequences=True))
    layer(np.ones((1, T, D)))
    assert sorted(to_state_dict(layer)) == sorted(torch.nn.LSTM(D, H, bidirectional=True).state_dict())
    dense = Dense(OUT)
    dense(np.ones((1, D)))
    assert sorted(to_state_dict(dense)) == ["bias", "weight"]
    net = torch.nn.GRU(D, H, num_layers=2).double()  # a lone module needs no architecture
    model = from_state_dict(numpy_state(net))
    x = np.random.default_rng(0).standard_normal((B, T, D))
    close(model.predict(x, verbose=0), net(torch.tensor(x).transpose(0, 1))[1][-1].detach().numpy(), "lone GRU")


def test_refusals_give_the_reason():
    torch = require_torch()
    gru = GRU(H, reset_after=False)
    gru(np.ones((1, T, D)))
    with pytest.raises(ConfigError, match="reset_after=False has no PyTorch equivalent"):
        to_state_dict(gru)
    with pytest.raises(ConfigError, match="proj_size"):
        from_state_dict(numpy_state(torch.nn.LSTM(D, H, proj_size=2)))
    backwards = LSTM(H, go_backwards=True)
    backwards(np.ones((1, T, D)))
    with pytest.raises(ConfigError, match="go_backwards"):
        to_state_dict(backwards)
    summed = Bidirectional(LSTM(H), merge_mode="sum")
    summed(np.ones((1, T, D)))
    with pytest.raises(ConfigError, match="merge_mode='sum'"):
        to_state_dict(summed)
    conv = Sequential([Conv1D(2, 3), LSTM(H)])
    conv(np.ones((1, T, D)))
    with pytest.raises(ConfigError, match=r"Conv1D\) has no PyTorch"):
        to_state_dict(conv)
    state = {"emb.weight": np.ones((VOCAB, D)), "rnn.weight_ih_l0": np.ones((H, D)),
             "rnn.weight_hh_l0": np.ones((H, H))}
    with pytest.raises(ConfigError, match="holds 2 modules"):
        from_state_dict(state)
    with pytest.raises(ConfigError, match="nn.Embedding or an nn.Linear"):
        from_state_dict(state, "emb, rnn")
    with pytest.raises(ConfigError, match=r"does not use the state dict keys \['emb.weight'\]"):
        from_state_dict(state, "rnn")
    with pytest.raises(ConfigError, match="unknown option"):
        from_state_dict(state, "embedding:emb, rnn(units=3)")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_safetensors_round_trip_bit_for_bit(tmp_path, dtype):
    rng = np.random.default_rng(1)
    model = Sequential([Embedding(VOCAB, D, mask_zero=True, dtype=dtype),
                        Bidirectional(GRU(H, return_sequences=True, dtype=dtype)), LSTM(H, dtype=dtype),
                        Dense(OUT, activation="softmax", dtype=dtype)], dtype=dtype)
    ids = rng.integers(1, VOCAB, size=(B, T))
    model(ids)
    model.set_weights([rng.standard_normal(w.shape).astype(dtype) for w in model.get_weights()])
    path = tmp_path / "m.safetensors"
    save_safetensors(model, path)
    again = load_safetensors(path)
    assert again.dtype == dtype
    assert [type(layer).__name__ for layer in again.layers] == ["Embedding", "Bidirectional", "LSTM", "Dense"]
    for ours, theirs in zip(model.get_weights(), again.get_weights()):
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
    assert np.array_equal(model.predict(ids, verbose=0), again.predict(ids, verbose=0))


def test_safetensors_cross_pytorch(tmp_path):
    torch = require_torch()
    from safetensors.torch import load_file, save_file

    rng = np.random.default_rng(2)
    net = make_net(torch, "lstm", *SCENARIOS["embedding_mask_stacked_bidirectional_last"])
    randomize(torch, net, rng)
    save_file(net.state_dict(), tmp_path / "torch.safetensors")  # PyTorch's file: no architecture in it
    with pytest.raises(ConfigError, match="give the architecture"):
        load_safetensors(tmp_path / "torch.safetensors")
    model = load_safetensors(tmp_path / "torch.safetensors", "embedding:emb(mask_zero=true), rnn, fc")
    x, lengths = inputs(rng, "ids")
    expected = net(torch.tensor(x), lengths).detach().numpy()
    close(model.predict(x, verbose=0), expected, "from PyTorch's file")
    save_safetensors(model, tmp_path / "rnnkit.safetensors", prefixes=["emb", "rnn", "fc"])
    twin = make_net(torch, "lstm", *SCENARIOS["embedding_mask_stacked_bidirectional_last"])
    twin.load_state_dict(load_file(tmp_path / "rnnkit.safetensors"), strict=True)
    close(twin(torch.tensor(x), lengths).detach().numpy(), expected, "PyTorch from rnnkit's file")


def test_consecutive_modules_pass_sequences_by_default():
    torch = require_torch()

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = torch.nn.LSTM(D, H, batch_first=True, bidirectional=True)
            self.second = torch.nn.GRU(2 * H, H, batch_first=True)
            self.head = torch.nn.Linear(H, OUT)

        def forward(self, x):
            return self.head(self.second(self.first(x)[0])[1][-1])

    net = Net().double()
    randomize(torch, net, np.random.default_rng(3))
    model = from_state_dict(numpy_state(net), "first, second, head")  # every type from the shapes
    assert [layer.return_sequences for layer in model.layers[:2]] == [True, False]
    x = np.random.default_rng(4).standard_normal((B, T, D))
    close(model.predict(x, verbose=0), net(torch.tensor(x)).detach().numpy(), "outputs")


def test_weightless_layers_round_trip(tmp_path):
    from rnnkit.layers import Dropout, Masking

    model = Sequential([Masking(mask_value=-1.0), SimpleRNN(H, activation="relu", return_sequences=True),
                        Dropout(0.3), SimpleRNN(H, activation="relu"), Dense(OUT, activation="tanh")])
    x = np.random.default_rng(5).standard_normal((B, T, D)).astype("float32")
    x[0, 3:] = -1.0
    model(x)
    assert [m["type"] for m in pytorch_architecture(model)] == ["masking", "rnn", "dropout", "rnn", "linear"]
    save_safetensors(model, tmp_path / "m.safetensors")
    again = load_safetensors(tmp_path / "m.safetensors")
    assert [type(layer).__name__ for layer in again.layers] == [type(layer).__name__ for layer in model.layers]
    assert np.array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
