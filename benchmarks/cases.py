"""The benchmark cases: each one model, input shape, batch size and number of timed steps."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Case:
    name: str  # key in the results table
    cell: str  # simple_rnn | lstm | gru
    units: int  # hidden units per recurrent layer
    time_steps: int  # sequence length T
    features: int  # input features per step D
    batch: int  # samples per step
    steps: int  # timed training steps (or inference calls) per repeat
    layers: int = 1  # stacked recurrent layers
    bidirectional: bool = False
    mode: str = "train"  # train | infer
    classes: int = 10

    def to_dict(self) -> dict:
        return asdict(self)


CASES = [
    Case("seed SimpleRNN 32", "simple_rnn", 32, 28, 28, 64, steps=300),
    Case("LSTM 128", "lstm", 128, 28, 28, 64, steps=60),
    Case("GRU 128", "gru", 128, 28, 28, 64, steps=60),
    Case("BiLSTM 128 x2", "lstm", 128, 28, 28, 64, steps=20, layers=2, bidirectional=True),
    Case("LSTM 64 x 784 steps", "lstm", 64, 784, 1, 64, steps=3),
    Case("infer LSTM 128 batch 1", "lstm", 128, 28, 28, 1, steps=300, mode="infer"),
    Case("infer LSTM 128 batch 256", "lstm", 128, 28, 28, 256, steps=20, mode="infer"),
    Case("infer seed batch 1", "simple_rnn", 32, 28, 28, 1, steps=1000, mode="infer"),
]

TINY = [
    Case("tiny SimpleRNN", "simple_rnn", 8, 5, 4, 8, steps=3),
    Case("tiny BiGRU", "gru", 8, 5, 4, 8, steps=2, layers=2, bidirectional=True),
    Case("tiny infer LSTM", "lstm", 8, 5, 4, 1, steps=3, mode="infer"),
]


def by_name(name: str) -> Case:
    for case in CASES + TINY:
        if case.name == name:
            return case
    raise KeyError(f"unknown benchmark case {name!r}; known: {[c.name for c in CASES + TINY]}")
