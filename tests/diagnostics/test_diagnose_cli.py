"""``rnnkit diagnose MODEL [--dataset NAME]``: gradient-flow.png and .json for a model ``rnnkit train`` wrote."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.cli import main as cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert cli.main(["train", "--epochs", "1", "--units", "4", "--layers", "2", "--limit", "64", "--out", str(out),
                     "--verbose", "0"]) == 0
    return out


def test_diagnose_writes_plot_and_numbers(trained, tmp_path, capsys):
    import matplotlib.image

    from rnnkit.cli.train import load_dataset, prepare_images
    from rnnkit.diagnostics import gradient_flow
    from rnnkit.models import load_model
    from rnnkit.utils import to_categorical

    capsys.readouterr()
    status = cli.main(["diagnose", str(trained / "model.rnnkit"), "--dataset", "mnist-sample", "--samples", "16",
                       "--out", str(tmp_path)])
    line = capsys.readouterr().out.strip()
    assert status == 0 and "\n" not in line and line.startswith("loss=") and line.count("dh_first/dh_last") == 2
    pixels = matplotlib.image.imread(str(tmp_path / "gradient-flow.png"))
    assert pixels.shape[0] > 300 and (pixels[..., :3] < 0.9).any(axis=-1).mean() > 0.01
    saved = json.loads((tmp_path / "gradient-flow.json").read_text())
    model = load_model(str(trained / "model.rnnkit"))
    _, (x, y) = load_dataset("mnist-sample")
    flow = gradient_flow(model, prepare_images(x[:16]), to_categorical(y[:16], 10))
    assert saved["loss"] == pytest.approx(flow.loss, rel=1e-6)
    assert len(saved["layers"]) == 2 and len(saved["layers"][0]["states"]["h"]) == 28
    np.testing.assert_allclose(saved["layers"][1]["states"]["h"], flow.layers[1].h, rtol=1e-5)


def test_diagnose_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["diagnose", str(tmp_path / "missing.rnnkit"), "--dataset", "mnist-sample"]) == 1
    assert capsys.readouterr().err.startswith("rnnkit: error:")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["diagnose", "m.rnnkit", "--dataset", "imagenet"])
    assert exit_info.value.code == 2


def test_diagnose_defaults_to_the_recorded_dataset_and_asks_for_one_otherwise(trained, tmp_path, capsys):
    from rnnkit.models import load_model

    assert cli.main(["diagnose", str(trained / "model.rnnkit"), "--samples", "8", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "gradient-flow.json").exists() and capsys.readouterr().out.startswith("loss=")
    plain = tmp_path / "plain.rnnkit"
    load_model(str(trained / "model.rnnkit")).save(str(plain))  # model.save records no dataset
    capsys.readouterr()
    assert cli.main(["diagnose", str(plain), "--samples", "8", "--out", str(tmp_path)]) == 1
    assert "does not record the dataset" in capsys.readouterr().err
