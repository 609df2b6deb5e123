"""Export a model to ONNX with ONNX's own ``RNN`` / ``LSTM`` / ``GRU`` operators, built with ``onnx.helper``.

``export(model, "m.onnx", opset=17)`` writes a float32 graph with one input ``input`` (float ``(batch, time,
features)``, or int64 ids ``(batch, time)`` when the model starts with ``Embedding``; ``(batch, features)``
for a Dense-only model) and one output ``output``; the batch and time axes are dynamic. The graph is checked
with ``onnx.checker.check_model`` before it is written (atomically). ``pip install 'rnnkit[onnx]'`` brings
``onnx`` and ``onnxruntime``.

====================================== ===================================================================
rnnkit                                 ONNX
====================================== ===================================================================
``Embedding``                          ``Gather``; ``mask_zero=True``: lengths ``ReduceSum(ids != 0)``, first
                                       real step ``ArgMax(ids != 0)``
``Masking``                            ``x * any(x != v)``; lengths and first real step as above
``Dense``                              ``Gemm`` (2-D input) or ``MatMul`` + ``Add``, then the activation
``Dropout``                            nothing (identity at inference)
``SimpleRNN`` / ``LSTM`` / ``GRU``     ``RNN`` / ``LSTM`` / ``GRU`` (``layout=0``: input transposed to
                                       ``(time, batch, features)``), ``sequence_lens`` = the lengths
``GRU(reset_after=True / False)``      ``linear_before_reset=1 / 0``
``go_backwards=True``                  ``direction="reverse"``; the sequence output flipped in time, as
                                       rnnkit returns it in processing order
``Bidirectional``                      ``direction="bidirectional"``; merge ``concat`` (reshape), ``sum``,
                                       ``ave``, ``mul`` (reductions over the direction axis)
``return_sequences=False``             ``Y_h`` (the state at each sequence's last valid step)
activations                            ``Tanh``, ``Sigmoid``, ``Relu``, ``Softmax``, ``LogSoftmax``,
                                       ``HardSigmoid(1/6, 0.5)``, ``Softplus``, ``Elu``
====================================== ===================================================================

Weights, from Keras layout: ``W = kernel^T``, ``R = recurrent_kernel^T`` per direction, stacked
``(directions, gates * H, ·)``; gate blocks LSTM Keras ``i f c o`` -> ONNX ``i o f c``, GRU ``z r h`` (the same
order in both), RNN one block; ``B = [Wb, Rb]`` with ``Wb = bias``, ``Rb = 0`` (GRU ``reset_after=True``:
``Wb, Rb = bias[0], bias[1]``).

Masks: ONNX runs each sequence over its first ``sequence_lens[b]`` steps. rnnkit skips masked steps wherever
they are; so that ONNX runs the same steps, ``padding="any"`` (the default) moves each row's real steps to the
front before every recurrent operator (``GatherElements`` with indices ``(t + first_real_step) mod T``) and
its output back after it. The export is exact for masks whose real steps form one block per row: padding at
the end (``pad_sequences(padding="post")``), at the front (Keras' default ``"pre"``) or both, and rows with no
real step. ``padding="post"`` leaves out the reordering (a smaller graph) and is exact for end padding only. A
mask with holes inside a row gives different results under ONNX than in rnnkit.

>>> import os, tempfile
>>> import numpy as np
>>> from rnnkit.layers import Dense, Embedding, LSTM
>>> from rnnkit.models import Sequential
>>> model = Sequential([Embedding(30, 8, mask_zero=True), LSTM(16), Dense(4, activation="softmax")])
>>> _ = model(np.ones((1, 5), dtype="int64"))
>>> path = os.path.join(tempfile.mkdtemp(), "m.onnx")
>>> export(model, path)
>>> import onnx
>>> ops = {node.op_type for node in onnx.load(path).graph.node}
>>> sorted(ops & {"Gather", "GatherElements", "Gemm", "LSTM", "MatMul", "Softmax"})
['Gather', 'GatherElements', 'Gemm', 'LSTM', 'Softmax']
"""
from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.fileio import atomic_write
from rnnkit.layers import Bidirectional, Dense, Dropout, Embedding, GRUCell, LSTMCell, Masking, SimpleRNNCell
from rnnkit.layers.recurrent import RNN

