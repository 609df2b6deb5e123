"""``timeseries_dataset_from_array`` against Keras 3's own (its backend-free ``format="grain"`` path, the same
window starts and targets as its ``tf.data`` path), and ``fit``/``evaluate``/``predict`` taking the dataset."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.errors import ConfigError
from rnnkit.utils import timeseries_dataset_from_array


def keras_batches(*args, **kwargs):
    import keras

    dataset = keras.utils.timeseries_dataset_from_array(*args, format="grain", **kwargs)
    out = []
    for batch in dataset:
        if isinstance(batch, (tuple, list)):
            out.append(tuple(np.asarray(b) for b in batch))
        else:
            out.append(np.asarray(batch))
    return out


def ours(*args, **kwargs):
    return list(timeseries_dataset_from_array(*args, **kwargs))


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, tuple):
            assert isinstance(y, tuple) and len(x) == len(y)
            for u, v in zip(x, y):
                np.testing.assert_array_equal(u, v)
        else:
            np.testing.assert_array_equal(x, y)


def samples(batches, batched=True):
    """Every window (with its target) as a hashable tuple: the multiset of a pass."""
    out = []
    for batch in batches:
        parts = batch if isinstance(batch, tuple) else (batch,)
        rows = zip(*parts) if batched else [parts]
        for row in rows:
            # as float64: grain batches float64 scalar targets as float32
            out.append(tuple(np.asarray(p, dtype=np.float64).tobytes() for p in row))
    return sorted(out)


GRID = list(itertools.product(
    [1, 3, 7],          # sequence_length
    [1, 2, 5],          # sequence_stride
    [1, 2],             # sampling_rate
    [1, 4, None],       # batch_size
    [None, 3],          # start_index
    [None, 35],         # end_index
    [True, False],      # with targets
))


@pytest.mark.parametrize("length,stride,rate,batch,start,end,with_targets", GRID)
def test_equal_to_keras_over_a_grid(length, stride, rate, batch, start, end, with_targets):
    data = np.arange(40 * 2, dtype=np.float32).reshape(40, 2) * 1.5  # (T, 2)
    targets = np.arange(40, dtype=np.int64) * 10 if with_targets else None
    kwargs = dict(sequence_length=length, sequence_stride=stride, sampling_rate=rate, batch_size=batch,
                  start_index=start, end_index=end)
    assert_same_batches(ours(data, targets, **kwargs), keras_batches(data, targets, **kwargs))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 30), features=st.integers(0, 3), length=st.integers(1, 8), stride=st.integers(1, 6),
       rate=st.integers(1, 4), batch=st.one_of(st.none(), st.integers(1, 9)), start=st.integers(0, 10),
       end=st.integers(0, 30), target_shift=st.integers(0, 5), with_targets=st.booleans())
def test_equal_to_keras_random_arguments(n, features, length, stride, rate, batch, start, end, target_shift,
                                         with_targets):
    rng = np.random.default_rng(n * 1000 + length)
    shape = (n,) if features == 0 else (n, features)
    data = rng.normal(size=shape).astype(np.float32)
    targets = rng.normal(size=(n - min(target_shift, n - 1),)).astype(np.float32) if with_targets else None
    start = start if start < n else None
    end = end if 0 < end < n and (start is None or end > start) else None
    kwargs = dict(sequence_length=length, sequence_stride=min(stride, n - 1), sampling_rate=min(rate, n - 1),
                  batch_size=batch, start_index=start, end_index=end)
    try:
        expected = keras_batches(data, targets, **kwargs)
    except IndexError:  # Keras indexes past the end of a too-short `targets`; we say so instead
        with pytest.raises(ValueError, match="targets"):
            ours(data, targets, **kwargs)
        return
    assert_same_batches(ours(data, targets, **kwargs), expected)


@pytest.mark.parametrize("batch", [1, 3, 5, None])
@pytest.mark.parametrize("seed", [0, 7, 1234])
def test_shuffle_serves_the_same_windows_as_keras(batch, seed):
    data = np.arange(50 * 3, dtype=np.float64).reshape(50, 3)  # (T, 3)
    targets = np.arange(50, dtype=np.float64) ** 2
    kwargs = dict(sequence_length=4, sequence_stride=2, sampling_rate=1, batch_size=batch, shuffle=True, seed=seed)
    got, expected = ours(data, targets, **kwargs), keras_batches(data, targets, **kwargs)
    assert [len(b[0]) for b in got] == [len(b[0]) for b in expected]  # same batch sizes
    assert samples(got, batch is not None) == samples(expected, batch is not None)  # same windows, same targets
    unshuffled = ours(data, targets, **{**kwargs, "shuffle": False})
    assert samples(got, batch is not None) == samples(unshuffled, batch is not None)
    if batch is not None:  # and actually shuffled (windows pair with their own targets: checked above)
        assert not np.array_equal(np.concatenate([b[1] for b in got]), np.concatenate([b[1] for b in unshuffled]))


def test_shuffle_order_is_keras_start_order_and_repeatable():
    data = np.arange(30.0)
    dataset = timeseries_dataset_from_array(data, data, sequence_length=3, batch_size=4, shuffle=True, seed=5)
    starts = np.arange(0, 28)
    np.random.RandomState(5).shuffle(starts)  # Keras' first stage, written out
    served = np.concatenate([y for _, y in dataset])
    np.testing.assert_array_equal(served, data[starts])
    np.testing.assert_array_equal(np.concatenate([y for _, y in dataset]), served)  # same on a second pass


@pytest.mark.parametrize("kwargs,message", [
    (dict(sequence_length=3, start_index=-2), "`start_index` must be 0 or greater"),
    (dict(sequence_length=3, start_index=20), "`start_index` must be lower than the length of the data"),
    (dict(sequence_length=3, start_index=5, end_index=5), "`end_index` must be higher than `start_index`"),
    (dict(sequence_length=3, end_index=20), "`end_index` must be lower than the length of the data"),
    (dict(sequence_length=3, end_index=-1), "`end_index` must be higher than 0"),
    (dict(sequence_length=3, sampling_rate=0), "`sampling_rate` must be higher than 0"),
    (dict(sequence_length=3, sampling_rate=20), "`sampling_rate` must be lower than the length of the data"),
    (dict(sequence_length=3, sequence_stride=0), "`sequence_stride` must be higher than 0"),
    (dict(sequence_length=3, sequence_stride=10), "`sequence_stride` must be lower than the length of the data"),
])
def test_errors_as_keras(kwargs, message):
    data = np.arange(10.0)
    import keras

    with pytest.raises(ValueError, match=message):
        keras.utils.timeseries_dataset_from_array(data, None, format="grain", **kwargs)
    with pytest.raises(ConfigError, match=message):
        timeseries_dataset_from_array(data, None, **kwargs)


def test_non_integer_arguments_are_refused():
    with pytest.raises(ConfigError, match="sequence_length"):
        timeseries_dataset_from_array(np.arange(10.0), None, sequence_length=2.5)


def _model(seed):
    from rnnkit.layers import Dense, LSTM
    from rnnkit.models import Sequential
    from rnnkit.utils import set_random_seed

    set_random_seed(seed)
    model = Sequential([LSTM(4, input_shape=(5, 2)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_fit_evaluate_predict_take_the_dataset_as_its_arrays():
    rng = np.random.default_rng(0)
    series = rng.normal(size=(60, 2)).astype(np.float32)  # (T, 2)
    targets = series[5:, :1]  # next step's first feature
    dataset = timeseries_dataset_from_array(series[:-5], targets, sequence_length=5, batch_size=8)
    x = np.stack([series[i:i + 5] for i in range(51)])  # (51, 5, 2) written out: windows inside series[:-5]
    y = targets[:51]
    a = _model(3)  # weights are made lazily from the global seed: make and train one model, then the other
    history_a = a.fit(dataset, epochs=2, verbose=0)
    b = _model(3)
    history_b = b.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert history_a.history["loss"] == history_b.history["loss"]
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert a.evaluate(dataset, verbose=0) == b.evaluate(x, y, batch_size=8, verbose=0)
    np.testing.assert_array_equal(a.predict(dataset, verbose=0), b.predict(x, verbose=0))
    inputs_only = timeseries_dataset_from_array(series[:-5], None, sequence_length=5, batch_size=8)
    np.testing.assert_array_equal(a.predict(inputs_only, verbose=0), b.predict(x, verbose=0))
    a.fit(dataset, epochs=1, validation_data=dataset, verbose=0)
    assert "val_loss" in a.history.history


def test_fit_refuses_y_or_batch_size_beside_a_dataset():
    dataset = timeseries_dataset_from_array(np.zeros((20, 2)), np.zeros((20, 1)), sequence_length=5, batch_size=4)
    model = _model(0)
    with pytest.raises(ConfigError, match="`y` must not be given"):
        model.fit(dataset, np.zeros((16, 1)), verbose=0)
    with pytest.raises(ConfigError, match="`batch_size` must not be given"):
        model.fit(dataset, batch_size=4, verbose=0)
    single = timeseries_dataset_from_array(np.zeros((20, 2)), np.zeros((20, 1)), sequence_length=5, batch_size=None)
    with pytest.raises(ConfigError, match="batch_size=None"):
        model.fit(single, verbose=0)
