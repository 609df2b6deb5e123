"""Speech: spoken digits (``task="digits"``) and continuous digit strings with CTC (``task="sequences"``) on the
Free Spoken Digit Dataset, from log-mel or MFCC features.

- digits: Masking -> Bidirectional GRU/LSTM -> Dropout -> Dense softmax on whole variable-length utterances
  (padded, with masks; nothing cropped), beside a baseline: logistic regression on each utterance's MFCC means
  and standard deviations;
- sequences (``rnnkit.tasks.speech_sequences``): utterances of 2-7 digits made by joining recordings with
  short pauses and light noise, a BiGRU trained with CTC, word (digit) and character error rates with greedy
  and beam-search decoding.

The standard split tests on index 0-4 of every speaker and digit; ``test_speakers`` holds out whole speakers.
Training features are augmented afresh every epoch (vocal tract length perturbation, noise, SpecAugment masks,
``rnnkit.audio.augment``); features are normalised per utterance (default) or with training-set statistics.

>>> config = SpeechConfig(data="fsdd", test_speakers="theo,lucas", epochs=3)
>>> config.validate(); config.speakers()
['theo', 'lucas']
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnkit.cli.config_flags import check_all, positive
from rnnkit.errors import ConfigError

TASK = "speech"
DIGIT_NAMES = [str(d) for d in range(10)]


@dataclass
class SpeechConfig:
    data: str = field(default="", metadata={"help": "FSDD folder (holding recordings/*.wav)", "metavar": "DIR"})
    out: str = field(default="runs/speech", metadata={"help": "output folder (model, report, plots)",
                                                      "metavar": "DIR"})
    task: str = field(default="digits", metadata={
        "help": "digits: one digit per recording; sequences: strings of 2-7 digits with CTC",
        "choices": ("digits", "sequences")})
    test_speakers: str = field(default="", metadata={
        "help": "hold out these whole speakers as the test set (default: the standard split, index 0-4)",
        "metavar": "NAME[,NAME]"})
    features: str = field(default="mfcc", metadata={"help": "input features", "choices": ("mfcc", "logmel")})
    n_mfcc: int = field(default=20, metadata={"help": "MFCCs per frame (--features mfcc)"})
    n_mels: int = field(default=40, metadata={"help": "mel bands"})
    normalize: str = field(default="utterance", metadata={
        "help": "feature normalisation: per utterance, or with training-set statistics",
        "choices": ("utterance", "dataset")})
    augment: bool = field(default=True, metadata={
        "help": "draw new training features every epoch (vocal tract length perturbation, noise, SpecAugment)"})
    cell: str = field(default="gru", metadata={"help": "recurrent cell", "choices": ("gru", "lstm")})
    units: int = field(default=64, metadata={"help": "units per direction of the bidirectional layer"})
    dropout: float = field(default=0.3, metadata={"help": "dropout rate before the output layer"})
    epochs: int = field(default=30, metadata={"help": "training epochs"})
    batch_size: int = field(default=32, metadata={"help": "batch size"})
    lr: float = field(default=0.002, metadata={"help": "Adam learning rate"})
    clipnorm: float = field(default=1.0, metadata={"help": "clip each gradient to this norm"})
    seed: int = field(default=0, metadata={"help": "random seed (weights, shuffling, augmentation, strings)"})
    limit: int = field(default=0, metadata={
        "help": "use only recordings with index < N of each speaker and digit (quick runs; 0: all)",
        "metavar": "N"})
    train_strings: int = field(default=2000, metadata={"help": "sequences: digit strings built for training"})
    test_strings: int = field(default=300, metadata={"help": "sequences: digit strings built for testing"})
    beam_width: int = field(default=16, metadata={"help": "sequences: beam width of beam-search decoding"})
    verbose: int = field(default=2, metadata={"help": "0 silent, 1 progress bar, 2 one line per epoch",
                                              "choices": (0, 1, 2)})
    checkpoint_every: int = field(default=0, metadata={
        "help": "also checkpoint every N training steps (0: every epoch only)", "metavar": "N"})

    def speakers(self) -> list:
        return [name.strip() for name in self.test_speakers.split(",") if name.strip()]

    def validate(self) -> None:
        check_all([
            positive("units", self.units), positive("epochs", self.epochs, allow_zero=True),
            positive("batch_size", self.batch_size), positive("lr", self.lr), positive("n_mels", self.n_mels),
            positive("n_mfcc", self.n_mfcc), positive("limit", self.limit, allow_zero=True),
            positive("clipnorm", self.clipnorm), positive("train_strings", self.train_strings),
            positive("test_strings", self.test_strings), positive("beam_width", self.beam_width),
            positive("checkpoint_every", self.checkpoint_every, allow_zero=True),
            (0.0 <= self.dropout < 1.0, f"--dropout must be in [0, 1); got {self.dropout}"),
            (self.features != "mfcc" or self.n_mfcc <= self.n_mels,
             f"--n-mfcc ({self.n_mfcc}) cannot exceed --n-mels ({self.n_mels})"),
        ])
        if not self.data:
            raise ConfigError("--data DIR is required (the FSDD folder, holding recordings/*.wav)")

    def feature_config(self):
        from rnnkit.audio import FeatureConfig

        return FeatureConfig(kind=self.features, n_mfcc=self.n_mfcc, n_mels=self.n_mels)


def train(config: SpeechConfig, resume: bool = False, overwrite: bool = False) -> dict:
    """Train the model of ``config.task``; writes model, report and plots to ``config.out``; returns the report."""
    from rnnkit.tasks.runs import check_out_dir

    config.validate()
    if not resume:
        check_out_dir(config.out, TASK, overwrite=overwrite)
    if config.task == "sequences":
        from rnnkit.tasks.speech_sequences import train_sequences

        return train_sequences(config, resume)
    from rnnkit.tasks.speech_digits import train_digits

    return train_digits(config, resume)


def resume_run_config(out: str, given: dict) -> SpeechConfig:
    from rnnkit.tasks.runs import resume_config

    config = resume_config(out, TASK, SpeechConfig, given)
    config.validate()
    return config


def load_speech_model(path: str):
    """``(model, info, bank)``: a model written by ``rnnkit speech train``, its task info, and a ``FeatureBank``
    with the model's feature settings and normalisation."""
    from rnnkit.audio import FeatureConfig, Standardizer
    from rnnkit.tasks.artifacts import load_task_model
    from rnnkit.tasks.speech_data import FeatureBank

    model, info = load_task_model(path, TASK)
    bank = FeatureBank(FeatureConfig.from_dict(info["features"]), info["normalization"]["normalize"])
    if info["normalization"]["statistics"] is not None:
        bank.scaler = Standardizer.from_dict(info["normalization"]["statistics"])
    return model, info, bank