DEFAULT_OPSET = 17
PADDINGS = ("any", "post")
MIN_OPSET = 14
SUPPORTED = "Embedding, Masking, Dense, Dropout, SimpleRNN, LSTM, GRU, Bidirectional"
_GATE_ORDER = {"lstm": [0, 3, 1, 2], "gru": [0, 1, 2], "rnn": [0]}  # ONNX block j = Keras block order[j]
_OP = {SimpleRNNCell: ("rnn", "RNN"), LSTMCell: ("lstm", "LSTM"), GRUCell: ("gru", "GRU")}
# ONNX recurrent activations: name, alpha, beta (None: no parameter)
_GATE_ACTIVATIONS = {"tanh": ("Tanh", None, None), "sigmoid": ("Sigmoid", None, None), "relu": ("Relu", None, None),
                     "hard_sigmoid": ("HardSigmoid", 1 / 6, 0.5), "linear": ("Affine", 1.0, 0.0)}
_ACTIVATIONS = {"tanh": ("Tanh", {}), "sigmoid": ("Sigmoid", {}), "relu": ("Relu", {}),
                "softmax": ("Softmax", {"axis": -1}), "log_softmax": ("LogSoftmax", {"axis": -1}),
                "hard_sigmoid": ("HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}), "softplus": ("Softplus", {}),
                "elu": ("Elu", {"alpha": 1.0})}


class _Graph:
    """Nodes and initializers of the graph being built, with unique names."""

    def __init__(self, onnx, opset: int, padding: str):
        self.onnx, self.helper, self.opset, self.padding = onnx, onnx.helper, opset, padding
        self.nodes, self.initializers, self.used = [], [], set()

    def name(self, base: str) -> str:
        name, i = base, 1
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        return name

    def const(self, base: str, array) -> str:
        name = self.name(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type: str, inputs: list, base: str, outputs: int = 1, **attributes):
        names = [self.name(f"{base}_{op_type.lower()}" + (f"_{k}" if outputs > 1 else "")) for k in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names, name=self.name(f"{base}/{op_type}"),
                                                **attributes))
        return names[0] if outputs == 1 else names

    def reduce(self, op_type: str, x: str, axes: list, base: str, keepdims: int = 0) -> str:
        if op_type == "ReduceSum" or self.opset >= 18:  # axes became an input (ReduceSum at opset 13)
            return self.op(op_type, [x, self.const(f"{base}_axes", np.array(axes, dtype=np.int64))], base,
                           keepdims=keepdims)
        return self.op(op_type, [x], base, axes=list(axes), keepdims=keepdims)

    def axes(self, base: str, axes: list) -> str:
        return self.const(f"{base}_axes", np.array(axes, dtype=np.int64))


def _activation(g: _Graph, name, x: str, base: str, owner: str) -> str:
    if name in (None, "linear"):
        return x
    if name not in _ACTIVATIONS:
        raise ConfigError(f"layer {owner!r}: activation {name!r} has no ONNX export; supported: linear, "
                          f"{', '.join(_ACTIVATIONS)}")
    op_type, attributes = _ACTIVATIONS[name]
    return g.op(op_type, [x], base, **attributes)


# ---------------------------------------------------------------------------------------------- layers
class _Mask(NamedTuple):
    """A mask in the graph: ``lengths`` (B,) int32 for ``sequence_lens``, and with ``padding="any"`` the
    ``(B, T)`` int64 time indices that move each row's valid block to the front (``roll``) and back
    (``unroll``)."""

    lengths: str
    roll: str | None
    unroll: str | None


def _mask(g, valid: str, base: str) -> _Mask:
    """The :class:`_Mask` of ``valid`` ((B, T) int64, 1 on real steps)."""
    lengths = g.op("Cast", [g.reduce("ReduceSum", valid, [1], f"{base}_lengths")], base, to=g.onnx.TensorProto.INT32)
    if g.padding == "post":
        return _Mask(lengths, None, None)
    start = g.op("ArgMax", [valid], f"{base}_start", axis=1, keepdims=1)  # (B, 1): the first real step
    steps = g.op("Gather", [g.op("Shape", [valid], base), g.const(f"{base}_one", np.array(1, dtype=np.int64))], base)
    time = g.op("Unsqueeze", [g.op("Range", [g.const(f"{base}_zero", np.array(0, dtype=np.int64)), steps,
                                             g.const(f"{base}_step", np.array(1, dtype=np.int64))], base),
                              g.axes(f"{base}_batch", [0])], base)  # (1, T)
    roll = g.op("Mod", [g.op("Add", [time, start], base), steps], f"{base}_roll")  # (B, T): (t + start) mod T
    unroll = g.op("Mod", [g.op("Add", [g.op("Sub", [time, start], base), steps], base), steps], f"{base}_unroll")
    return _Mask(lengths, roll, unroll)


