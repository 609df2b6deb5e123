"""One rank of a distributed test run (or the single-process reference when imported).

Run as ``python tests/distribution/dist_worker.py CASE OUT_DIR`` with torchrun's environment (RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT); rank r writes ``OUT_DIR/rank{r}.npz``. Cases:
  fit     train two small float64 models (dropout, sample weights, a masked per-step loss; 31 samples in
          global batches of 5, so the last batch has 1 row), then evaluate and predict;
  kill    the classifier with a BackupAndRestore checkpoint every step; rank KILL_RANK kills itself (SIGKILL)
          before step KILL_STEP; the others must stop with RankFailedError (message written to error{r}.txt);
  resume  the same run again on the same checkpoint folder, to the end.
"""
from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np

N, BATCH, EPOCHS = 31, 5, 2


def data():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, 4, 3))  # (N, T, D) float64
    y = np.eye(3)[rng.integers(0, 3, size=N)]  # (N, 3) one-hot
    sw = rng.uniform(0.5, 1.5, size=N)
    xs = rng.standard_normal((N, 4, 2))
    xs[rng.random((N, 4)) < 0.3] = 0.0  # masked steps (Masking(0.0))
    ys = rng.standard_normal((N, 4, 1))
    return x, y, sw, xs, ys


def classifier():
    from rnnkit.layers import Dense, Dropout, SimpleRNN
    from rnnkit.models import Sequential
    from rnnkit.optimizers import Adam

    model = Sequential([SimpleRNN(6, dropout=0.25, input_shape=(4, 3), dtype="float64"),
                        Dropout(0.3, dtype="float64"), Dense(3, activation="softmax", dtype="float64")])
    model.compile(optimizer=Adam(learning_rate=0.05), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def tagger():
    from rnnkit.layers import LSTM, Dense, Masking
    from rnnkit.models import Sequential

    model = Sequential([Masking(0.0, input_shape=(4, 2), dtype="float64"),
                        LSTM(5, return_sequences=True, dtype="float64"), Dense(1, dtype="float64")])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    return model


def custom_loop() -> list:
    """Three SGD steps of a hand-written loop: this rank's rows of each global batch of 10, its share of the
    global loss (sum over its rows / 10), ``all_reduce_gradients(op="sum")``, apply."""
    from rnnkit.distribution import all_reduce_gradients, local_slice
    from rnnkit.layers import Dense
    from rnnkit.losses import MeanSquaredError
    from rnnkit.models import Sequential
    from rnnkit.optimizers import SGD
    from rnnkit.random import set_random_seed

    set_random_seed(5)
    model = Sequential([Dense(4, activation="tanh", input_shape=(3,), dtype="float64"), Dense(1, dtype="float64")])
    optimizer, loss_fn = SGD(learning_rate=0.1), MeanSquaredError(reduction="sum")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((30, 3)), rng.standard_normal((30, 1))
    for step in range(3):
        batch = slice(10 * step, 10 * step + 10)
        mine = local_slice(10)
        out = model(x[batch][mine], training=True)
        loss = loss_fn(y[batch][mine], out) * (1.0 / 10)
        for w in model.trainable_weights:
            w.grad = None
        loss.backward()
        optimizer.apply(all_reduce_gradients(model, op="sum"), model.trainable_weights)
    return model.get_weights()


def run_fit(checkpoint_dir=None) -> dict:
    """Everything the fit case records (the same in every process that runs it)."""
    from rnnkit.callbacks import ModelCheckpoint
    from rnnkit.random import set_random_seed

    x, y, sw, xs, ys = data()
    set_random_seed(3)
    model = classifier()
    callbacks = [] if checkpoint_dir is None else [
        ModelCheckpoint(os.path.join(checkpoint_dir, f"written-by-rank{os.environ.get('RANK')}.rnnkit"))]
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, sample_weight=sw, validation_data=(x[:7], y[:7]),
                        verbose=0, callbacks=callbacks)
    second = tagger()
    history2 = second.fit(xs, ys, batch_size=BATCH, epochs=1, verbose=0)
    out = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    out.update({f"t{i}": w for i, w in enumerate(second.get_weights())})
    out.update({f"h_{k}": np.array(v) for k, v in history.history.items()})
    out.update({f"h2_{k}": np.array(v) for k, v in history2.history.items()})
    out["evaluate"] = np.array(model.evaluate(x, y, batch_size=7, sample_weight=sw, verbose=0))
    out["evaluate2"] = np.array(second.evaluate(xs, ys, batch_size=4, verbose=0))
    out["predict"] = model.predict(x, batch_size=BATCH, verbose=0)
    out["predict2"] = second.predict(xs[:2], batch_size=8, verbose=0)  # 2 rows: a rank with none on 3 ranks
    out.update({f"custom{i}": w for i, w in enumerate(custom_loop())})
    return out


def run_checkpointed(backup_dir: str, kill_rank=None, kill_step=None) -> dict:
    from rnnkit.callbacks import BackupAndRestore, Callback
    from rnnkit.distribution import rank
    from rnnkit.random import set_random_seed

    class Kill(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if rank() == kill_rank and self.model._fit_progress.global_step == kill_step:
                os.kill(os.getpid(), signal.SIGKILL)

    x, y, sw, _, _ = data()
    set_random_seed(3)
    model = classifier()
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, sample_weight=sw, verbose=0,
              callbacks=[BackupAndRestore(backup_dir, save_freq=1), Kill()])
    return {f"w{i}": w for i, w in enumerate(model.get_weights())}


def main(case: str, out_dir: str) -> int:
    from rnnkit.distribution import DataParallel, RankFailedError, set_distribution

    set_distribution(DataParallel(timeout=float(os.environ.get("TEST_TIMEOUT", "120")), probe=1.0))
    r = int(os.environ["RANK"])
    if case == "fit":
        result = run_fit(out_dir)
    else:
        kill = (int(os.environ["KILL_RANK"]), int(os.environ["KILL_STEP"])) if case == "kill" else (None, None)
        start = time.monotonic()
        try:
            result = run_checkpointed(os.path.join(out_dir, "backup"), *kill)
        except RankFailedError as error:
            with open(os.path.join(out_dir, f"error{r}.txt"), "w") as f:
                f.write(f"{time.monotonic() - start:.2f}\n{error}")
            return 3
    np.savez(os.path.join(out_dir, f"rank{r}.npz"), **result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
