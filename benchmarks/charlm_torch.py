"""The PyTorch twin of ``rnnkit charlm``, written plainly: the same data split, vocabulary and streams, the same
model (Embedding -> LSTM -> Linear), Adam, per-tensor gradient clipping (Keras' ``clipnorm``), states carried
across batches and reset every epoch, the same wall-clock training budget, the same validation (the whole
held-out text read in order, batch 1) and the same sampling settings.

Run by ``benchmarks.app_charlm`` in its own process; ``train_twin(...)`` returns a dict of results.
"""
from __future__ import annotations

import math
import time

import numpy as np


def train_twin(text_path: str, minutes: float, units: int = 256, embedding: int = 64, seq_len: int = 100,
               batch_size: int = 64, lr: float = 2e-3, clipnorm: float = 5.0, seed: int = 1234,
               val_fraction: float = 0.1, threads: int = 1, max_epochs: int = 1000) -> dict:
    import torch
    from torch import nn

    from rnnkit.tasks.charlm import CharLMConfig, load_data, unigram_loss
    from rnnkit.text import stream_batches

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    config = CharLMConfig(text=text_path, seq_len=seq_len, batch_size=batch_size, val_fraction=val_fraction)
    data = load_data(config)
    vocabulary = data["vocabulary"]
    V = len(vocabulary)
    x, y = stream_batches(data["train_ids"], batch_size, seq_len)
    xs = torch.from_numpy(x).reshape(-1, batch_size, seq_len)  # (steps, B, T)
    ys = torch.from_numpy(y).reshape(-1, batch_size, seq_len)

    class CharModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, embedding)
            self.lstm = nn.LSTM(embedding, units, batch_first=True)
            self.head = nn.Linear(units, V)

        def forward(self, ids, state=None):
            out, state = self.lstm(self.embed(ids), state)
            return self.head(out), state

    model = CharModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    budget = 60.0 * minutes
    train_seconds, steps, epochs, history = 0.0, 0, 0, []
    stopped = False
    while not stopped and epochs < max_epochs:
        state = None  # zero states at the start of every epoch
        losses = []
        for i in range(len(xs)):
            start = time.perf_counter()
            logits, state = model(xs[i], state)
            state = tuple(s.detach() for s in state)  # truncated BPTT: carry the values, not the graph
            loss = nn.functional.cross_entropy(logits.reshape(-1, V), ys[i].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            for p in model.parameters():  # Keras' clipnorm: each gradient to norm <= clipnorm
                torch.nn.utils.clip_grad_norm_([p], clipnorm)
            optimizer.step()
            train_seconds += time.perf_counter() - start
            steps += 1
            losses.append(float(loss))
            if train_seconds >= budget:
                stopped = True
                break
        epochs += 1
        history.append(float(np.mean(losses)))

    model.eval()
    val = torch.from_numpy(data["val_ids"])
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for start in range(0, len(val) - 1, 1000):
            stop = min(start + 1000, len(val) - 1)
            logits, state = model(val[None, start:stop], state)
            total += float(nn.functional.cross_entropy(logits[0], val[start + 1:stop + 1], reduction="sum"))
            count += stop - start
        val_loss = total / count
        generator = torch.Generator().manual_seed(seed)
        ids = torch.tensor([[vocabulary.index("\n")]])
        state, text = None, []
        for _ in range(300):
            logits, state = model(ids, state)
            logits = logits[0, -1].double()
            logits[:2] = -math.inf  # padding and [UNK] are never generated
            i = int(torch.multinomial(torch.softmax(logits / 0.8, dim=0), 1, generator=generator))
            text.append(vocabulary[i])
            ids = torch.tensor([[i]])
    return {
        "framework": "torch", "version": torch.__version__, "threads": threads, "val_loss": val_loss,
        "val_bpc": val_loss / math.log(2), "training_seconds": train_seconds, "training_steps": steps,
        "epochs_started": epochs, "characters_per_second": steps * batch_size * seq_len / train_seconds,
        "train_loss_per_epoch": history, "sample": "".join(text),
        "baseline_loss": unigram_loss(data["train_ids"], data["val_ids"], V),
    }