def _reorder_time(g, x: str, indices: str, base: str) -> str:
    """``x[b, indices[b, t], ...]`` for ``x`` (B, T, F)."""
    expanded = g.op("Expand", [g.op("Unsqueeze", [indices, g.axes(f"{base}_features", [2])], base),
                               g.op("Shape", [x], base)], base)  # (B, T, F)
    return g.op("GatherElements", [x, expanded], base, axis=1)


def _embedding(g, layer, x, mask, rank):
    weight = g.const(f"{layer.name}_embeddings", layer.embeddings.data.astype(np.float32))
    out = g.op("Gather", [weight, x], layer.name, axis=0)  # (B, T) ids -> (B, T, E)
    if layer.mask_zero:
        valid = g.op("Not", [g.op("Equal", [x, g.const(f"{layer.name}_zero", np.array(0, dtype=np.int64))],
                                  layer.name)], layer.name)
        mask = _mask(g, g.op("Cast", [valid], layer.name, to=g.onnx.TensorProto.INT64), layer.name)
    return out, mask, 3


def _masking(g, layer, x, mask, rank):
    value = g.const(f"{layer.name}_value", np.array(layer.mask_value, dtype=np.float32))
    differs = g.op("Cast", [g.op("Not", [g.op("Equal", [x, value], layer.name)], layer.name)], layer.name,
                   to=g.onnx.TensorProto.FLOAT)  # (B, T, D)
    keep = g.reduce("ReduceMax", differs, [2], f"{layer.name}_keep")  # (B, T): 1 where any feature differs
    out = g.op("Mul", [x, g.op("Unsqueeze", [keep, g.axes(f"{layer.name}_last", [2])], layer.name)], layer.name)
    return out, _mask(g, g.op("Cast", [keep], layer.name, to=g.onnx.TensorProto.INT64), layer.name), rank


def _dense(g, layer, x, mask, rank):
    kernel = g.const(f"{layer.name}_kernel", layer.kernel.data.astype(np.float32))
    bias = None if layer.bias is None else g.const(f"{layer.name}_bias", layer.bias.data.astype(np.float32))
    if rank == 2 and bias is not None:
        out = g.op("Gemm", [x, kernel, bias], layer.name)
    else:
        out = g.op("MatMul", [x, kernel], layer.name)  # (..., D) @ (D, units)
        if bias is not None:
            out = g.op("Add", [out, bias], layer.name)
    return _activation(g, layer.activation_name, out, layer.name, layer.name), mask, rank


def _gate_activations(cell, kind: str, owner: str) -> list:
    if kind == "rnn":
        names = [cell.activation]
    else:  # ONNX's f, g (, h): the gates' activation, then the candidate's (and the cell output's)
        names = [cell.recurrent_activation, cell.activation] + [cell.activation] * (kind == "lstm")
    for name in names:
        if name not in _GATE_ACTIVATIONS:
            raise ConfigError(f"layer {owner!r}: recurrent activation {name!r} has no ONNX export")
    return [_GATE_ACTIVATIONS[n] for n in names]


def _direction_weights(cell, kind: str) -> tuple:
    """``(W (G*H, D), R (G*H, H), B (2*G*H,))`` of one direction in ONNX layout, or B None without bias."""
    order, units = _GATE_ORDER[kind], cell.units

    def blocks(a):  # reorder the gate blocks along axis 0
        return np.concatenate([a[j * units:(j + 1) * units] for j in order], axis=0)

    w, r = blocks(cell.kernel.data.T), blocks(cell.recurrent_kernel.data.T)  # (G*H, D), (G*H, H)
    if cell.bias is None:
        return w, r, None
    bias = cell.bias.data
    if kind == "gru" and cell.reset_after:
        wb, rb = bias[0], bias[1]
    else:
        wb, rb = bias, np.zeros_like(bias)
    return w, r, np.concatenate([blocks(wb), blocks(rb)])