def transcribe(model_path: str, wav_path: str) -> dict:
    """What a trained model hears in ``wav_path``: ``{"digit", "probability", "probabilities"}`` for a digits
    model, ``{"digits", "score"}`` (the beam-search transcript and its log-probability) for a sequences model."""
    from rnnkit.audio import pad_sequences, read_wav

    model, info, bank = load_speech_model(model_path)
    samples, rate = read_wav(wav_path)
    if rate != bank.config.sr:
        raise ConfigError(f"{wav_path} is sampled at {rate} Hz; this model was trained on {bank.config.sr} Hz audio "
                          "(resample it first)")
    if info.get("task") == "sequences":
        from rnnkit.tasks.speech_sequences import decode_batch, string_features

        x, _ = pad_sequences([string_features(bank, samples)])  # (1, T, F)
        texts, scores = decode_batch(model, x, "beam_search", int(info.get("beam_width", 16)))
        return {"digits": texts[0], "score": float(scores[0])}
    bank.signal_power(wav_path, samples)
    x, _ = pad_sequences([bank.clean(wav_path)])  # (1, T, F)
    probabilities = np.asarray(model.predict(x, verbose=0))[0]  # (1, 10) -> (10,)
    digit = int(np.argmax(probabilities))
    return {"digit": digit, "probability": float(probabilities[digit]), "probabilities": probabilities.tolist()}
