"""Entry point of the ``rnnkit`` command: ``train``, ``evaluate``, ``predict``, ``summary``, and one command per
application (``rnnkit charlm ...``, ``rnnkit sentiment ...``), each in its own module ``rnnkit.cli.<task>`` with
``HELP``, ``build_parser()`` and ``run(args, argv)``.

Exit status: 0 success, 2 usage error (argparse), 1 any other failure. Expected failures (a missing file,
a corrupt model, no network, a bad value) print one line ``rnnkit: error: ...`` and no traceback.

>>> from rnnkit.cli.main import build_parser
>>> args = build_parser().parse_args(["train", "--model", "lstm", "--units", "64"])
>>> args.model, args.units, args.dataset
('lstm', 64, 'mnist-sample')
"""
from __future__ import annotations

import argparse
import importlib
import sys

import numpy as np

from rnnkit.cli.train import DATASETS, MODELS, OPTIMIZERS, TrainConfig
from rnnkit.errors import RnnkitError

EXPECTED_ERRORS = (RnnkitError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks on NumPy.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = TrainConfig()

    train = commands.add_parser(
        "train", help="train a recurrent classifier (default: the seed program)",
        epilog="A checkpoint is kept in DIR after every epoch; Ctrl-C saves one and stops (status 130). "
               "--resume DIR continues a run with its saved settings; only --epochs, --verbose and "
               "--checkpoint-every may be given again with other values.")
    add_train_arguments(train, defaults)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved model on a dataset's test split")
    evaluate.add_argument("model_path", metavar="MODEL")
    evaluate.add_argument("--dataset", choices=DATASETS, default=defaults.dataset)

    predict = commands.add_parser("predict", help="classify one 28x28 image (.png or .npy)")
    predict.add_argument("model_path", metavar="MODEL")
    predict.add_argument("image_path", metavar="FILE")

    summary = commands.add_parser("summary", help="print a saved model's layers and parameter counts")
    summary.add_argument("model_path", metavar="MODEL")
    for task in TASKS:  # listed for --help; their arguments are parsed by the task's own parser (see main)
        commands.add_parser(task, help=task_module(task).HELP, add_help=False)
    return parser


TASKS = ("charlm", "sentiment", "translate", "ocr", "speech", "forecast")  # rnnkit.cli.<name>


def task_module(task: str):
    return importlib.import_module(f"rnnkit.cli.{task}")


RESUME_OVERRIDES = ("epochs", "verbose", "checkpoint_every")  # flags --resume accepts with new values


def add_train_arguments(train: argparse.ArgumentParser, defaults) -> None:
    """The ``train`` flags; ``defaults`` None gives every flag ``argparse.SUPPRESS`` (to see which were given)."""

    def default(name):
        return argparse.SUPPRESS if defaults is None else getattr(defaults, name)

    train.add_argument("--dataset", choices=DATASETS, default=default("dataset"))
    train.add_argument("--model", choices=MODELS, default=default("model"))
    train.add_argument("--units", type=int, default=default("units"))
    train.add_argument("--layers", type=int, default=default("layers"))
    train.add_argument("--bidirectional", action="store_true", default=default("bidirectional"))
    train.add_argument("--epochs", type=int, default=default("epochs"))
    train.add_argument("--batch-size", type=int, default=default("batch_size"))
    train.add_argument("--lr", type=float, default=default("lr"))
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=default("optimizer"))
    train.add_argument("--clipnorm", type=float, default=default("clipnorm"))
    train.add_argument("--dropout", type=float, default=default("dropout"),
                       help="rate of a Dropout layer before the classifier (default 0: none)")
    train.add_argument("--seed", type=int, default=default("seed"))
    train.add_argument("--out", default=default("out"), metavar="DIR")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=default("verbose"))
    train.add_argument("--limit", type=int, default=default("limit"), metavar="N",
                       help="use only the first N training and N test samples (quick experiments)")
    train.add_argument("--checkpoint-every", type=int, default=default("checkpoint_every"), metavar="N",
                       help="also write the checkpoint every N training steps (default 0: every epoch only)")
    train.add_argument("--resume", default=None if defaults is not None else argparse.SUPPRESS, metavar="DIR",
                       help="continue the run whose checkpoint is in DIR, with its saved settings")


def _given_train_flags(argv) -> dict:
    """The ``train`` options present on the command line (name -> value)."""
    parser = argparse.ArgumentParser(prog="rnnkit", add_help=False)
    commands = parser.add_subparsers(dest="command")
    add_train_arguments(commands.add_parser("train", add_help=False), None)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return {k: v for k, v in vars(args).items() if k != "command"}


def resume_config(out: str, given: dict):
    """The saved ``TrainConfig`` of the run in ``out``, with the flags ``RESUME_OVERRIDES`` applied; any other
    flag given with a value different from the saved one is a ``ConfigError``."""
    from rnnkit.tasks.runs import resume_config as resume_task_config

    config = resume_task_config(out, "train", TrainConfig, given, RESUME_OVERRIDES)
    config.validate()
    return config


def _train(args, argv=None) -> int:
    from rnnkit.cli.train import run_training

    if args.resume is not None:
        given = _given_train_flags(argv)
        given.pop("resume", None)
        config = resume_config(args.resume, given)
    else:
        config = TrainConfig(**{name: getattr(args, name) for name in TrainConfig.__dataclass_fields__})
    record = run_training(config, resume=args.resume is not None)
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


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, so an error stays on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


OPTIONAL_MODULES = {"PIL": "ocr", "sacrebleu": "translate", "matplotlib": "plot", "h5py": "keras"}  # module -> the extra with it

COMMANDS = {"train": _train, "evaluate": _evaluate, "predict": _predict, "summary": _summary}


def main(argv=None) -> int:
    from rnnkit.cli.signals import TrainingInterrupted

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in TASKS:
        module = task_module(argv[0])
        parser = module.build_parser()
        args = parser.parse_args(argv[1:])

        def command():
            return module.run(args, argv[1:])
    else:
        args = build_parser().parse_args(argv)

        def command():
            return _train(args, argv) if args.command == "train" else COMMANDS[args.command](args)
    try:
        return command()
    except EXPECTED_ERRORS as exc:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
            message = f"{message}: {exc.filename}"
        print(f"rnnkit: error: {_one_line(message)}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        extra = OPTIONAL_MODULES.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"rnnkit: error: this command needs the {exc.name} package, which is not installed; install it with: "
              f"pip install 'rnnkit[{extra}]'", file=sys.stderr)
        return 1
    except TrainingInterrupted as exc:
        print(f"rnnkit: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
