"""Entry point of the ``rnnkit`` command: ``train``, ``evaluate``, ``predict``, ``summary``, ``convert``, and one
command per application (``rnnkit charlm ...``, ``rnnkit sentiment ...``), each in its own module
``rnnkit.cli.<task>`` with ``HELP``, ``build_parser()`` and ``run(args, argv)``.

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
from rnnkit.errors import ConfigError, RnnkitError

EXPECTED_ERRORS = (RnnkitError, OSError)


def version() -> str:
    """The installed package's version (package metadata), else the source tree's ``rnnkit.__version__``."""
    from importlib import metadata

    try:
        return metadata.version("rnnkit")
    except metadata.PackageNotFoundError:
        from rnnkit import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks on NumPy.")
    parser.add_argument("--version", action="version", version=f"rnnkit {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = TrainConfig()

    train = commands.add_parser(
        "train", help="train a recurrent classifier (default: the seed program)",
        description="Train a recurrent classifier on 28x28 images read row by row (28 steps of 28 values).",
        epilog="A checkpoint is kept in DIR after every epoch; Ctrl-C saves one and stops (status 130). "
               "--resume DIR continues a run with its saved settings; only --epochs, --verbose and "
               "--checkpoint-every may be given again with other values. Bad values are usage errors (status 2).")
    add_train_arguments(train, defaults)
    parser.train_parser = train  # for usage errors found after parsing (config.validate)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved model on a dataset's test split")
    evaluate.add_argument("model_path", metavar="MODEL", help="a model.rnnkit written by 'rnnkit train'")
    evaluate.add_argument("--dataset", choices=DATASETS, default=None,
                          help="test split to evaluate on (default: the dataset the model was trained on, as "
                               "recorded in MODEL; needed for models written before rnnkit recorded it)")

    predict = commands.add_parser("predict", help="classify one 28x28 image (PNG, JPEG, ... or .npy)")
    predict.add_argument("model_path", metavar="MODEL", help="a model.rnnkit written by 'rnnkit train'")
    predict.add_argument("image_path", metavar="FILE",
                         help="the image: any format Pillow reads (PNG of any depth or palette, JPEG, BMP, "
                              "...; converted to grayscale) or a .npy array")

    summary = commands.add_parser("summary", help="print a saved model's layers and parameter counts")
    summary.add_argument("model_path", metavar="MODEL", help="a model file written by model.save()")

    from rnnkit.cli import convert as convert_command

    convert_command.add_arguments(commands.add_parser("convert", help=convert_command.HELP))
    for task in TASKS:  # listed for --help; their arguments are parsed by the task's own parser (see main)
        commands.add_parser(task, help=task_module(task).HELP, add_help=False)
    return parser


TASKS = ("charlm", "sentiment", "translate", "ocr", "speech", "forecast", "diagnose")  # rnnkit.cli.<name>


def task_module(task: str):
    return importlib.import_module(f"rnnkit.cli.{task}")


RESUME_OVERRIDES = ("epochs", "verbose", "checkpoint_every")  # flags --resume accepts with new values


def add_train_arguments(train: argparse.ArgumentParser, defaults) -> None:
    """The ``train`` flags; ``defaults`` None gives every flag ``argparse.SUPPRESS`` (to see which were given)."""

    def default(name):
        return argparse.SUPPRESS if defaults is None else getattr(defaults, name)

    def flag(name, help, **kwargs):
        value = default(name)
        shown = "" if value is argparse.SUPPRESS else f" (default: {value})"
        train.add_argument("--" + name.replace("_", "-"), default=value, help=help + shown, **kwargs)

    flag("dataset", "mnist-sample (8,000 + 2,000 digits shipped with rnnkit, offline), mnist or fashion-mnist "
         "(downloaded once into $RNNKIT_DATA or ~/.cache/rnnkit)", choices=DATASETS)
    flag("model", "recurrent layer type", choices=MODELS)
    flag("units", "hidden units per recurrent layer", type=int)
    flag("layers", "stacked recurrent layers; all but the last return sequences", type=int)
    train.add_argument("--bidirectional", action="store_true", default=default("bidirectional"),
                       help="wrap each recurrent layer in Bidirectional (default: off)")
    flag("epochs", "passes over the training set", type=int)
    flag("batch_size", "samples per gradient step", type=int)
    flag("lr", "learning rate", type=float)
    flag("optimizer", "optimizer", choices=OPTIMIZERS)
    flag("clipnorm", "clip each gradient to this L2 norm (None: no clipping)", type=float)
    flag("dropout", "rate of a Dropout layer before the classifier (0: none)", type=float)
    flag("seed", "seeds weights, dropout and shuffling: the same seed gives the same run", type=int)
    flag("out", "folder for model.rnnkit, history.json, curves.png and checkpoint.rnnkit", metavar="DIR")
    flag("verbose", "0 silent, 1 progress bar on a terminal (else one line per epoch), 2 one line per epoch",
         type=int, choices=(0, 1, 2))
    flag("limit", "use only the first N training and N test samples (quick experiments; None: all)", type=int,
         metavar="N")
    flag("checkpoint_every", "also write the checkpoint every N training steps (0: after every epoch only)",
         type=int, metavar="N")
    train.add_argument("--resume", default=None if defaults is not None else argparse.SUPPRESS, metavar="DIR",
                       help="continue the run whose checkpoint is in DIR, with its saved settings (default: none)")
    train.add_argument("--overwrite", action="store_true", default=False if defaults is not None else argparse.SUPPRESS,
                       help="replace a finished model (or an unfinished run) in --out instead of refusing "
                            "(default: refuse)")
    train.add_argument("--memory-limit", default=None if defaults is not None else argparse.SUPPRESS,
                       metavar="SIZE", help="refuse a configuration estimated to need more memory than SIZE "
                       "(e.g. 8GiB; default: $RNNKIT_MEMORY_LIMIT, else the memory available now)")
    train.add_argument("--distributed", action="store_true",
                       default=False if defaults is not None else argparse.SUPPRESS,
                       help="data-parallel training under `torchrun --nproc-per-node N` (see docs/distributed.md; "
                            "--batch-size is the global batch; needs pip install 'rnnkit[distributed]'; default: off)")


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
        given.pop("memory_limit", None)
        given.pop("overwrite", None)
        given.pop("distributed", None)
        config = resume_config(args.resume, given)
    else:
        config = TrainConfig(**{name: getattr(args, name) for name in TrainConfig.__dataclass_fields__})
        try:
            config.validate()
        except ConfigError as error:  # a bad value on the command line: a usage error, as argparse gives
            build_parser().train_parser.error(str(error))
    record = run_training(config, resume=args.resume is not None, memory_limit=args.memory_limit,
                          overwrite=args.overwrite, distributed=args.distributed)
    from rnnkit.distribution import is_chief

    if is_chief():  # under --distributed rank 0 reports
        print(f"test_loss={record['test_loss']:.4f} test_accuracy={record['test_accuracy']:.4f}")
    return 0


def _evaluate(args) -> int:
    from rnnkit.cli.train import load_dataset, prepare_images, recorded_dataset
    from rnnkit.utils import to_categorical

    model, trained_on = recorded_dataset(args.model_path)
    dataset = args.dataset or trained_on
    if dataset is None:
        raise ConfigError(f"{args.model_path} does not record the dataset it was trained on (written before rnnkit "
                          f"recorded it, or by model.save); give it: --dataset {{{','.join(DATASETS)}}}")
    if trained_on is not None and dataset != trained_on:
        print(f"rnnkit: warning: {args.model_path} was trained on {trained_on}; evaluating it on {dataset} as "
              "asked (--dataset)", file=sys.stderr)
    x_test, y_test = load_dataset(dataset, split="test")
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


def os_error_message(error: OSError) -> str:
    """What an operating-system error means for the user's file, without Python's ``[Errno N]`` wording.

    >>> os_error_message(NotADirectoryError(20, "Not a directory", "/dev/null/run"))
    '/dev/null/run: /dev/null is a file, not a folder'
    """
    import os

    name = error.filename
    if name is None:
        return error.strerror or str(error) or type(error).__name__
    name = os.fsdecode(name)
    if isinstance(error, NotADirectoryError):
        parent = os.path.dirname(os.path.abspath(name))
        while parent and not os.path.exists(parent) and parent != os.path.dirname(parent):
            parent = os.path.dirname(parent)
        shown = parent if os.path.isabs(name) else os.path.relpath(parent)
        return f"{name}: {shown} is a file, not a folder" if not os.path.isdir(parent) else f"{name} is not a folder"
    meaning = {FileNotFoundError: "no such file or folder", FileExistsError: "already exists and is not a folder",
               IsADirectoryError: "is a folder; expected a file", PermissionError: "permission denied"}
    for kind, text in meaning.items():
        if isinstance(error, kind):
            return f"{name}: {text}"
    return f"{name}: {error.strerror or error}"


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, so an error stays on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


OPTIONAL_MODULES = {"PIL": "images", "sacrebleu": "translate", "matplotlib": "plot",  # module -> the extra with it
                    "safetensors": "pytorch", "onnx": "onnx", "onnxruntime": "onnx", "h5py": "keras"}


def _convert(args) -> int:
    from rnnkit.cli.convert import run

    return run(args)


COMMANDS = {"train": _train, "evaluate": _evaluate, "predict": _predict, "summary": _summary, "convert": _convert}


def main(argv=None) -> int:
    from rnnkit.cli.signals import InterruptedAgain, TrainingInterrupted

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
        if isinstance(exc, OSError) and not isinstance(exc, RnnkitError):
            message = os_error_message(exc)
        print(f"rnnkit: error: {_one_line(message)}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        extra = OPTIONAL_MODULES.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"rnnkit: error: this command needs the {exc.name} package, which is not installed; install it with: "
              f"pip install 'rnnkit[{extra}]'", file=sys.stderr)
        return 1
    except (TrainingInterrupted, InterruptedAgain) as exc:
        _say_interrupted(f"rnnkit: {exc}")
        return 130
    except KeyboardInterrupt:
        _say_interrupted("rnnkit: interrupted")
        return 130


def _say_interrupted(message: str) -> None:
    """Print the message of a Ctrl-C on its own line (on a terminal the progress line or the echoed ``^C``
    holds the cursor). Further Ctrl-C are ignored from here on: the command is ending with status 130, and a
    press between this line and the exit must not turn that into a traceback or a death by SIGINT."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        on_terminal = sys.stderr.isatty()
    except (AttributeError, ValueError):
        on_terminal = False
    print(("\n" if on_terminal else "") + message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
