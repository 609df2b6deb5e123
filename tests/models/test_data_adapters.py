"""fit / evaluate / predict on generators, iterators, iterables of batches and PyDataset.

Values: the same batches given as arrays, as a generator, as a list and as a PyDataset give bit-identical
float64 weights. Behaviour: the same programs run in Keras 3 (torch backend) give the same numbers of steps per
epoch, PyDataset hook calls, history keys and "ran out of data" warnings.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from rnnkit.callbacks import BackupAndRestore, Callback
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import Concatenate, Dense, Input, SimpleRNN
from rnnkit.models import Model, Sequential
from rnnkit.random import set_random_seed
from rnnkit.utils import PyDataset, Sequence

RNG = np.random.default_rng(7)
X = RNG.normal(size=(20, 4, 3))
Y = RNG.normal(size=(20, 2))
SW = RNG.uniform(0.5, 1.5, size=20)
BS = 4


def batches(n=5, weights=False):
    for i in range(n):
        part = slice(i * BS, (i + 1) * BS)
        yield (X[part], Y[part], SW[part]) if weights else (X[part], Y[part])


def endless():
    while True:
        yield from batches()


class Recorded:
    """Five batches of X, Y; records what fit asks of it (a mixin for rnnkit's and Keras' PyDataset)."""

    def _setup(self, count):
        self.count, self.calls, self.begins, self.ends = count, [], 0, 0

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        self.calls.append(index)
        part = slice(index * BS, (index + 1) * BS)
        return X[part], Y[part]

    def on_epoch_begin(self):
        self.begins += 1

    def on_epoch_end(self):
        self.ends += 1


class Batches(Recorded, PyDataset):
    def __init__(self, count=5):
        PyDataset.__init__(self)
        self._setup(count)


def make_model():
    set_random_seed(3)
    model = Sequential([SimpleRNN(5, input_shape=(4, 3), dtype="float64"), Dense(2, dtype="float64")])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def weights_of(model):
    return [w.tobytes() for w in model.get_weights()]


def quiet_fit(model, data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(data, verbose=0, **kwargs)


# ------------------------------------------------------------------------------------- same weights
def test_generator_iterable_and_pydataset_give_the_weights_of_arrays():
    reference = make_model()
    reference.fit(X, Y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    expected = weights_of(reference)
    for data, kwargs in [(endless(), {"steps_per_epoch": 5}), (iter(list(batches()) * 2), {"steps_per_epoch": 5}),
                         (list(batches()), {}), (Batches(), {"shuffle": False})]:
        model = make_model()
        history = quiet_fit(model, data, epochs=2, **kwargs)
        assert weights_of(model) == expected, type(data)
        assert history.history == reference.history.history


def test_arrays_with_steps_per_epoch_carry_the_pass_on_as_a_list_of_batches_does():
    expected = make_model()
    quiet_fit(expected, list(batches()), epochs=3, steps_per_epoch=3)
    model = make_model()
    history = quiet_fit(model, X, y=Y, batch_size=BS, epochs=3, steps_per_epoch=3, shuffle=False)
    assert weights_of(model) == weights_of(expected) and history.history == expected.history.history


def test_sample_weights_and_validation_batches_match_arrays():
    reference = make_model()
    reference.fit(X, Y, sample_weight=SW, batch_size=BS, epochs=1, shuffle=False, verbose=0,
                  validation_data=(X[:8], Y[:8]))
    model = make_model()
    history = quiet_fit(model, batches(weights=True), validation_data=[(X[:4], Y[:4]), (X[4:8], Y[4:8])])
    assert weights_of(model) == weights_of(reference)
    assert history.history == reference.history.history


def test_multi_input_functional_model_takes_list_batches():
    def build():
        set_random_seed(5)
        a, b = Input((4, 3)), Input((2,))
        out = Dense(2, dtype="float64")(Concatenate()([SimpleRNN(3, dtype="float64")(a), b]))
        model = Model([a, b], out)
        model.compile(optimizer="sgd", loss="mse")
        return model

    reference = build()
    reference.fit([X, Y], Y, batch_size=BS, shuffle=False, verbose=0)
    model = build()
    quiet_fit(model, (([X[i:i + BS], Y[i:i + BS]], Y[i:i + BS]) for i in range(0, 20, BS)))
    assert weights_of(model) == weights_of(reference)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' "ran out of data" at the generator's end
        predicted = model.predict((([X[i:i + BS], Y[i:i + BS]],) for i in range(0, 20, BS)), verbose=0)
    np.testing.assert_array_equal(predicted, model.predict([X, Y], verbose=0))


def test_predict_concatenates_and_evaluate_matches_arrays():
    model = make_model()
    quiet_fit(model, list(batches()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predicted = model.predict((x for x, _ in batches()), verbose=0)  # bare arrays: x alone
        evaluated = model.evaluate(batches(), verbose=0)
    np.testing.assert_array_equal(predicted, model.predict(X, batch_size=BS, verbose=0))
    assert evaluated == model.evaluate(X, Y, batch_size=BS, verbose=0)
    assert model.predict(Batches(), verbose=0).shape == (20, 2)
    assert model.predict(endless(), steps=2, verbose=0).shape == (8, 2)
    assert sum("ran out of data" in str(w.message) for w in caught) == 2  # Keras warns for an ended generator


# ----------------------------------------------------------------------------------- errors
def test_errors_name_what_was_given():
    model = make_model()
    with pytest.raises(ConfigError, match="`y` should not be passed"):
        model.fit(batches(), Y, verbose=0)
    with pytest.raises(ConfigError, match="batch_size.*must not be given when `x` is a generator"):
        model.fit(batches(), batch_size=4, verbose=0)
    with pytest.raises(ConfigError, match="holds no targets"):
        quiet_fit(model, ((x,) for x, _ in batches()))
    with pytest.raises(ShapeError, match="must be a tuple .* got int"):
        quiet_fit(model, iter([1, 2]))
    with pytest.raises(ShapeError, match="gave no batches"):
        quiet_fit(model, iter([]))
    with pytest.raises(ConfigError, match="steps_per_epoch must be None or a positive integer; got 0"):
        model.fit(X, Y, steps_per_epoch=0, verbose=0)
    with pytest.raises(ConfigError, match="validation_freq"):
        model.fit(X, Y, validation_freq=0, verbose=0)
    assert Sequence is PyDataset


# ----------------------------------------------------------------------------------- resume
class CrashAfter(Callback):
    def __init__(self, steps):
        super().__init__()
        self.steps, self.done = steps, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done == self.steps:
            raise KeyboardInterrupt


@pytest.mark.parametrize("steps_per_epoch", [None, 3])
def test_pydataset_fit_resumes_at_the_saved_batch(tmp_path, steps_per_epoch):
    def run(folder, crash=None):
        model = make_model()
        callbacks = [BackupAndRestore(folder, save_freq=1, delete_checkpoint=False)] + ([crash] if crash else [])
        model.fit(Batches(), epochs=3, steps_per_epoch=steps_per_epoch, verbose=0, callbacks=callbacks)
        return model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = weights_of(run(tmp_path / "whole"))
        with pytest.raises(KeyboardInterrupt):
            run(tmp_path / "crashed", CrashAfter(7))  # inside the second epoch (shuffled batch order)
        assert weights_of(run(tmp_path / "crashed")) == expected


# ----------------------------------------------------------------------------------- Keras behaviour
class Record(Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("train", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.events.append(("test", batch))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch", epoch, tuple(sorted(logs))))


def behaviour(library, make_data, **kwargs):
    """What one fit call does: its callback events, history lengths, PyDataset hook counts, warnings."""
    if library == "keras":
        import keras

        class KerasBatches(Recorded, keras.utils.PyDataset):
            def __init__(self, count=5):
                keras.utils.PyDataset.__init__(self)
                self._setup(count)

        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4, 3)), keras.layers.SimpleRNN(5), keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        record = keras.callbacks.Callback()
        record.events = []
        for name in ("on_train_batch_end", "on_test_batch_end", "on_epoch_end"):
            setattr(record, name, getattr(Record, name).__get__(record))
        dataset_class = KerasBatches
    else:
        model, record, dataset_class = make_model(), Record(), Batches
    data = {key: (value(dataset_class) if callable(value) else value) for key, value in make_data().items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(verbose=0, callbacks=[record], **data, **kwargs)
    datasets = [v for v in data.values() if hasattr(v, "calls")]
    return {
        "events": record.events,
        "history": {k: len(v) for k, v in history.history.items()},
        "hooks": [(d.begins, d.ends, len(d.calls)) for d in datasets],
        "ran_out": sum("ran out of data" in str(w.message) for w in caught),
        "shuffle_warning": sum("will be ignored" in str(w.message) for w in caught),
    }


SCENARIOS = {
    "generator, one epoch": (lambda: {"x": batches()}, {}),
    "generator, steps_per_epoch, runs out in epoch 3": (lambda: {"x": batches()}, {"epochs": 3, "steps_per_epoch": 2}),
    "endless generator with validation generator": (
        lambda: {"x": endless(), "validation_data": endless()},
        {"epochs": 2, "steps_per_epoch": 3, "validation_steps": 2}),
    "PyDataset, no shuffle": (lambda: {"x": lambda cls: cls()}, {"epochs": 2, "shuffle": False}),
    "PyDataset, shuffled": (lambda: {"x": lambda cls: cls()}, {"epochs": 2}),
    "PyDataset, steps_per_epoch 3 of 5": (lambda: {"x": lambda cls: cls()}, {"epochs": 3, "steps_per_epoch": 3,
                                                                             "shuffle": False}),
    "PyDataset, steps_per_epoch beyond its length": (lambda: {"x": lambda cls: cls(2)},
                                                     {"epochs": 2, "steps_per_epoch": 3, "shuffle": False}),
    "arrays, steps_per_epoch 3 of 5": (lambda: {"x": X, "y": Y}, {"epochs": 3, "steps_per_epoch": 3, "batch_size": 4,
                                                                 "shuffle": False}),
    "arrays, steps_per_epoch sets the batch size": (lambda: {"x": X, "y": Y}, {"epochs": 2, "steps_per_epoch": 3}),
    "PyDataset validation, validation_freq 2": (
        lambda: {"x": endless(), "validation_data": lambda cls: cls(3)},
        {"epochs": 4, "steps_per_epoch": 2, "validation_freq": 2}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_steps_hooks_keys_and_warnings_as_keras(name):
    make_data, kwargs = SCENARIOS[name]
    ours = behaviour("rnnkit", make_data, **kwargs)
    theirs = behaviour("keras", make_data, **kwargs)
    assert ours == theirs


def test_exhausted_generator_stops_training_where_keras_replays_its_peeked_batches():
    """Keras 3 peeks two batches of a generator and replays them in every later epoch (it trains on the same
    two batches again); a generator cannot be read twice, so rnnkit stops after the epoch in which it ran out."""
    ours = behaviour("rnnkit", lambda: {"x": batches()}, epochs=3)
    theirs = behaviour("keras", lambda: {"x": batches()}, epochs=3)
    train_steps = [e for e in theirs["events"] if e[0] == "train"]
    assert [s for _, s in train_steps] == [0, 1, 2, 3, 4, 0, 1, 0, 1]  # Keras: 5 steps, then the 2 peeked ones
    assert ours["events"] == theirs["events"][:6]  # the first epoch, the same
    assert ours["history"] == {"loss": 1, "mae": 1} and ours["ran_out"] == 1


class Terminal:
    """A stream that says it is a terminal, so that verbose=1 draws tqdm bars."""

    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass

    def isatty(self):
        return True


def test_progress_bar_counts_up_without_a_total_for_a_generator():
    from rnnkit.callbacks.progress import ProgressBar

    known, unknown = Terminal(), Terminal()
    quiet_fit(make_model(), Batches(), callbacks=[ProgressBar(verbose=1, file=known)], shuffle=False)
    quiet_fit(make_model(), batches(), callbacks=[ProgressBar(verbose=1, file=unknown)])
    assert "5/5" in known.text
    assert "5/5" not in unknown.text and "5/Unknown" in unknown.text  # a count, no total (Keras' words)


def test_generator_fed_fit_resumes_at_the_saved_epoch_and_step(tmp_path):
    """A generator cannot be rewound: a resumed fit continues at the saved epoch and step, reading the new
    generator from its start (see docs/keras_compat.md)."""
    seen = []

    class Count(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((len(self.model.history.epoch) if self.model.history else None, batch))

    def run(crash=None):
        model = make_model()
        callbacks = [BackupAndRestore(tmp_path, save_freq=1), Count()] + ([crash] if crash else [])
        return quiet_fit(model, endless(), epochs=3, steps_per_epoch=4, callbacks=callbacks)

    with pytest.raises(KeyboardInterrupt):
        run(CrashAfter(6))  # epoch 2, step 2 saved
    seen.clear()
    history = run()
    assert len(seen) == 12 - 6 and [step for _, step in seen] == [2, 3, 0, 1, 2, 3]
    assert history.epoch == [0, 1, 2]


def test_evaluate_predict_and_a_second_fit_call_the_pydataset_hooks_as_keras():
    import keras

    class KerasBatches(Recorded, keras.utils.PyDataset):
        def __init__(self, count=5):
            keras.utils.PyDataset.__init__(self)
            self._setup(count)

    def keras_model():
        model = keras.Sequential([keras.Input((4, 3)), keras.layers.SimpleRNN(5), keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        return model

    def hooks(make, dataset_class):
        counts = []
        model = make()
        for call in (lambda d: model.evaluate(d, verbose=0), lambda d: model.evaluate(d, steps=2, verbose=0),
                     lambda d: model.predict(d, verbose=0)):
            data = dataset_class()
            call(data)
            counts.append((data.begins, data.ends, len(data.calls)))
        model, data = make(), dataset_class()
        quiet_fit(model, data, shuffle=False)
        quiet_fit(model, data, shuffle=False)  # the metrics are built: no extra read this time
        return counts + [(data.begins, data.ends, len(data.calls))]

    assert hooks(make_model, Batches) == hooks(keras_model, KerasBatches)


def test_shuffled_arrays_with_steps_per_epoch_resume_bit_for_bit(tmp_path):
    def run(folder, crash=None):
        model = make_model()
        callbacks = [BackupAndRestore(folder, save_freq=1, delete_checkpoint=False)] + ([crash] if crash else [])
        quiet_fit(model, X, y=Y, batch_size=BS, epochs=3, steps_per_epoch=3, callbacks=callbacks)
        return model

    expected = weights_of(run(tmp_path / "whole"))
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "crashed", CrashAfter(4))  # epoch 2, inside the first pass (shuffled samples)
    assert weights_of(run(tmp_path / "crashed")) == expected
