"""Reports and plots of the applications: one way to write ``report.json``, the headline line, and pictures.

``write_report`` writes JSON atomically (NumPy numbers become plain numbers, non-finite floats become null);
``headline`` formats the last line a task prints; ``plot_history`` and ``plot_heatmap`` draw the pictures every
task needs, and return False (drawing nothing) where matplotlib is not installed (extra ``rnnkit[plot]``).

>>> import json, os, tempfile
>>> import numpy as np
>>> folder = tempfile.mkdtemp()
>>> path = write_report(folder, {"task": "demo", "test_accuracy": np.float32(0.875), "loss": float("nan")})
>>> json.load(open(path))
{'task': 'demo', 'test_accuracy': 0.875, 'loss': None}
>>> headline({"test_accuracy": 0.87512, "baseline_accuracy": 0.8})
'test_accuracy=0.8751 baseline_accuracy=0.8000'
"""
from __future__ import annotations

import contextlib
import json
import math
import os

import numpy as np

from rnnkit.fileio import atomic_write, atomic_write_text

REPORT_NAME = "report.json"


def plain(value):
    """``value`` with NumPy scalars and arrays turned into Python numbers and lists, tuples into lists, and
    NaN / infinity into None (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(out: str, report: dict, name: str = REPORT_NAME) -> str:
    """Write ``report`` as indented JSON to ``out/name`` atomically; returns the path."""
    path = os.path.join(out, name)
    atomic_write_text(path, json.dumps(plain(report), indent=2, allow_nan=False) + "\n")
    return path


def headline(metrics: dict, digits: int = 4) -> str:
    """The last line of a task: ``name=value`` pairs in order, floats with ``digits`` decimals."""
    def text(value):
        if isinstance(value, (float, np.floating)):
            return f"{float(value):.{digits}f}"
        return str(value)

    return " ".join(f"{name}={text(value)}" for name, value in metrics.items())


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


@contextlib.contextmanager
def figure(path: str, **subplots_kwargs):
    """``with figure(path, ncols=2) as (fig, axes):`` draws, then saves the PNG atomically and closes the
    figure. Yields None where matplotlib is missing (callers check ``if drawing is None``)."""
    plt = pyplot()
    if plt is None:
        yield None
        return
    fig, axes = plt.subplots(**subplots_kwargs)
    try:
        yield fig, axes
        fig.tight_layout()
        with atomic_write(path) as f:
            fig.savefig(f, format="png", dpi=100)
    finally:
        plt.close(fig)


def plot_history(history: dict, path: str, title: str, validation_name: str = "validation") -> bool:
    """Training curves: one panel per metric (``loss`` first), training and ``val_*`` lines, integer epoch
    ticks, ``title`` above (model, data, epochs). ``validation_name`` labels the ``val_*`` curves ("test" when
    the held-out split is the test set). False (nothing drawn) without matplotlib or without any metric."""
    metrics = [key for key in history if not key.startswith("val_") and len(history[key])]
    metrics += [key[4:] for key in history if key.startswith("val_") and key[4:] not in history]
    metrics.sort(key=lambda key: key != "loss")
    if not metrics:
        return False
    with figure(path, ncols=len(metrics), figsize=(5 * len(metrics), 4), squeeze=False) as drawing:
        if drawing is None:
            return False
        fig, axes = drawing
        for ax, metric in zip(axes[0], metrics):
            for key, label, style in ((metric, "training", "-o"), (f"val_{metric}", validation_name, "--o")):
                values = history.get(key) or []
                if len(values):
                    ax.plot(range(1, len(values) + 1), values, style, label=label, markersize=3)
            ax.set_xlabel("epoch")
            ax.set_title(metric)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(title)
    return True


def plot_heatmap(matrix, path: str, title: str, row_labels=None, column_labels=None, xlabel: str = "",
                 ylabel: str = "", annotate: bool = False) -> bool:
    """A matrix as a heat map (attention weights, a confusion matrix), labelled rows and columns; with
    ``annotate`` each cell shows its value. False (nothing drawn) without matplotlib."""
    matrix = np.asarray(matrix, dtype=float)  # (rows, columns)
    rows, columns = matrix.shape
    size = (max(4.0, 0.45 * columns + 2.5), max(3.0, 0.4 * rows + 1.8))
    with figure(path, figsize=size) as drawing:
        if drawing is None:
            return False
        fig, ax = drawing
        image = ax.imshow(matrix, cmap="viridis", aspect="auto")
        fig.colorbar(image, ax=ax)
        if column_labels is not None:
            ax.set_xticks(range(columns), labels=list(column_labels), rotation=60, ha="right")
        if row_labels is not None:
            ax.set_yticks(range(rows), labels=list(row_labels))
        if annotate:
            middle = (np.nanmax(matrix) + np.nanmin(matrix)) / 2 if matrix.size else 0
            for i in range(rows):
                for j in range(columns):
                    value = matrix[i, j]
                    ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=8,
                            color="black" if value > middle else "white")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    return True
