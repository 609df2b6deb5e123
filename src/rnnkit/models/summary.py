"""``model.summary()``: a Keras-style table of layers, output shapes and parameter counts.

Output shapes come from the graph for functional models, and from running two small zero batches through a
Sequential model's layers (batch sizes 1 and 2; axes that differ are printed as ``None``). A model that is not
built and has no known input shape is built first only if it can be; a subclassed model's layers show ``?``.

>>> from rnnkit.layers import Dense, SimpleRNN
>>> from rnnkit.models import Sequential
>>> model = Sequential([SimpleRNN(32, input_shape=(28, 28), name="rnn"), Dense(10, name="out")], name="demo")
>>> model.summary()
Model: "demo"
_________________________________________________________________
 Layer (type)                Output Shape              Param #
=================================================================
 rnn (SimpleRNN)             (None, 32)                1952
<BLANKLINE>
 out (Dense)                 (None, 10)                330
<BLANKLINE>
=================================================================
Total params: 2,282 (8.91 KB)
Trainable params: 2,282 (8.91 KB)
Non-trainable params: 0 (0.00 B)
_________________________________________________________________
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import no_grad


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _merge(first, second):
    """Shapes of two runs -> one shape with ``None`` where they differ (the batch axis always ``None``)."""
    if isinstance(first, list):
        return [_merge(a, b) for a, b in zip(first, second)]
    merged = [a if a == b else None for a, b in zip(first, second)]
    if merged:
        merged[0] = None
    return tuple(merged)


def _shapes_of(outputs):
    if isinstance(outputs, (list, tuple)):
        return [tuple(o.shape) for o in outputs]
    return tuple(outputs.shape)


def _has_stateful(layer) -> bool:
    return bool(getattr(layer, "stateful", False)) or any(_has_stateful(sub) for sub in layer._layers)


def _sequential_shapes(model) -> dict:
    """``{id(layer): output shape}`` for a Sequential model whose input shape is known (not for stateful
    layers, whose carried states a dummy batch would disturb)."""
    if _has_stateful(model):
        return {}
    spec = model._input_spec or ([(model._known_input_shape(), model.dtype)] if model._known_input_shape() else None)
    if not spec or len(spec) != 1:
        return {}
    shape, dtype = spec[0]
    if getattr(model, "_input_dtype", None):
        dtype = model._input_dtype
    runs = []
    for size in (1, 2):
        x = np.zeros(tuple(size if d is None else d for d in shape), dtype=dtype)
        shapes = []
        with no_grad():
            x = model._as_input(x)
            for layer in model.layers:
                x = layer(x, training=False)
                shapes.append(_shapes_of(x))
        runs.append(shapes)
    return {id(layer): _merge(a, b) for layer, a, b in zip(model.layers, runs[0], runs[1])}


def _functional_rows(model) -> list:
    rows = []
    for p in model.inputs:
        rows.append((f"{p.name} (InputLayer)", _shape_text(p.shape), 0, []))
    for node in model._nodes:
        outs = node.output_list()
        shape = outs[0].shape if len(outs) == 1 and not isinstance(node.outputs, (list, tuple)) else [
            o.shape for o in outs]
        sources = []
        for parent in node.parents():
            label = parent.name if parent.node is None else parent.node.layer.name
            if parent.node is not None and len(parent.node.output_list()) > 1:
                label += f"[{parent.index}]"
            if label not in sources:
                sources.append(label)
        rows.append((f"{node.layer.name} ({type(node.layer).__name__})", _shape_text(shape),
                     node.layer.count_params(), sources))
    return rows


def _size_text(count: int, itemsize: int) -> str:
    size = float(count * itemsize)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def print_summary(model, print_fn=print, line_length=None) -> None:
    """Print the summary of ``model`` line by line through ``print_fn``."""
    from rnnkit.models.functional import Functional

    model._ensure_built()
    functional = isinstance(model, Functional)
    if functional:
        rows = _functional_rows(model)
        widths = [29, 26, 10, 30]
        headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    else:
        shapes = _sequential_shapes(model) if hasattr(model, "pop") and model.built else {}
        rows = [(f"{layer.name} ({type(layer).__name__})", _shape_text(shapes.get(id(layer))), layer.count_params(),
                 None) for layer in model.layers]
        widths = [28, 26, 10]
        headers = ["Layer (type)", "Output Shape", "Param #"]
    total = line_length or sum(widths) + 1
    print_fn(f'Model: "{model.name}"')
    print_fn("_" * total)
    print_fn(_row(headers, widths))
    print_fn("=" * total)
    for name, shape, params, sources in rows:
        cells = [name, shape, str(params)]
        if sources is not None:
            cells.append(", ".join(sources) if sources else "[]")
        print_fn(_row(cells, widths))
        print_fn("")
    print_fn("=" * total)
    weights = model.weights
    trainable_ids = {id(w) for w in model.trainable_weights}
    trainable = [w for w in weights if id(w) in trainable_ids]
    others = [w for w in weights if id(w) not in trainable_ids]
    for label, group in (("Total", weights), ("Trainable", trainable), ("Non-trainable", others)):
        count = int(sum(w.size for w in group))
        nbytes = int(sum(w.data.nbytes for w in group))
        print_fn(f"{label} params: {count:,} ({_size_text(nbytes, 1)})")
    print_fn("_" * total)


def _row(cells, widths) -> str:
    text, position = "", 0
    for cell, width in zip(cells, widths):
        position += width
        text += " " + cell
        text = text.ljust(position) if len(text) < position else text + " "
    return text.rstrip()
