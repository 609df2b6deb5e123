"""``rnnkit diagnose``: the gradient flow through time of a saved model on a batch of a dataset.

    rnnkit diagnose runs/demo/model.rnnkit [--dataset mnist-sample] [--out runs/demo]

writes ``DIR/gradient-flow.png`` (``||dLoss/dh_t||`` per time step, log scale, one line per recurrent layer)
and ``DIR/gradient-flow.json`` (the numbers), and prints one line: the loss and, per recurrent layer, the
gradient at the first step over that at the last. The datasets are those of ``rnnkit train`` (28x28 images
read row by row); the loss is the model's compiled one.

>>> args = build_parser().parse_args(["m.rnnkit", "--dataset", "mnist-sample", "--samples", "32"])
>>> args.model_path, args.dataset, args.samples, args.out
('m.rnnkit', 'mnist-sample', 32, None)
"""
from __future__ import annotations

import argparse
import json
import os

HELP = "measure the gradient flow through time of a saved model (writes gradient-flow.png)"


def build_parser() -> argparse.ArgumentParser:
    from rnnkit.cli.train import DATASETS

    parser = argparse.ArgumentParser(prog="rnnkit diagnose", description=HELP, allow_abbrev=False)
    parser.add_argument("model_path", metavar="MODEL", help="a model.rnnkit written by 'rnnkit train'")
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="the test split gives the batch (default: the dataset recorded in MODEL by "
                             "'rnnkit train')")
    parser.add_argument("--out", default=None, metavar="DIR", help="where to write (default: the model's folder)")
    parser.add_argument("--samples", type=int, default=64, metavar="N", help="batch size measured (default 64)")
    return parser


def _targets(model, labels, classes: int):
    from rnnkit.utils import to_categorical

    loss = model.loss[0] if isinstance(model.loss, (list, tuple)) else model.loss
    name = loss if isinstance(loss, str) else type(loss).__name__
    if "sparse" in name.lower().replace("_", ""):
        return labels
    return to_categorical(labels, classes)


def run(args, argv=None) -> int:
    from rnnkit.cli.train import DATASETS, load_dataset, prepare_images, recorded_dataset
    from rnnkit.diagnostics import gradient_flow, plot_gradient_flow
    from rnnkit.errors import ConfigError
    from rnnkit.fileio import atomic_write_text
    from rnnkit.tasks.report import plain

    if args.samples < 1:
        raise ConfigError(f"--samples must be >= 1; got {args.samples}")
    model, trained_on = recorded_dataset(args.model_path)
    dataset = args.dataset or trained_on
    if dataset is None:
        raise ConfigError(f"{args.model_path} does not record the dataset it was trained on; give it: "
                          f"--dataset {{{','.join(DATASETS)}}}")
    if not model.compiled or model.loss is None:
        raise ConfigError(f"{args.model_path} was saved without a loss (compile it before saving); "
                          "diagnose differentiates the compiled loss")
    _, (x_test, y_test) = load_dataset(dataset)
    x = prepare_images(x_test[:args.samples])
    classes = model.predict(x[:1], verbose=0).shape[-1]
    flow = gradient_flow(model, x, _targets(model, y_test[:args.samples], classes))
    out = args.out or os.path.dirname(os.path.abspath(args.model_path))
    os.makedirs(out, exist_ok=True)
    atomic_write_text(os.path.join(out, "gradient-flow.json"), json.dumps(plain(flow.to_dict()), indent=1) + "\n")
    where = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(args.model_path))),
                         os.path.basename(args.model_path))  # e.g. demo/model.rnnkit
    title = f"Gradient flow of {where} on {dataset} ({len(x)} test samples)"
    drawn = plot_gradient_flow(flow, os.path.join(out, "gradient-flow.png"), title=title)
    note = "" if drawn else " (no gradient-flow.png: matplotlib is not installed; pip install 'rnnkit[plot]')"
    print(flow.summary() + note)
    return 0
