"""rnnkit sentiment: data files and their errors, stratified folds, end to end on a slice of the real UCI data,
predict from the saved file, --resume, and that nothing is learned from the test part."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.errors import DataError
from rnnkit.tasks import sentiment
from rnnkit.tasks.sentiment import SentimentConfig, Split, predict, predict_with, save_models, train_split
from rnnkit.tasks.sentiment_data import read_labelled, stratified_folds, stratified_split

SOURCES = ("amazon_cells", "imdb", "yelp")
SMALL = dict(units=4, embedding_dim=4, epochs=2, baseline_epochs=2, patience=1, batch_size=32, ensemble=1)


def small_flags():
    return [word for key, value in SMALL.items() for word in (f"--{key.replace('_', '-')}", str(value))]


@pytest.fixture(scope="module")
def slices(shared_data, tmp_path_factory):
    """The first 40 positive and 40 negative sentences of each UCI file, as files of the same format."""
    folder = tmp_path_factory.mktemp("sentiment_data")
    paths = []
    for source in SOURCES:
        lines = (shared_data / "sentiment" / f"{source}_labelled.txt").read_text(encoding="utf-8").split("\n")
        by_label = {"0": [], "1": []}
        for line in lines:
            if line.strip():
                by_label[line.rsplit("\t", 1)[1].strip()].append(line)
        path = folder / f"{source}.txt"
        path.write_text("\n".join(by_label["0"][:40] + by_label["1"][:40]) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths


def run_cli(capsys, *argv):
    status = main(["sentiment", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# ---------------------------------------------------------------------------------------------- files
def test_reads_the_real_files_whole(shared_data):
    # the IMDb file holds NEL (U+0085) characters inside sentences: lines must end at '\n' only
    texts, labels = read_labelled(str(shared_data / "sentiment" / "imdb_labelled.txt"))
    assert len(texts) == 1000 and sorted(set(labels)) == [0, 1] and sum(labels) == 500


@pytest.mark.parametrize("content, message", [
    (None, "no such data file"),
    ("", "holds no labelled sentences"),
    ("\n\n  \n", "holds no labelled sentences"),
    ("fine phone\t1\nterrible\t2\n", "line 2: the label is '2'; labels must be 0 or 1"),
    ("fine phone\t1\nno tab here 0\n", "line 2: no tab"),
    ("fine phone\tpositive\n", "line 1: the label is 'positive'"),
    (b"\x00\x01\x02binary", "is a binary file"),
])
def test_bad_files_are_one_line_errors(tmp_path, capsys, content, message):
    path = tmp_path / "data.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    status, out, err = run_cli(capsys, "train", "--data", str(path), "--out", str(tmp_path / "run"))
    assert status == 1
    assert err.startswith("rnnkit: error: ") and err.count("\n") == 1
    assert message in err and str(path) in err
    assert not (tmp_path / "run" / "model.rnnkit").exists()


def test_bad_flags_are_usage_errors(tmp_path, slices, capsys):
    for argv in (["--data", slices[0], "--cv", "1"], ["--data", slices[0], "--dropout", "1.5"],
                 ["--data", slices[0], "--cv", "3", "--test-data", slices[1]], ["--out", str(tmp_path)]):
        with pytest.raises(SystemExit) as stopped:
            main(["sentiment", "train", *argv])
        assert stopped.value.code == 2
    capsys.readouterr()


def test_missing_test_file_and_too_many_folds(tmp_path, slices, capsys):
    status, _, err = run_cli(capsys, "train", "--data", slices[0], "--test-data", str(tmp_path / "none.txt"),
                             "--out", str(tmp_path / "a"))
    assert status == 1 and "no such data file" in err and "none.txt" in err
    status, _, err = run_cli(capsys, "train", "--data", slices[0], "--cv", "50", "--out", str(tmp_path / "b"))
    assert status == 1 and "--cv 50 needs at least 50 sentences of each label" in err


# ---------------------------------------------------------------------------------------------- folds
@pytest.mark.parametrize("k, negatives, positives", [(5, 500, 500), (5, 103, 61), (3, 10, 7), (10, 1500, 1500)])
def test_stratified_folds_keep_the_class_ratio_are_disjoint_and_cover(k, negatives, positives):
    labels = np.array([0] * negatives + [1] * positives)
    np.random.default_rng(0).shuffle(labels)
    folds = stratified_folds(labels, k, seed=3)
    members = [np.flatnonzero(folds == f) for f in range(k)]
    assert sorted(np.concatenate(members).tolist()) == list(range(len(labels)))  # disjoint and covering
    for index in members:
        for label, total in ((0, negatives), (1, positives)):
            assert total // k <= (labels[index] == label).sum() <= -(-total // k)  # within one of n_c / k
        assert abs(len(index) - len(labels) / k) <= 1
    assert np.array_equal(folds, stratified_folds(labels, k, seed=3))  # seeded
    assert not np.array_equal(folds, stratified_folds(labels, k, seed=4))


def test_stratified_split_holds_out_each_class_in_proportion():
    labels = np.array([0] * 300 + [1] * 100)
    kept, held = stratified_split(np.arange(400), labels, 0.1, seed=0)
    assert len(np.intersect1d(kept, held)) == 0 and len(kept) + len(held) == 400
    assert (labels[held] == 0).sum() == 30 and (labels[held] == 1).sum() == 10


# ---------------------------------------------------------------------------------------- end to end
def test_cli_cross_validation_end_to_end(tmp_path, slices, capsys):
    out = tmp_path / "run"
    status, stdout, _ = run_cli(capsys, "train", "--data", *slices, "--out", str(out), "--cv", "3",
                                *small_flags())
    assert status == 0
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("test_accuracy=") and " baseline_accuracy=" in last
    report = json.loads((out / "report.json").read_text())
    folds = report["folds"]
    assert [f["name"] for f in folds] == ["fold_1", "fold_2", "fold_3"] and sum(f["test"] for f in folds) == 240
    assert report["test_accuracy"] == pytest.approx(np.mean([f["test_accuracy"] for f in folds]))
    assert report["baseline_accuracy"] == pytest.approx(np.mean([f["baseline_accuracy"] for f in folds]))
    assert report["test_accuracy_std"] == pytest.approx(np.std([f["test_accuracy"] for f in folds]))
    assert last == f"test_accuracy={report['test_accuracy']:.4f} baseline_accuracy={report['baseline_accuracy']:.4f}"
    assert all(f["train"] + f["validation"] == 160 for f in folds)  # validation carved from the training folds
    assert report["split"]["kind"] == "stratified_cv" and report["saved_model"]["trained_on"] == "final"
    assert [row["sentences"] for row in report["data"]] == [80, 80, 80]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    status, stdout, _ = run_cli(capsys, "predict", str(out / "model.rnnkit"), "the battery died after a day",
                                "great food")
    assert status == 0
    lines = stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(("label=0 (negative) probability=", "label=1 (positive) probability="))

    status, _, err = run_cli(capsys, "train", "--data", *slices, "--out", str(out), "--cv", "3")
    assert status == 1 and "already holds a trained model" in err


def test_test_file_and_holdout_runs(tmp_path, slices, capsys):
    status, stdout, _ = run_cli(capsys, "train", "--data", slices[0], slices[2], "--test-data", slices[1],
                                "--out", str(tmp_path / "cross_source"), *small_flags())
    report = json.loads((tmp_path / "cross_source" / "report.json").read_text())
    assert status == 0 and report["folds"][0]["test"] == 80 and report["split"]["kind"] == "test_file"
    status, stdout, _ = run_cli(capsys, "train", "--data", slices[0], "--out", str(tmp_path / "holdout"),
                                "--cell", "gru", *small_flags())
    report = json.loads((tmp_path / "holdout" / "report.json").read_text())
    assert status == 0 and report["folds"][0]["test"] == 16 and report["config"]["cell"] == "gru"


def test_predict_from_the_saved_file_equals_the_in_memory_models(tmp_path, slices):
    texts, labels = [], []
    for path in slices[:2]:
        t, y = read_labelled(path)
        texts += t
        labels += y
    labels = np.array(labels)
    config = SentimentConfig(data=slices[:2], out=str(tmp_path), min_count=1, **dict(SMALL, ensemble=2))
    split = Split("holdout", np.arange(0, 160, 2), np.arange(1, 160, 2), seed=0)
    result, models, vocabulary = train_split(texts, labels, split, config, str(tmp_path / "runs"), log=None)
    save_models(str(tmp_path / "model.rnnkit"), models, vocabulary, config)
    queries = ["the battery died after a day", "Great phone, love it!!", "", "zzz unknown words only",
               texts[1]]
    in_memory = predict_with(models, sentiment.sequence_vectorizer(vocabulary, config.max_length), queries)
    from_file = predict(str(tmp_path / "model.rnnkit"), queries)
    assert [label for label, _ in from_file] == [label for label, _ in in_memory]
    np.testing.assert_allclose([p for _, p in from_file], [p for _, p in in_memory], rtol=0, atol=1e-7)
    # the saved ensemble average is what the test accuracy was computed from
    test_labels = [label for label, _ in predict(str(tmp_path / "model.rnnkit"), [texts[i] for i in split.test])]
    assert np.mean(np.array(test_labels) == labels[split.test]) == pytest.approx(result["test_accuracy"])


def test_vocabulary_comes_from_the_training_part_only(tmp_path, slices):
    texts, labels = read_labelled(slices[0])
    labels = np.array(labels)
    test = np.arange(0, 80, 4)
    train = np.setdiff1d(np.arange(80), test)
    texts = list(texts)
    for i in test:  # words that occur only in test sentences
        texts[i] = texts[i] + " zzqtestonly zzqtestonly"
    config = SentimentConfig(data=slices[:1], out=str(tmp_path), min_count=1, **SMALL)
    _, _, vocabulary = train_split(texts, labels, Split("fold", train, test, 0), config, str(tmp_path / "r"),
                                   log=None)
    assert "zzqtestonly" not in vocabulary and "battery" in vocabulary


def test_resume_skips_finished_folds(tmp_path, slices, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", slices[0], "--out", str(out), "--cv", "2", *small_flags()]
    assert run_cli(capsys, *argv)[0] == 0
    first = json.loads((out / "report.json").read_text())
    for name in ("model.rnnkit", "report.json"):  # as if stopped during fold 2
        (out / name).unlink()
    (out / "runs" / "fold_2" / "result.json").unlink()
    status, _, err = run_cli(capsys, *argv)
    assert status == 1 and f"--resume {out}" in err  # refuses to start over on an unfinished run
    status, stdout, _ = run_cli(capsys, "train", "--resume", str(out))
    assert status == 0 and "fold_1: finished earlier" in stdout
    again = json.loads((out / "report.json").read_text())
    accuracies = [(f["test_accuracy"], f["baseline_accuracy"]) for f in first["folds"]]
    assert [(f["test_accuracy"], f["baseline_accuracy"]) for f in again["folds"]] == accuracies  # seeded
    assert (out / "model.rnnkit").exists()
    status, _, err = run_cli(capsys, "train", "--resume", str(out), "--units", "9")
    assert status == 1 and "--units 9 (saved: 4)" in err


def test_load_refuses_other_files(tmp_path):
    with pytest.raises(DataError):
        predict(str(tmp_path / "absent.rnnkit"), ["text"])