def _recurrent(g, layer, x, mask, rank):
    merge, inner, directions = None, layer, [layer]
    if isinstance(layer, Bidirectional):
        merge, inner, directions = layer.merge_mode, layer.forward_layer, [layer.forward_layer, layer.backward_layer]
        if merge is None:
            raise ConfigError(f"layer {layer.name!r}: Bidirectional(merge_mode=None) returns two outputs; the ONNX "
                              "export supports 'concat', 'sum', 'ave' and 'mul'")
        if inner.go_backwards:
            raise ConfigError(f"layer {layer.name!r}: a Bidirectional of a go_backwards layer has no ONNX export")
    for option in ("return_state", "stateful"):
        if getattr(inner, option):
            raise ConfigError(f"layer {layer.name!r}: {option}=True has no ONNX export (the graph starts from zero "
                              "states and returns one output)")
    if type(inner.cell) not in _OP:
        raise ConfigError(f"layer {layer.name!r}: cell {type(inner.cell).__name__} has no ONNX export")
    kind, op_type = _OP[type(inner.cell)]
    cell, name = inner.cell, layer.name
    activations = _gate_activations(cell, kind, name) * len(directions)
    weights = [_direction_weights(d.cell, kind) for d in directions]
    if mask is not None and mask.roll is not None:
        x = _reorder_time(g, x, mask.roll, f"{name}_roll")  # each row's valid steps first
    inputs = [g.op("Transpose", [x], name, perm=[1, 0, 2]),  # (B, T, D) -> (T, B, D)
              g.const(f"{name}_W", np.stack([w for w, _, _ in weights]).astype(np.float32)),
              g.const(f"{name}_R", np.stack([r for _, r, _ in weights]).astype(np.float32)),
              "" if weights[0][2] is None else g.const(f"{name}_B", np.stack([b for *_, b in weights]).astype(
                  np.float32)),
              "" if mask is None else mask.lengths]
    while inputs[-1] == "":
        inputs.pop()
    attributes = {"hidden_size": cell.units, "activations": [a for a, _, _ in activations],
                  "direction": "bidirectional" if merge else ("reverse" if inner.go_backwards else "forward")}
    if any(alpha is not None for _, alpha, _ in activations):
        attributes["activation_alpha"] = [alpha for _, alpha, _ in activations if alpha is not None]
        attributes["activation_beta"] = [beta for _, _, beta in activations if beta is not None]
    if kind == "gru":
        attributes["linear_before_reset"] = int(cell.reset_after)
    y, y_h = g.op(op_type, inputs, name, outputs=2, **attributes)[:2]  # (T, dirs, B, H), (dirs, B, H)
    if inner.return_sequences:
        y = g.op("Transpose", [y], name, perm=[2, 0, 1, 3])  # (B, T, dirs, H)
        axis, out_rank = 2, 3
    else:
        y, axis, out_rank = y_h, 0, 2
    if merge is None:
        out = g.op("Squeeze", [y, g.axes(f"{name}_dirs", [axis])], name)
    elif merge == "concat":
        if axis == 0:
            y = g.op("Transpose", [y], name, perm=[1, 0, 2])  # (B, dirs, H)
        shape = [0, 0, -1] if out_rank == 3 else [0, -1]  # 0: this axis as in the input
        out = g.op("Reshape", [y, g.axes(f"{name}_shape", shape)], name)  # forward then backward features
    else:
        out = g.reduce({"sum": "ReduceSum", "ave": "ReduceMean", "mul": "ReduceProd"}[merge], y, [axis], name)
    if not inner.return_sequences:
        return out, None, out_rank
    if mask is not None and mask.unroll is not None:
        out = _reorder_time(g, out, mask.unroll, f"{name}_unroll")  # (B, T, F) back in input time
    if inner.go_backwards:  # rnnkit returns the reversed sequence, in processing order
        out = g.op("Slice", [out, g.axes(f"{name}_start", [-1]), g.axes(f"{name}_end", [np.iinfo(np.int64).min]),
                             g.axes(f"{name}_time", [1]), g.axes(f"{name}_step", [-1])], name)
    return out, mask, out_rank


def _dropout(g, layer, x, mask, rank):
    return x, mask, rank


_HANDLERS = ((Embedding, _embedding), (Masking, _masking), (Dense, _dense), (Dropout, _dropout),
             (Bidirectional, _recurrent), (RNN, _recurrent))


