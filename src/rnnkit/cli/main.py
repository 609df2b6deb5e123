"""Entry point of the ``rnnkit`` command: ``train``, ``evaluate``, ``predict``, ``summary``.

Exit status: 0 success, 2 usage error (argparse), 1 any other failure. Expected failures (a missing file,
a corrupt model, no network, a bad value) print one line ``rnnkit: error: ...`` and no traceback.

>>> from rnnkit.cli.main import build_parser
>>> args = build_parser().parse_args(["train", "--model", "lstm", "--units", "64"])
>>> args.model, args.units, args.dataset
('lstm', 64, 'mnist-sample')
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from rnnkit.cli.train import DATASETS, MODELS, OPTIMIZERS, TrainConfig
from rnnkit.errors import RnnkitError

EXPECTED_ERRORS = (RnnkitError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks on NumPy.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = TrainConfig()

    train = commands.add_parser("train", help="train a recurrent classifier (default: the seed program)")
    train.add_argument("--dataset", choices=DATASETS, default=defaults.dataset)
    train.add_argument("--model", choices=MODELS, default=defaults.model)
    train.add_argument("--units", type=int, default=defaults.units)
    train.add_argument("--layers", type=int, default=defaults.layers)
    train.add_argument("--bidirectional", action="store_true")
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--lr", type=float, default=defaults.lr)
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer)
    train.add_argument("--clipnorm", type=float, default=None)
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--out", default=defaults.out, metavar="DIR")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=defaults.verbose)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved model on a dataset's test split")
    evaluate.add_argument("model_path", metavar="MODEL")
    evaluate.add_argument("--dataset", choices=DATASETS, default=defaults.dataset)

    predict = commands.add_parser("predict", help="classify one 28x28 image (.png or .npy)")
    predict.add_argument("model_path", metavar="MODEL")
    predict.add_argument("image_path", metavar="FILE")

    summary = commands.add_parser("summary", help="print a saved model's layers and parameter counts")
    summary.add_argument("model_path", metavar="MODEL")
    return parser


def _train(args) -> int:
    from rnnkit.cli.train import run_training

    fields = {name: getattr(args, name) for name in TrainConfig.__dataclass_fields__}
    record = run_training(TrainConfig(**fields))
    print(f"test_loss={record['test_loss']:.4f} test_accuracy={record['test_accuracy']:.4f}")
    return 0


def _evaluate(args) -> int:
    from rnnkit.cli.train import load_dataset, prepare_images
    from rnnkit.models import load_model
    from rnnkit.utils import to_categorical

    model = load_model(args.model_path)
    _, (x_test, y_test) = load_dataset(args.dataset)
    classes = model.predict(prepare_images(x_test[:1]), verbose=0).shape[-1]
    loss, accuracy = model.evaluate(prepare_images(x_test), to_categorical(y_test, classes), batch_size=256, verbose=0)
    print(f"test_loss={loss:.4f} test_accuracy={accuracy:.4f}")
    return 0


def _predict(args) -> int:
    from rnnkit.cli.images import read_image
    from rnnkit.errors import ShapeError
    from rnnkit.models import load_model

    model = load_model(args.model_path)
    image = read_image(args.image_path)
    expected = getattr(model, "input_shape_arg", None) or model.layers[0].input_shape_arg
    if expected is not None and tuple(image.shape) != tuple(expected):
        raise ShapeError(f"{args.image_path} is a {image.shape} image; this model expects {tuple(expected)}")
    probabilities = model.predict(image[None], verbose=0)[0]  # (1, T, D) -> (classes,)
    label = int(np.argmax(probabilities))
    print(f"class={label} probability={probabilities[label]:.4f}")
    print("probabilities=" + " ".join(f"{i}:{p:.4f}" for i, p in enumerate(probabilities)))
    return 0


def _summary(args) -> int:
    from rnnkit.models import load_model

    load_model(args.model_path).summary()
    return 0


COMMANDS = {"train": _train, "evaluate": _evaluate, "predict": _predict, "summary": _summary}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except EXPECTED_ERRORS as exc:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
            message = f"{message}: {exc.filename}"
        print(f"rnnkit: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
