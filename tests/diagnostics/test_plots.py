"""The pictures users look at: curves.png of ``rnnkit train`` (title, integer epochs, "test" curves) and the
gradient-flow plot, rendered and inspected through the figure objects and the pixels."""
from __future__ import annotations

import matplotlib
import matplotlib.image
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rnnkit.cli import main as cli  # noqa: E402
from rnnkit.tasks import report  # noqa: E402


@pytest.fixture
def figures(monkeypatch):
    """The figures closed while the test runs (the plotting functions close theirs after saving)."""
    seen, close = [], plt.close

    def keep(fig=None):
        if fig is not None and hasattr(fig, "axes"):
            seen.append(fig)
        close(fig)

    monkeypatch.setattr(plt, "close", keep)
    return seen


def drawn_fraction(path) -> float:
    pixels = matplotlib.image.imread(str(path))[..., :3]
    return float((pixels < 0.9).any(axis=-1).mean())


def test_train_curves_have_title_integer_epochs_and_test_label(tmp_path, figures, capsys):
    assert cli.main(["train", "--model", "gru", "--units", "4", "--epochs", "3", "--limit", "64", "--out",
                     str(tmp_path), "--verbose", "0"]) == 0
    assert "no curves.png" not in capsys.readouterr().err
    (fig,) = figures
    assert fig._suptitle.get_text() == "gru 4 on mnist-sample, 3 epochs"
    panels = {ax.get_title(): ax for ax in fig.axes}
    assert sorted(panels) == ["accuracy", "loss"]
    for ax in panels.values():
        assert [text.get_text() for text in ax.get_legend().get_texts()] == ["training", "test"]
        assert ax.get_xlabel() == "epoch"
        fig.canvas.draw()
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
        assert [list(line.get_xdata()) for line in ax.get_lines()] == [[1, 2, 3], [1, 2, 3]]
    pixels = matplotlib.image.imread(str(tmp_path / "curves.png"))
    assert pixels.shape[:2] == (400, 1000)  # two 5x4-inch panels at 100 dpi
    assert 0.02 < drawn_fraction(tmp_path / "curves.png") < 0.5  # lines and text on a white canvas


def test_train_says_when_no_curves_are_drawn(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "pyplot", lambda: None)  # as without matplotlib
    assert cli.main(["train", "--units", "4", "--epochs", "1", "--limit", "32", "--out", str(tmp_path),
                     "--verbose", "0"]) == 0
    captured = capsys.readouterr()
    assert "no curves.png written: matplotlib is not installed" in captured.err and "rnnkit[plot]" in captured.err
    assert captured.out.strip().splitlines()[-1].startswith("test_loss=")
    assert not (tmp_path / "curves.png").exists()


def test_plot_history_validation_label_and_blank_check(tmp_path, figures):
    history = {"loss": [1.0, 0.6, 0.5, 0.4], "val_loss": [1.2, 0.9, 0.8, 0.85]}
    assert report.plot_history(history, str(tmp_path / "c.png"), "model on data, 4 epochs")
    (fig,) = figures
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["training", "validation"]
    assert drawn_fraction(tmp_path / "c.png") > 0.02


def test_gradient_flow_plot_lines_and_log_axis(tmp_path, figures):
    from rnnkit.diagnostics import GradientFlow, LayerFlow, plot_gradient_flow

    h = np.geomspace(1e-8, 1e-1, 30)
    flow = GradientFlow(0.3, [LayerFlow("rnn", "SimpleRNN", False, {"h": h}, h),
                              LayerFlow("lstm", "LSTM", False, {"h": h[::-1], "c": h}, h)])
    assert plot_gradient_flow(flow, str(tmp_path / "g.png"), title="demo flow", inputs=True)
    (fig,) = figures
    ax = fig.axes[0]
    assert ax.get_title() == "demo flow" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["rnn dL/dh", "rnn dL/dx", "lstm dL/dh", "lstm dL/dc", "lstm dL/dx"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), h)
    assert drawn_fraction(tmp_path / "g.png") > 0.02
