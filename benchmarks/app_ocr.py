"""OCR application measurement: CER and line accuracy on held-out rendered lines (the training fonts, and a
font training never saw, listed separately), and CRNN training throughput beside the same CRNN written plainly
in PyTorch with ``nn.CTCLoss``, on the same batches, one thread each, steps interleaved so both see one load.

    python -m benchmarks.app_ocr --model runs/ocr-bench/model.rnnkit   # evaluate a model from 'rnnkit ocr train'
    python -m benchmarks.app_ocr --train-out runs/ocr-bench --epochs 30 --steps 100  # train it first

The training fonts are Debian's (fonts-dejavu-core, fonts-liberation, fonts-freefont-ttf) without
``--unseen-font`` (default FreeSerif.ttf); train with ``rnnkit ocr train --fonts DIR`` on a folder of them
(``--train-out`` makes that folder and runs the training). Writes JSON (default runs/app_ocr.json).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy and PyTorch load their BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

EVAL_SEED = 20_261_130  # held-out lines: neither a training epoch's seed nor the task's own test seed
THROUGHPUT_SEED = 7


def training_fonts(unseen: str) -> tuple:
    """``(training font paths, unseen font path or None)`` among the installed Debian fonts."""
    from rnnkit.tasks.ocr_render import system_fonts

    fonts = system_fonts()
    held = [f for f in fonts if os.path.basename(f) == unseen]
    return [f for f in fonts if os.path.basename(f) != unseen], (held[0] if held else None)


def font_folder(fonts: list, folder: str) -> str:
    """A folder of links to ``fonts`` (what ``rnnkit ocr train --fonts`` reads)."""
    os.makedirs(folder, exist_ok=True)
    for path in fonts:
        link = os.path.join(folder, os.path.basename(path))
        if not os.path.lexists(link):
            os.symlink(path, link)
    return folder


def evaluate(model, info: dict, fonts: list, lines: int, seed: int, config) -> dict:
    from rnnkit.tasks import ocr
    from rnnkit.tasks.ocr_render import render_lines

    images, texts = render_lines(lines, info["alphabet"], fonts, seed, int(info["height"]), int(info["width"]),
                                 config.min_length, config.max_length)
    started = time.perf_counter()
    predicted = ocr.predict_texts(model, images, info["alphabet"])
    seconds = time.perf_counter() - started
    result = ocr.score(predicted, texts)
    result.update(lines=lines, fonts=[os.path.basename(f) if f else "Pillow built-in" for f in fonts],
                  read_lines_per_s=lines / seconds,
                  errors=[{"truth": t, "read": p} for t, p in zip(texts, predicted) if t != p][:15])
    return result


# ----------------------------------------------------------------------------------- PyTorch twin
def torch_crnn(config, classes: int):
    """The CRNN of ``rnnkit.tasks.ocr.build_model`` written plainly in PyTorch (channels first inside)."""
    import torch
    from torch import nn

    f, rows = config.filters, config.height // 8

    class CRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, f, 3, padding=1)
            self.conv2 = nn.Conv2d(f, 2 * f, 3, padding=1)
            self.conv3 = nn.Conv2d(2 * f, 4 * f, 3, padding=1)
            self.norm = nn.BatchNorm2d(4 * f, eps=1e-3, momentum=0.1)  # Keras momentum 0.9 = PyTorch's 0.1
            self.dense = nn.Linear(rows * 4 * f, 2 * config.units)
            self.lstm = nn.LSTM(2 * config.units, config.units, batch_first=True, bidirectional=True)
            self.out = nn.Linear(2 * config.units, classes)

        def forward(self, x):  # (B, H, W, 1)
            x = x.permute(0, 3, 1, 2)  # (B, 1, H, W)
            x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
            x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
            x = torch.max_pool2d(self.norm(torch.relu(self.conv3(x))), (2, 1))  # (B, 4f, H/8, W/4)
            x = x.permute(0, 3, 2, 1).flatten(2)  # (B, W/4, H/8 * 4f), rows then channels, as Keras' Reshape
            x, _ = self.lstm(torch.relu(self.dense(x)))
            return self.out(x)  # (B, W/4, classes) logits

    return CRNN()


def throughput(config, classes: int, batches: list, warmup: int = 2) -> dict:
    """Lines per second of one training step (forward, CTC loss, backward, Adam with per-tensor clipnorm) of
    rnnkit and the PyTorch twin on the same batches, alternating step by step."""
    import torch

    from rnnkit.random import set_random_seed
    from rnnkit.tasks import ocr

    torch.set_num_threads(1)
    torch.manual_seed(0)
    set_random_seed(0)
    model = ocr.build_model(config, classes)
    ocr.compile_model(model, config)
    twin = torch_crnn(config, classes)
    optimizer = torch.optim.Adam(twin.parameters(), lr=config.lr)
    ctc = torch.nn.CTCLoss(blank=0, reduction="sum")

    def torch_step(x, y):
        logits = twin(torch.from_numpy(x))
        logp = torch.log_softmax(logits, dim=-1).transpose(0, 1)  # (T, B, C)
        lengths = torch.from_numpy((y != 0).sum(axis=1))
        loss = ctc(logp, torch.from_numpy(y), torch.full((len(x),), logp.shape[0], dtype=torch.long), lengths)
        loss = loss / len(x)  # Keras' sum_over_batch_size
        optimizer.zero_grad()
        loss.backward()
        for p in twin.parameters():
            torch.nn.utils.clip_grad_norm_([p], config.clipnorm)
        optimizer.step()
        return loss.item()

    seconds = {"rnnkit": 0.0, "torch": 0.0}
    losses = {"rnnkit": [], "torch": []}
    lines = 0
    for i, (x, y) in enumerate(batches):
        started = time.perf_counter()
        losses["rnnkit"].append(float(model.train_on_batch(x, y)))
        middle = time.perf_counter()
        losses["torch"].append(torch_step(x, y))
        ended = time.perf_counter()
        if i >= warmup:
            seconds["rnnkit"] += middle - started
            seconds["torch"] += ended - middle
            lines += len(x)
    result = {name: {"lines_per_s": lines / s, "seconds": s, "first_loss": losses[name][0],
                     "last_loss": losses[name][-1]} for name, s in seconds.items()}
    result["timed_lines"] = lines
    result["ratio_rnnkit_over_torch"] = result["rnnkit"]["lines_per_s"] / result["torch"]["lines_per_s"]
    return result


def render_speed(config, fonts: list, n: int = 200) -> float:
    from rnnkit.tasks.ocr_render import render_lines

    started = time.perf_counter()
    render_lines(n, config.alphabet, fonts, 11, config.height, config.width, config.min_length, config.max_length)
    return n / (time.perf_counter() - started)


def main(argv=None) -> int:
    from rnnkit.fileio import atomic_write_text
    from rnnkit.tasks import ocr

    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_ocr", description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a model.rnnkit written by 'rnnkit ocr train' (else --train-out)")
    parser.add_argument("--train-out", metavar="DIR", help="train a model into DIR first (rnnkit ocr train)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--unseen-font", default="FreeSerif.ttf", help="font file left out of training")
    parser.add_argument("--test-lines", type=int, default=1000)
    parser.add_argument("--throughput-batches", type=int, default=12)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long run of every part (for the tests)")
    parser.add_argument("--json", default="runs/app_ocr.json")
    args = parser.parse_args(argv)
    if os.environ.get("OMP_NUM_THREADS") != "1" or os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        print("note: OMP_NUM_THREADS/OPENBLAS_NUM_THREADS are not 1; the comparison assumes one thread",
              file=sys.stderr)

    train_fonts, unseen = training_fonts(args.unseen_font)
    tiny = dict(alphabet="0123456789", width=64, max_length=6, min_length=2, filters=4, units=8) if args.tiny else {}
    if args.model is None:
        if not args.train_out:
            parser.error("give --model PATH (from 'rnnkit ocr train') or --train-out DIR to train one")
        folder = font_folder(train_fonts, os.path.join(args.train_out, "train-fonts")) if train_fonts else None
        config = ocr.OCRConfig(out=args.train_out, fonts=folder, epochs=args.epochs, steps=args.steps,
                               verbose=0 if args.tiny else 2, test_lines=20 if args.tiny else 500, **tiny)
        started = time.perf_counter()
        ocr.train(config, overwrite=True)
        print(f"trained in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        args.model = os.path.join(args.train_out, "model.rnnkit")
    model, info = ocr.load(args.model)
    config = ocr.OCRConfig(alphabet=info["alphabet"], height=int(info["height"]), width=int(info["width"]), **{
        k: v for k, v in tiny.items() if k not in ("alphabet", "width")})
    saved = _saved_config(args.model)
    for key in ("min_length", "max_length", "filters", "units", "lr", "clipnorm", "batch_size"):
        if key in saved:
            setattr(config, key, saved[key])

    report = {"model": args.model, "threads": 1, "train_fonts": None, "unseen_font": None}
    report["train_fonts"] = evaluate(model, info, train_fonts or [None], args.test_lines, EVAL_SEED, config)
    if unseen is not None:
        report["unseen_font"] = evaluate(model, info, [unseen], args.test_lines, EVAL_SEED + 1, config)
    rng = np.random.default_rng(THROUGHPUT_SEED)
    batches = []
    for i in range(args.throughput_batches):
        x, y, _ = ocr.load_data(config, config.batch_size, (THROUGHPUT_SEED, i), train_fonts or [None])
        batches.append((x, y))
    del rng
    report["throughput"] = throughput(config, len(info["alphabet"]) + 1, batches, warmup=1 if args.tiny else 2)
    report["render_lines_per_s"] = render_speed(config, train_fonts or [None], 20 if args.tiny else 200)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    print_table(report)
    return 0


def _saved_config(model_path: str) -> dict:
    """The training config in the report.json beside the model, when there is one."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "report.json")
    try:
        with open(path) as f:
            return json.load(f).get("config", {})
    except (OSError, ValueError):
        return {}


def print_table(report: dict) -> None:
    print(f"{'held-out lines':<40} {'lines':>6} {'CER':>8} {'line acc':>9}")
    for key, label in (("train_fonts", "training fonts"), ("unseen_font", "unseen font")):
        row = report.get(key)
        if row:
            name = f"{label} ({', '.join(row['fonts']) if key == 'unseen_font' else str(len(row['fonts'])) + ' fonts'})"
            print(f"{name:<40} {row['lines']:>6} {100 * row['cer']:>7.2f}% {100 * row['line_accuracy']:>8.1f}%")
    t = report["throughput"]
    print(f"training lines/s, 1 thread: rnnkit {t['rnnkit']['lines_per_s']:.1f}  PyTorch {t['torch']['lines_per_s']:.1f}"
          f"  ratio {t['ratio_rnnkit_over_torch']:.2f}  ({t['timed_lines']} lines each, same batches)")
    print(f"rendering: {report['render_lines_per_s']:.0f} lines/s")


if __name__ == "__main__":
    sys.exit(main())