# ----------------------------------------------------------------------------------------------- model
def _chain(model) -> tuple:
    """``(layers, input shape (None, ...), input dtype)`` of a Sequential or a single-path functional model."""
    from rnnkit.models import Sequential
    from rnnkit.models.functional import Functional

    if isinstance(model, Sequential):
        if not model.built:
            raise ConfigError(f"model {model.name!r} is not built: call it on a batch (or build it) before export")
        spec = model._input_spec[0] if model._input_spec else None
        if spec is None:
            raise ConfigError(f"model {model.name!r} has no recorded input shape; call it on a batch first")
        return list(model.layers), spec[0], spec[1]
    if isinstance(model, Functional):
        nodes, inputs = model._nodes, model.inputs
        previous = inputs[0] if len(inputs) == 1 else None
        for node in nodes:
            if previous is None or node.parents() != [previous] or len(node.output_list()) != 1:
                raise ConfigError(f"model {model.name!r}: the ONNX export takes a Sequential or a functional model "
                                  "that is one chain of layers (one input, one output, no branches)")
            previous = node.output_list()[0]
        if len(model.outputs) != 1 or model.outputs[0] is not previous:
            raise ConfigError(f"model {model.name!r}: the ONNX export needs a single output at the end of the chain")
        return [node.layer for node in nodes], inputs[0].shape, inputs[0].dtype.name
    raise ConfigError(f"the ONNX export takes a Sequential or functional Model; got {type(model).__name__}")


def _input_info(g: _Graph, shape: tuple, dtype: str, first_layer):
    if isinstance(first_layer, Embedding):
        return g.helper.make_tensor_value_info("input", g.onnx.TensorProto.INT64, ["batch", "time"]), 2
    if len(shape) == 3:
        dims = ["batch", "time", int(shape[2])]
    elif len(shape) == 2:
        dims = ["batch", int(shape[1])]
    else:
        raise ConfigError(f"the ONNX export takes inputs (batch, time, features) or (batch, features); the model's "
                          f"input shape is {shape}")
    return g.helper.make_tensor_value_info("input", g.onnx.TensorProto.FLOAT, dims), len(shape)


def to_onnx(model, opset: int = DEFAULT_OPSET, padding: str = "any"):
    """The checked ``onnx.ModelProto`` of ``model`` (see the module docstring)."""
    import onnx  # the optional 'onnx' extra: a ModuleNotFoundError names the package

    highest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= highest:
        raise ConfigError(f"opset must be an integer from {MIN_OPSET} to {highest} (onnx {onnx.__version__}); "
                          f"got {opset!r}")
    if padding not in PADDINGS:
        raise ConfigError(f"padding must be one of {PADDINGS}; got {padding!r}")
    layers, shape, dtype = _chain(model)
    unsupported = [f"{layer.name} ({type(layer).__name__})" for layer in layers
                   if not any(isinstance(layer, cls) for cls, _ in _HANDLERS)]
    if unsupported:
        raise ConfigError(f"the ONNX export does not support layer(s) {', '.join(unsupported)}; supported: {SUPPORTED}")
    g = _Graph(onnx, opset, padding)
    g.used.update({"input", "output"})
    input_info, rank = _input_info(g, shape, dtype, layers[0])
    x, mask = "input", None
    for layer in layers:
        handler = next(h for cls, h in _HANDLERS if isinstance(layer, cls))
        if handler is _embedding and x != "input":
            raise ConfigError(f"layer {layer.name!r}: the ONNX export supports Embedding only as the first layer")
        x, mask, rank = handler(g, layer, x, mask, rank)
    g.nodes.append(g.helper.make_node("Identity", [x], ["output"], name="output/Identity"))
    output_dims = ["batch"] + (["time"] if rank == 3 else []) + [None]
    output_info = g.helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, output_dims)
    graph = g.helper.make_graph(g.nodes, model.name, [input_info], [output_info], initializer=g.initializers)
    opsets = [g.helper.make_opsetid("", opset)]
    proto = g.helper.make_model(graph, opset_imports=opsets, producer_name="rnnkit",
                                ir_version=g.helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model, path, opset: int = DEFAULT_OPSET, padding: str = "any") -> None:
    """Write ``model`` as an ONNX file at ``path`` (atomically), after ``onnx.checker.check_model``.

    Args:
        model: a built Sequential (or single-chain functional) model of Embedding (first), Masking, Dense,
            Dropout, SimpleRNN, LSTM, GRU and Bidirectional layers.
        path: the ``.onnx`` file to write.
        opset: the ONNX opset (default 17; from 14 to the installed onnx's newest).
        padding: ``"any"`` (default): masks whose real steps are one block per row, padded at the end, the front
            or both; ``"post"``: padded at the end only, a smaller graph without the reordering.
    """
    data = to_onnx(model, opset, padding).SerializeToString()
    with atomic_write(os.fspath(path)) as f:
        f.write(data)
