"""plot_gradient_flow: ``||dLoss/dh_t||`` against the time step, log scale, one line per recurrent layer.

>>> import numpy as np, os, tempfile
>>> from rnnkit.diagnostics import GradientFlow, LayerFlow
>>> h = np.geomspace(1e-6, 1e-1, 20)
>>> flow = GradientFlow(0.5, [LayerFlow("simple_rnn", "SimpleRNN", False, {"h": h}, h / 2)])
>>> path = os.path.join(tempfile.mkdtemp(), "gradient-flow.png")
>>> plot_gradient_flow(flow, path), os.path.getsize(path) > 0
(True, True)
"""
from __future__ import annotations

import numpy as np

from rnnkit.tasks.report import figure


def plot_gradient_flow(flow, path: str, title: str | None = None, inputs: bool = False) -> bool:
    """Draw ``flow`` (a :class:`GradientFlow`, or a ``{label: GradientFlow}`` dict to compare several models)
    to the PNG ``path``: batch-mean ``||dL/dh_t||`` per step on a log axis, one line per recurrent layer (LSTM's
    ``||dL/dc_t||`` dashed); ``inputs=True`` adds ``||dL/dx_t||`` dotted. Returns False (nothing drawn) where
    matplotlib is not installed (``pip install "rnnkit[plot]"``)."""
    flows = flow if isinstance(flow, dict) else {"": flow}
    with figure(path, figsize=(8, 4.5)) as drawing:
        if drawing is None:
            return False
        fig, ax = drawing
        for label, one in flows.items():
            for layer in one.layers:
                name = f"{label}: {layer.name}" if label else layer.name
                steps = np.arange(len(layer.h))
                (line,) = ax.plot(steps, _positive(layer.h), "-", label=f"{name} dL/dh")
                if "c" in layer.states:
                    ax.plot(steps, _positive(layer.states["c"]), "--", color=line.get_color(), label=f"{name} dL/dc")
                if inputs:
                    ax.plot(steps, _positive(layer.x), ":", color=line.get_color(), label=f"{name} dL/dx")
        ax.set_yscale("log")
        ax.set_xlabel("time step t (input order)")
        ax.set_ylabel("batch mean of ||dLoss/dh_t||")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        ax.set_title(title or "Gradient flow through time")
    return True


def _positive(values: np.ndarray) -> np.ndarray:
    """Zeros (a masked step, an output the loss ignores) cannot sit on a log axis: they become gaps."""
    values = np.array(values, dtype=np.float64)
    values[values <= 0] = np.nan
    return values
