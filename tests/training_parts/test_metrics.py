"""Stateful metrics: hand-computed values, accumulation across batches, weighting, and Keras' 'accuracy' choice."""
import numpy as np
import pytest

from rnnkit import Tensor, losses, metrics
from rnnkit.errors import ConfigError, ShapeError


def test_categorical_accuracy_accumulates_over_batches_and_resets():
    m = metrics.CategoricalAccuracy()
    m.update_state(np.array([[0, 1, 0], [1, 0, 0]]), np.array([[0.1, 0.8, 0.1], [0.2, 0.7, 0.1]]))  # 1 of 2
    m.update_state(np.array([[0, 0, 1]]), np.array([[0.0, 0.1, 0.9]]))  # 1 of 1
    assert m.result() == pytest.approx(2 / 3)
    assert isinstance(m.result(), float)
    m.reset_state()
    assert m.result() == 0.0


def test_sparse_categorical_accuracy_on_sequences():
    y_pred = np.zeros((2, 3, 4))
    y_pred[0, :, 1] = 1  # predicts class 1 everywhere in the first sequence
    y_pred[1, :, 2] = 1
    y_true = np.array([[1, 1, 0], [2, 3, 2]])
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(y_true, y_pred)
    assert m.result() == pytest.approx(4 / 6)
    m2 = metrics.SparseCategoricalAccuracy()
    m2.update_state(y_true[..., None], Tensor(y_pred))  # (B, T, 1) labels, Tensor predictions
    assert m2.result() == pytest.approx(4 / 6)


def test_binary_accuracy_threshold():
    y_true = np.array([[1], [1], [0], [0]])
    y_pred = np.array([[0.98], [0.4], [0.1], [0.6]])
    m = metrics.BinaryAccuracy()
    m.update_state(y_true, y_pred)
    assert m.result() == 0.5
    strict = metrics.BinaryAccuracy(threshold=0.3)
    strict.update_state(y_true[:, 0], y_pred)  # (B,) labels against (B, 1) predictions
    assert strict.result() == 0.75  # 0.4 now counts as 1


def test_accuracy_exact_match():
    m = metrics.Accuracy()
    m.update_state(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 0]))
    assert m.result() == 0.5


def test_regression_metrics():
    y_true = np.array([[0.0, 1.0], [2.0, 2.0]])
    y_pred = np.array([[1.0, 3.0], [2.0, 1.0]])
    mse, mae = metrics.MeanSquaredError(), metrics.MeanAbsoluteError()
    mse.update_state(y_true, y_pred)
    mae.update_state(y_true, y_pred)
    assert mse.result() == pytest.approx(((1 + 4) / 2 + (0 + 1) / 2) / 2)
    assert mae.result() == pytest.approx(((1 + 2) / 2 + (0 + 1) / 2) / 2)


def test_mean_weighted_by_batch_size():
    m = metrics.Mean(name="loss")
    m.update_state(0.5, sample_weight=32)
    m.update_state(2.0, sample_weight=8)
    assert m.result() == pytest.approx((0.5 * 32 + 2.0 * 8) / 40)
    m.update_state(np.array([1.0, 3.0]))
    assert m.result() == pytest.approx((0.5 * 32 + 2.0 * 8 + 4.0) / 42)


def test_sample_weight_masks_steps():
    y_true = np.array([[1, 0]])
    y_pred = np.array([[[0.1, 0.9], [0.2, 0.8]]])  # right, wrong
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(y_true, y_pred, sample_weight=np.array([[1.0, 0.0]]))
    assert m.result() == 1.0
    with pytest.raises(ShapeError, match="sample_weight"):
        m.update_state(y_true, y_pred, sample_weight=np.ones(3))


def test_shape_errors_name_the_shapes():
    with pytest.raises(ShapeError, match=r"\(2,\)"):
        metrics.SparseCategoricalAccuracy().update_state(np.array([0, 1]), np.zeros((3, 2)))
    with pytest.raises(ShapeError, match="one-hot"):
        metrics.CategoricalAccuracy().update_state(np.array([0, 1]), np.zeros((2, 2)))


@pytest.mark.parametrize(
    "loss,y_true_shape,y_pred_shape,expected",
    [
        ("sparse_categorical_crossentropy", None, None, metrics.SparseCategoricalAccuracy),
        (losses.SparseCategoricalCrossentropy(from_logits=True), None, None, metrics.SparseCategoricalAccuracy),
        ("binary_crossentropy", None, None, metrics.BinaryAccuracy),
        (losses.BinaryCrossentropy(), (8, 3), (8, 3), metrics.BinaryAccuracy),
        ("categorical_crossentropy", None, None, metrics.CategoricalAccuracy),
        (losses.categorical_crossentropy, None, None, metrics.CategoricalAccuracy),
        ("mse", (8, 1), (8, 1), metrics.BinaryAccuracy),
        ("mse", (8,), (8, 5), metrics.SparseCategoricalAccuracy),
        ("mse", (8, 1), (8, 5), metrics.SparseCategoricalAccuracy),
        (None, (8, 5), (8, 5), metrics.CategoricalAccuracy),
        (None, (8, 1), None, metrics.BinaryAccuracy),
        (None, (8,), None, metrics.SparseCategoricalAccuracy),
        (None, None, None, metrics.CategoricalAccuracy),
    ],
)
def test_accuracy_resolution_follows_keras(loss, y_true_shape, y_pred_shape, expected):
    m = metrics.get("accuracy", loss=loss, y_true_shape=y_true_shape, y_pred_shape=y_pred_shape)
    assert type(m) is expected and m.name == "accuracy"


def test_get_names_and_instances():
    assert metrics.get("acc", loss="binary_crossentropy").name == "acc"
    assert type(metrics.get("mae")) is metrics.MeanAbsoluteError and metrics.get("mae").name == "mae"
    assert type(metrics.get("mean_squared_error")) is metrics.MeanSquaredError
    assert type(metrics.get("sparse_categorical_accuracy")) is metrics.SparseCategoricalAccuracy
    m = metrics.BinaryAccuracy(threshold=0.7)
    assert metrics.get(m) is m
    with pytest.raises(ConfigError, match="'mae'"):
        metrics.get("f1")
    assert metrics.CategoricalAccuracy().direction == "up" and metrics.MeanSquaredError().direction == "down"
