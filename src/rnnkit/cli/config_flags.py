"""Command-line flags made from a task's config dataclass, so that the config is the one place a setting lives.

Each field becomes ``--field-name`` with the field's type, its default, and the help text and choices in the
field's metadata (``field(default=..., metadata={"help": ..., "choices": ...})``). ``config_from_args`` builds
the config and validates it; a bad value is a usage error (exit status 2, as argparse gives).

>>> import argparse
>>> from dataclasses import dataclass, field
>>> @dataclass
... class DemoConfig:
...     units: int = field(default=64, metadata={"help": "hidden units"})
...     cell: str = field(default="lstm", metadata={"help": "recurrent cell", "choices": ("lstm", "gru")})
...     clipnorm: float | None = field(default=None, metadata={"help": "clip gradients to this norm"})
...     bidirectional: bool = field(default=False, metadata={"help": "read both ways"})
>>> parser = argparse.ArgumentParser(prog="demo")
>>> add_config_arguments(parser, DemoConfig)
>>> args = parser.parse_args(["--units", "8", "--cell", "gru", "--bidirectional"])
>>> config_from_args(parser, args, DemoConfig)
DemoConfig(units=8, cell='gru', clipnorm=None, bidirectional=True)
>>> given_flags(["--units", "8", "--cell=gru"], DemoConfig)
['units', 'cell']
"""
from __future__ import annotations

import argparse
import dataclasses
import typing

from rnnkit.errors import ConfigError


def _base_type(annotation):
    """``int`` for ``int``, ``int | None``, ``Optional[int]`` (annotations may be strings)."""
    if isinstance(annotation, str):
        names = [part.strip() for part in annotation.split("|") if part.strip() != "None"]
        return {"int": int, "float": float, "str": str, "bool": bool}.get(names[0], str) if len(names) == 1 else str
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def add_config_arguments(parser: argparse.ArgumentParser, config_class, skip=()) -> None:
    """Add one flag per field of the dataclass ``config_class`` (except those named in ``skip``)."""
    for field in dataclasses.fields(config_class):
        if field.name in skip or field.metadata.get("flag") is False:
            continue
        kind = _base_type(field.type)
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        text = field.metadata.get("help", "")
        if kind is bool:
            parser.add_argument(flag_name(field.name), dest=field.name, action=argparse.BooleanOptionalAction,
                                default=default, help=f"{text} (default: {'yes' if default else 'no'})")
            continue
        parser.add_argument(flag_name(field.name), dest=field.name, type=kind, default=default,
                            choices=field.metadata.get("choices"), metavar=field.metadata.get("metavar"),
                            nargs=field.metadata.get("nargs"), help=f"{text} (default: {default})")


def config_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace, config_class):
    """``config_class`` filled from ``args``; a ``ConfigError`` from its ``validate()`` becomes a usage error
    (``parser.error``: the usage line, the message, exit status 2)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(config_class) if hasattr(args, f.name)}
    config = config_class(**values)
    validate = getattr(config, "validate", None)
    if validate is not None:
        try:
            validate()
        except ConfigError as error:
            parser.error(str(error))
    return config


def given_flags(argv, config_class) -> list:
    """The fields of ``config_class`` whose flag appears in ``argv`` (to tell given values from defaults, for
    ``--resume``). Parsers must be made with ``allow_abbrev=False`` for this to see every given flag."""
    words = [word.split("=", 1)[0] for word in argv if word.startswith("--")]
    names = []
    for field in dataclasses.fields(config_class):
        flag = flag_name(field.name)
        if flag in words or "--no-" + flag[2:] in words:
            names.append(field.name)
    return names


def positive(name: str, value, allow_zero: bool = False) -> tuple:
    """A ``(ok, message)`` check for ``validate()``: ``--name`` must be a positive (or non-negative) number."""
    ok = value is not None and value == value and (value >= 0 if allow_zero else value > 0) \
        and value != float("inf")
    return ok, f"{flag_name(name)} must be {'>= 0' if allow_zero else 'positive'}; got {value}"


def _number_type(kind, name: str, low, allow_low: bool):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {name}; got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")) or value < low or (value == low and not allow_low):
            raise argparse.ArgumentTypeError(f"expected {name}; got {text}")
        return value

    parse.__name__ = name  # argparse names the type in its messages
    return parse


positive_int = _number_type(int, "a positive integer", 0, False)
"""An argparse ``type`` for integers >= 1: another value is a usage error (status 2).

>>> positive_int("3")
3
"""
nonnegative_int = _number_type(int, "an integer >= 0", 0, True)
nonnegative_float = _number_type(float, "a number >= 0", 0.0, True)


def check_all(checks) -> None:
    """Raise ``ConfigError`` with the message of the first failed ``(ok, message)`` check."""
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--resume DIR`` and ``--overwrite``, which every ``rnnkit <task> train`` takes."""
    parser.add_argument("--resume", metavar="DIR", default=None,
                        help="continue the unfinished run in DIR with its saved settings (only --epochs, "
                             "--verbose, --checkpoint-every and --minutes may change; default: none, a new run)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished model (or an unfinished run) in --out instead of refusing "
                             "(default: refuse)")


def run_config(parser: argparse.ArgumentParser, args: argparse.Namespace, argv, task: str, config_class):
    """The config of a ``rnnkit <task> train`` call: from the flags, or with ``--resume DIR`` the saved one with
    the allowed flags changed. Returns ``(config, resume)``."""
    if getattr(args, "resume", None) is None:
        return config_from_args(parser, args, config_class), False
    from rnnkit.tasks.runs import resume_config

    given = {name: getattr(args, name) for name in given_flags(argv, config_class)}
    config = resume_config(args.resume, task, config_class, given)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config, True
