"""The PyTorch architecture of a state dict: which module each key prefix is, in which order, with the options
that a state dict cannot hold.

A state dict says what weights there are, not how they are used. Everything its shapes and key names settle is
read from them (``num_layers`` from ``_l0``, ``_l1``...; ``bidirectional`` from ``_reverse``; ``bias`` from the
presence of ``bias_*``; sizes; LSTM / GRU / RNN from the gate count 4 / 3 / 1); the architecture gives the rest:
the order of the modules and, per module, the options below. It is a list of entries, each a dict or a string:

==================== ===================================================== =====================================
type                 options (default)                                     rnnkit layers
==================== ===================================================== =====================================
``embedding``        ``mask_zero`` (false): id 0 is padding, masked        ``Embedding``
``linear``           ``activation`` (none): applied after the layer         ``Dense``
``rnn``              ``nonlinearity`` (``tanh`` / ``relu``),                 ``SimpleRNN`` x num_layers
                     ``return_sequences`` (see below)
``lstm``, ``gru``    ``return_sequences``                                   ``LSTM`` / ``GRU`` x num_layers
``dropout``          ``rate`` (0.0); no weights, identity at inference     ``Dropout``
``masking``          ``mask_value`` (0.0); no weights                       ``Masking``
==================== ===================================================== =====================================

A recurrent module becomes one rnnkit layer per PyTorch layer (``Bidirectional(..., merge_mode="concat")``
when bidirectional); all but the last return sequences, and the last one returns sequences when
``return_sequences`` says so, by default when another recurrent module follows. Without sequences the
output is the final hidden state: PyTorch's ``h_n[-1]`` (``output[:, -1]`` of a unidirectional module), and
``torch.cat([h_n[-2], h_n[-1]], -1)`` for a bidirectional one.

The string form, for the command line: entries separated by commas, each ``TYPE:PREFIX(OPTION=VALUE; ...)``,
where ``TYPE:`` may be left out when the shapes tell it and the options when they are defaults; JSON text
(``[{"type": "lstm", "prefix": "rnn"}, ...]``) is accepted too.

>>> [(m.type, m.prefix) for m in parse_architecture("embedding:emb(mask_zero=true), lstm:rnn, fc")]
[('embedding', 'emb'), ('lstm', 'rnn'), (None, 'fc')]
>>> parse_architecture("linear:fc(activation=softmax)")[0].options
{'activation': 'softmax'}
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np

from rnnkit.errors import ConfigError

RECURRENT = ("rnn", "lstm", "gru")
GATE_TYPES = {1: "rnn", 4: "lstm", 3: "gru"}
OPTIONS = {
    "embedding": {"mask_zero": False},
    "linear": {"activation": None},
    "rnn": {"nonlinearity": "tanh", "return_sequences": None},
    "lstm": {"return_sequences": None},
    "gru": {"return_sequences": None},
    "dropout": {"rate": 0.0},
    "masking": {"mask_value": 0.0},
}
WEIGHTLESS = ("dropout", "masking")
_RECURRENT_KEY = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?$")


@dataclass
class Module:
    """One PyTorch module: ``type`` (a key of ``OPTIONS``, or None until inferred), the ``prefix`` of its keys
    (``""`` for a lone module's own state dict), and its options.

    >>> Module("lstm", "rnn").key("weight_ih_l0"), Module("linear", "").key("weight")
    ('rnn.weight_ih_l0', 'weight')
    """

    type: str | None
    prefix: str = ""
    options: dict = field(default_factory=dict)

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def to_json(self) -> dict:
        entry = {"type": self.type}
        if self.type not in WEIGHTLESS:
            entry["prefix"] = self.prefix
        entry.update(self.options)
        return entry


def _value(text: str):
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _split_entries(text: str) -> list:
    entries, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            entries.append(text[start:i])
            start = i + 1
    entries.append(text[start:])
    return [e.strip() for e in entries if e.strip()]


_ENTRY = re.compile(r"^(?:(?P<type>[A-Za-z_]+):)?(?P<prefix>[^()]*?)\s*(?:\((?P<options>[^()]*)\))?$")


def _parse_entry(text: str) -> Module:
    match = _ENTRY.match(text)
    if match is None:
        raise ConfigError(f"cannot read the architecture entry {text!r}; expected TYPE:PREFIX(OPTION=VALUE; ...), "
                          "e.g. 'lstm:rnn(return_sequences=true)'")
    kind, prefix = match["type"], match["prefix"].strip()
    if kind is None and prefix.lower() in WEIGHTLESS:  # 'dropout(rate=0.5)': a weightless type, no prefix
        kind, prefix = prefix.lower(), ""
    options = {}
    for item in (match["options"] or "").split(";"):
        if item.strip():
            if "=" not in item:
                raise ConfigError(f"architecture entry {text!r}: option {item.strip()!r} needs a value (NAME=VALUE)")
            name, value = item.split("=", 1)
            options[name.strip()] = _value(value)
    return _module(kind, prefix, options, text)


def _module(kind, prefix, options: dict, where) -> Module:
    if kind is not None:
        kind = str(kind).lower()
        if kind not in OPTIONS:
            raise ConfigError(f"architecture entry {where!r}: unknown module type {kind!r}; expected one of "
                              f"{', '.join(OPTIONS)}")
    if not isinstance(prefix, str):
        raise ConfigError(f"architecture entry {where!r}: the prefix must be a string; got {prefix!r}")
    return Module(kind, prefix, dict(options))


def parse_architecture(spec) -> list:
    """A list of :class:`Module` from a list (dicts, strings or Modules), JSON text, or the string form."""
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith("["):
            try:
                spec = json.loads(text)
            except json.JSONDecodeError as error:
                raise ConfigError(f"the architecture is not valid JSON: {error}") from None
        else:
            spec = _split_entries(text)
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ConfigError(f"an architecture is a non-empty list of modules; got {spec!r:.200}")
    modules = []
    for entry in spec:
        if isinstance(entry, Module):
            modules.append(Module(entry.type, entry.prefix, dict(entry.options)))
        elif isinstance(entry, str):
            modules.append(_parse_entry(entry))
        elif isinstance(entry, dict):
            entry = dict(entry)
            modules.append(_module(entry.pop("type", None), entry.pop("prefix", ""), entry, entry))
        else:
            raise ConfigError(f"an architecture entry is a dict or a string; got {entry!r:.100}")
    return modules


# ------------------------------------------------------------------------------------ reading state dicts
def module_prefixes(state_dict: dict) -> list:
    """The module prefixes of a state dict's keys, in key order (``""`` for a lone module's own keys)."""
    prefixes = []
    for key in state_dict:
        prefix = key.rsplit(".", 1)[0] if "." in key else ""
        if prefix not in prefixes:
            prefixes.append(prefix)
    return prefixes


def keys_of(state_dict: dict, prefix: str) -> dict:
    """The entries of ``prefix`` (name without the prefix -> array)."""
    start = f"{prefix}." if prefix else ""
    return {key[len(start):]: value for key, value in state_dict.items()
            if key.startswith(start) and "." not in key[len(start):]}


def infer_type(names: dict, prefix: str) -> str:
    """The module type that the keys ``names`` (name -> array) of ``prefix`` can only be, or a ConfigError."""
    where = f"module {prefix!r}" if prefix else "the state dict"
    recurrent = [_RECURRENT_KEY.match(n) for n in names]
    if names and all(recurrent):
        if any(n.startswith("weight_hr") for n in names):
            raise ConfigError(f"{where}: nn.LSTM with proj_size (weight_hr_l*) has no rnnkit equivalent: rnnkit's "
                              "LSTM has no projection of the hidden state")
        if "weight_hh_l0" not in names:
            raise ConfigError(f"{where}: a recurrent module needs weight_hh_l0; got keys {sorted(names)}")
        hh = np.shape(names["weight_hh_l0"])
        if len(hh) != 2 or hh[1] == 0 or hh[0] % hh[1] or hh[0] // hh[1] not in GATE_TYPES:
            raise ConfigError(f"{where}: weight_hh_l0 of shape {hh} is not (gates * hidden, hidden) with 1, 3 or 4 "
                              "gates (nn.RNN, nn.GRU, nn.LSTM)")
        return GATE_TYPES[hh[0] // hh[1]]
    if set(names) == {"weight", "bias"}:
        return "linear"
    if set(names) == {"weight"}:
        raise ConfigError(f"{where} has only a 2-D 'weight': an nn.Embedding or an nn.Linear(bias=False); give the "
                          "architecture (e.g. 'embedding:PREFIX' or 'linear:PREFIX')")
    raise ConfigError(f"{where}: keys {sorted(names)} are not those of nn.RNN, nn.LSTM, nn.GRU, nn.Linear or "
                      "nn.Embedding")


def resolve(state_dict: dict, architecture=None) -> list:
    """The architecture with every type filled in and every key of ``state_dict`` accounted for.

    Without an architecture the state dict must hold one module (its order is then not a question)."""
    prefixes = module_prefixes(state_dict)
    if architecture is None:
        if len(prefixes) != 1:
            raise ConfigError(
                f"the state dict holds {len(prefixes)} modules ({', '.join(map(repr, prefixes))}); give the "
                "architecture: the modules in order, e.g. 'embedding:emb, lstm:rnn, linear:fc' (types may be left "
                "out where the shapes tell them)")
        modules = [Module(None, prefixes[0])]
    else:
        modules = parse_architecture(architecture)
    used = set()
    for module in modules:
        if module.type in WEIGHTLESS:
            continue
        names = keys_of(state_dict, module.prefix)
        if not names:
            raise ConfigError(f"the architecture names module {module.prefix!r}, which has no keys in the state dict "
                              f"(its modules: {', '.join(map(repr, prefixes))})")
        inferred = infer_type(names, module.prefix) if module.type is None else module.type
        module.type = inferred
        unknown = set(module.options) - set(OPTIONS[inferred])
        if unknown:
            raise ConfigError(f"module {module.prefix!r} ({inferred}): unknown option(s) {sorted(unknown)}; expected "
                              f"{sorted(OPTIONS[inferred])}")
        used.update(module.key(n) for n in names)
    for module in modules:
        if module.type in WEIGHTLESS and set(module.options) - set(OPTIONS[module.type]):
            raise ConfigError(f"{module.type}: unknown option(s) {sorted(set(module.options) - set(OPTIONS[module.type]))}"
                              f"; expected {sorted(OPTIONS[module.type])}")
    left = [k for k in state_dict if k not in used]
    if left:
        raise ConfigError(f"the architecture does not use the state dict keys {left[:8]}"
                          f"{' ...' if len(left) > 8 else ''}; name their modules in it")
    return modules
