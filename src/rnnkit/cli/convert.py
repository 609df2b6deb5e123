"""``rnnkit convert IN OUT``: convert a model between file formats, chosen by the files' extensions.

    rnnkit convert model.rnnkit model.onnx                       # ONNX (output only), --opset N
    rnnkit convert model.rnnkit model.safetensors                # PyTorch state dict (+ the architecture)
    rnnkit convert torch.safetensors model.rnnkit --pytorch-architecture "embedding:emb, lstm:rnn, linear:fc"
    rnnkit convert model.keras model.rnnkit                      # Keras 3 files through load_model / save

Inputs: ``.rnnkit``, ``.keras``, ``.safetensors``; outputs: the same and ``.onnx``. A ``.safetensors`` file
that rnnkit wrote carries its architecture; one saved from PyTorch needs ``--pytorch-architecture`` (the
modules in order: see ``rnnkit.interop.pytorch_architecture``) unless it holds a single module. OUT is never
replaced unless ``--overwrite`` is given. Errors (unknown extension, missing extra, unsupported layer) are
one line.

>>> args = build_parser().parse_args(["m.rnnkit", "m.onnx", "--opset", "18"])
>>> args.source, args.target, args.opset
('m.rnnkit', 'm.onnx', 18)
"""
from __future__ import annotations

import argparse
import os
import tempfile
import zipfile

from rnnkit.errors import ConfigError

HELP = "convert a model file by extension: .rnnkit, .keras, .safetensors (PyTorch), .onnx (output only)"
READS = (".rnnkit", ".keras", ".safetensors")
WRITES = (".rnnkit", ".keras", ".safetensors", ".onnx")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rnnkit.interop.onnx import DEFAULT_OPSET

    parser.add_argument("source", metavar="IN", help=f"the model to read ({', '.join(READS)})")
    parser.add_argument("target", metavar="OUT", help=f"the file to write ({', '.join(WRITES)})")
    parser.add_argument("--pytorch-architecture", metavar="SPEC", default=None,
                        help="for a .safetensors input: the PyTorch modules in order, e.g. "
                             "'embedding:emb(mask_zero=true), lstm:rnn, linear:fc(activation=softmax)', JSON text, "
                             "or a .json file holding it (default: the architecture stored in files rnnkit wrote; "
                             "a single PyTorch module needs none)")
    parser.add_argument("--pytorch-prefixes", metavar="NAMES", default=None,
                        help="for a .safetensors output: the PyTorch module names, comma-separated, one per module "
                             "with weights (default: the rnnkit layer names)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="for an .onnx output: the ONNX opset (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit convert", description=HELP, allow_abbrev=False)
    add_arguments(parser)
    return parser


def _extension(path: str, allowed: tuple, role: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    if extension not in allowed:
        extra = " (.onnx is written, not read)" if extension == ".onnx" and role == "input" else ""
        raise ConfigError(f"{path}: unknown {role} extension {extension or '(none)'!r}{extra}; expected one of "
                          f"{', '.join(allowed)}")
    return extension


def keras_files_supported() -> bool:
    """Whether ``model.save`` / ``load_model`` speak the Keras 3 ``.keras`` format (a zip with
    ``model.weights.h5``), found by saving a one-weight model; without that support a ``.keras`` name would
    get an rnnkit file."""
    from rnnkit.layers import Dense
    from rnnkit.models import Sequential

    probe = Sequential([Dense(1, input_shape=(1,))])
    probe.build()
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "probe.keras")
        probe.save(path)
        with zipfile.ZipFile(path) as archive:
            return "model.weights.h5" in archive.namelist()


def _require_keras(path: str) -> None:
    if not keras_files_supported():
        raise ConfigError(f"{path}: this rnnkit cannot read or write Keras .keras files yet (model.save / load_model "
                          "do not speak the Keras 3 format); convert through .rnnkit instead")


def _architecture(value):
    if value is not None and value.strip().lower().endswith(".json"):
        try:
            with open(value, encoding="utf-8") as f:
                return f.read()
        except OSError as error:
            raise ConfigError(f"--pytorch-architecture: cannot read {value}: {error.strerror}") from None
    return value


def read_model(path: str, architecture=None):
    """The model in ``path``, by extension."""
    from rnnkit.models import load_model

    extension = _extension(path, READS, "input")
    if architecture is not None and extension != ".safetensors":
        raise ConfigError(f"--pytorch-architecture applies to a .safetensors input; got {path}")
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such file")
    if extension == ".safetensors":
        from rnnkit.interop.pytorch import load_safetensors

        return load_safetensors(path, _architecture(architecture))
    if extension == ".keras":
        _require_keras(path)
    return load_model(path, compile=False)


def write_model(model, path: str, opset: int, prefixes=None) -> None:
    """Write ``model`` to ``path`` in the format its extension names."""
    extension = _extension(path, WRITES, "output")
    if prefixes is not None and extension != ".safetensors":
        raise ConfigError(f"--pytorch-prefixes applies to a .safetensors output; got {path}")
    if extension == ".onnx":
        from rnnkit.interop.onnx import export

        export(model, path, opset=opset)
    elif extension == ".safetensors":
        from rnnkit.interop.pytorch import save_safetensors

        save_safetensors(model, path, None if prefixes is None else [p.strip() for p in prefixes.split(",")])
    else:
        if extension == ".keras":
            _require_keras(path)
        model.save(path)


def run(args, argv=None) -> int:
    _extension(args.target, WRITES, "output")  # before reading: a bad OUT name fails fast
    if os.path.exists(args.target) and not args.overwrite:
        raise ConfigError(f"{args.target} exists; pass --overwrite to replace it")
    if os.path.abspath(args.source) == os.path.abspath(args.target):
        raise ConfigError(f"IN and OUT are the same file ({args.source})")
    model = read_model(args.source, args.pytorch_architecture)
    write_model(model, args.target, args.opset, args.pytorch_prefixes)
    print(f"wrote {args.target}")
    return 0
