"""``rnnkit forecast``: no leakage from the test period, one-line CSV errors, end to end on the airline series."""
import csv
import json
import math
import os

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.models import load_model

FAST = ["--epochs", "3", "--units", "8", "--patience", "0"]


def airline(shared_data):
    return str(shared_data / "timeseries" / "airline-passengers.csv")


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header] + rows)
    return str(path)


def run_cli(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def weights_of(out):
    return load_model(os.path.join(out, "model.rnnkit")).get_weights()


@pytest.mark.parametrize("transform,extra", [("none", []), ("log-diff", ["--model", "gru"])])
def test_changing_the_test_period_leaves_the_weights_bitwise_unchanged(shared_data, tmp_path, capsys, transform,
                                                                      extra):
    header, rows = read_csv(airline(shared_data))
    test_size = 24
    changed = [row[:] for row in rows]
    for row in changed[-test_size:]:
        row[1] = str(float(row[1]) * 1.7 + 50)  # every value of the test period, changed
    changed[-5][1] = "NA"  # and a missing one among them
    original = write_csv(tmp_path / "a.csv", header, rows)
    modified = write_csv(tmp_path / "b.csv", header, changed)
    common = ["--target", "Passengers", "--horizon", "12", "--test-size", str(test_size), "--transform", transform,
              *FAST, *extra]
    outs = []
    for name, path in (("a", original), ("b", modified)):
        out = str(tmp_path / f"out-{name}")
        code, stdout, _ = run_cli(["forecast", "train", "--csv", path, "--out", out, *common], capsys)
        assert code == 0
        outs.append(out)
    for wa, wb in zip(weights_of(outs[0]), weights_of(outs[1])):
        assert wa.tobytes() == wb.tobytes()
    reports = [json.load(open(os.path.join(out, "report.json"))) for out in outs]
    assert reports[0]["validation"] == reports[1]["validation"]  # validation comes before the test period
    assert reports[0]["test"]["model"]["mae"] != reports[1]["test"]["model"]["mae"]  # the test did change
    assert "1 missing value(s) of Passengers filled with the last observed value" in reports[1]["notes"]


def test_end_to_end_on_the_airline_series(shared_data, tmp_path, capsys):
    out = str(tmp_path / "run")
    code, stdout, _ = run_cli(["forecast", "train", "--csv", airline(shared_data), "--target", "Passengers",
                               "--horizon", "12", "--test-size", "24", "--out", out, *FAST], capsys)
    assert code == 0
    lines = stdout.strip().splitlines()
    assert "training    1949-01 .. 1956-12  (96 steps)" in lines
    assert "validation  1957-01 .. 1958-12  (24 steps)" in lines
    assert "test        1959-01 .. 1960-12  (24 steps)" in lines
    last = dict(part.split("=") for part in lines[-1].split())
    assert list(last) == ["test_mase", "naive_mase", "seasonal_naive_mase"]
    report = json.load(open(os.path.join(out, "report.json")))
    for method in ("model", "naive", "seasonal_naive", "drift"):
        assert set(report["test"][method]) >= {"mae", "rmse", "mape", "smape", "mase", "mase_by_horizon"}
        assert len(report["test"][method]["mase_by_horizon"]) == 12
    assert os.path.getsize(os.path.join(out, "forecast.png")) > 10_000

    # the baselines' test MASE, computed here from the definitions with loops
    _, rows = read_csv(airline(shared_data))
    y = [float(r[1]) for r in rows]
    train_end, test_start = 96, 120
    scale = sum(abs(y[t] - y[t - 12]) for t in range(12, train_end)) / (train_end - 12)
    naive_errors, seasonal_errors = [], []
    for origin in range(test_start, len(y) - 12 + 1):
        for h in range(1, 13):
            naive_errors.append(abs(y[origin + h - 1] - y[origin - 1]))
            seasonal_errors.append(abs(y[origin + h - 1] - y[origin + h - 1 - 12]))
    assert float(last["naive_mase"]) == pytest.approx(sum(naive_errors) / len(naive_errors) / scale, abs=1e-4)
    assert float(last["seasonal_naive_mase"]) == pytest.approx(
        sum(seasonal_errors) / len(seasonal_errors) / scale, abs=1e-4)
    assert report["test"]["model"]["mase"] == pytest.approx(float(last["test_mase"]), abs=1e-4)
    assert math.isfinite(report["test"]["model"]["mase"])

    code, stdout, _ = run_cli(["forecast", "predict", os.path.join(out, "model.rnnkit"), "--csv",
                               airline(shared_data)], capsys)
    assert code == 0
    predicted = [line.split() for line in stdout.strip().splitlines()]
    assert [date for date, _ in predicted] == [f"1961-{m:02d}" for m in range(1, 13)]
    assert all(math.isfinite(float(value)) for _, value in predicted)


def test_predict_equals_the_model_on_the_last_window(shared_data, tmp_path, capsys):
    from rnnkit.tasks.forecast import predict

    out = str(tmp_path / "run")
    assert run_cli(["forecast", "train", "--csv", airline(shared_data), "--target", "Passengers", "--horizon", "3",
                    "--window", "6", "--test-size", "12", "--transform", "diff", "--out", out, *FAST], capsys)[0] == 0
    _, rows = read_csv(airline(shared_data))
    y = np.array([float(r[1]) for r in rows])
    z = np.diff(y)[-6:]  # the last window of differences
    expected = y[-1] + np.cumsum(load_model(os.path.join(out, "model.rnnkit")).predict(z[None, :, None],
                                                                                        verbose=0)[0])
    got = predict(os.path.join(out, "model.rnnkit"), airline(shared_data))
    assert [d for d, _ in got] == ["1961-01", "1961-02", "1961-03"]
    np.testing.assert_allclose([v for _, v in got], expected, rtol=1e-6)


def _error(argv, capsys):
    code, _, err = run_cli(argv, capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error: ")
    return lines[0]


@pytest.mark.parametrize("change,message", [
    (lambda h, r: (h, r), None),
    (lambda h, r: (["Month", "Other"], r), "has no column 'Passengers' (--target); its columns are: Month, Other"),
    (lambda h, r: (h, r[:40] + [[r[40][0], "12x"]] + r[41:]), "line 42: column 'Passengers' holds '12x', which is "
                                                               "not a number"),
    (lambda h, r: (h, r[:10] + [r[11], r[10]] + r[12:]),
     "dates out of order: line 13 has 1949-11 after line 12 with 1949-12"),
    (lambda h, r: (h, r[:10] + [r[10], r[10]] + r[12:]), "duplicated date: line 13 has 1949-11 after line 12"),
    (lambda h, r: (h, r[:50]), "has 50 usable time steps; at least window + horizon + test-size = 24 + 12 + 24 = 60"),
])
def test_csv_errors_are_one_line(shared_data, tmp_path, capsys, change, message):
    header, rows = read_csv(airline(shared_data))
    header, rows = change(header, rows)
    path = write_csv(tmp_path / "bad.csv", header, rows)
    argv = ["forecast", "train", "--csv", path, "--target", "Passengers", "--horizon", "12", "--test-size", "24",
            "--out", str(tmp_path / "out"), *FAST]
    if message is None:  # the unchanged file trains: the errors below come from the changes alone
        assert run_cli(argv, capsys)[0] == 0
        return
    assert message in _error(argv, capsys)


def test_other_input_errors(shared_data, tmp_path, capsys):
    path = airline(shared_data)
    base = ["forecast", "train", "--csv", path, "--target", "Passengers", "--out", str(tmp_path / "o"), *FAST]
    assert "has no column 'Nope' (--features)" in _error(base + ["--features", "Nope"], capsys)
    with pytest.raises(SystemExit) as exit_info:  # a bad flag value is a usage error
        main(base + ["--test-size", "5", "--horizon", "12"])
    assert exit_info.value.code == 2
    capsys.readouterr()
    bad = write_csv(tmp_path / "neg.csv", ["Month", "Passengers"], [["1949-%02d" % (m % 12 + 1) if False else
                                                                     f"{1949 + m // 12}-{m % 12 + 1:02d}", str(m - 5)]
                                                                    for m in range(80)])
    assert "needs positive values" in _error(["forecast", "train", "--csv", bad, "--target", "Passengers",
                                              "--transform", "log", "--out", str(tmp_path / "p"), *FAST], capsys)


def test_gaps_missing_values_composed_dates_and_features(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(24 * 12):
        day, hour = 1 + i // 24, i % 24
        if i == 100:  # one hour missing from the file: a gap in the dates
            continue
        value = "NA" if i in (3, 150) else f"{10 + 5 * math.sin(i / 3.8) + rng.normal():.3f}"
        rows.append([str(i), "2020", "1", str(day), str(hour), value, f"{rng.normal():.3f}"])
    path = write_csv(tmp_path / "hourly.csv", ["No", "year", "month", "day", "hour", "pm", "wind"], rows)
    out = str(tmp_path / "run")
    code, stdout, _ = run_cli(["forecast", "train", "--csv", path, "--target", "pm", "--features", "wind",
                               "--date-column", "year,month,day,hour", "--horizon", "6", "--test-size", "48",
                               "--out", out, *FAST], capsys)
    assert code == 0
    assert "note: 3 missing value(s) of pm (2 in the file, 1 from 1 gap(s) in the dates) filled with the last " \
           "observed value" in stdout
    assert "test        2020-01-11 00:00 .. 2020-01-12 23:00  (48 steps)" in stdout
    report = json.load(open(os.path.join(out, "report.json")))
    assert report["season"] == 24 and report["missing_values"] == {"pm": 3, "wind": 1}
    got = [line.split("  ")[0] for line in run_cli(["forecast", "predict", os.path.join(out, "model.rnnkit"),
                                                    "--csv", path], capsys)[1].strip().splitlines()]
    assert got == [f"2020-01-13 {h:02d}:00" for h in range(6)]
