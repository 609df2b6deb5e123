"""The helpers every application shares: reports, plots, task model files, output folders, resume, flags."""
import argparse
import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from rnnkit.cli.config_flags import add_config_arguments, add_run_arguments, check_all, positive, run_config
from rnnkit.errors import ConfigError, DataError
from rnnkit.layers import Dense
from rnnkit.models import Sequential, load_model
from rnnkit.tasks.artifacts import load_task_model, save_task_model
from rnnkit.tasks.report import headline, plot_heatmap, plot_history, write_report
from rnnkit.tasks.runs import check_out_dir, checkpointed_fit, saved_config

PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class DemoConfig:
    epochs: int = field(default=2, metadata={"help": "passes"})
    units: int = field(default=4, metadata={"help": "hidden units"})
    lr: float = field(default=0.01, metadata={"help": "learning rate"})

    def validate(self):
        check_all([positive("epochs", self.epochs), positive("units", self.units), positive("lr", self.lr)])


def tiny_model():
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_report_is_plain_json_with_nulls_for_non_finite(tmp_path):
    path = write_report(str(tmp_path), {"a": np.arange(3), "b": {"c": np.float64(np.inf)}, "d": (1, 2)})
    assert json.loads(open(path).read()) == {"a": [0, 1, 2], "b": {"c": None}, "d": [1, 2]}


def test_headline_keeps_order_and_formats_floats():
    assert headline({"z": 1.0, "a": np.float32(0.5), "n": 3}) == "z=1.0000 a=0.5000 n=3"


def test_plots_are_png_files_with_content(tmp_path):
    pytest.importorskip("matplotlib")
    history = {"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.1, 0.5, 0.9]}
    curves, heat = tmp_path / "curves.png", tmp_path / "heat.png"
    assert plot_history(history, str(curves), "demo model on demo data, 3 epochs", validation_name="test")
    assert plot_heatmap(np.eye(3), str(heat), "attention", ["a", "b", "c"], ["x", "y", "z"], annotate=True)
    for path in (curves, heat):
        data = path.read_bytes()
        assert data[:8] == PNG and len(data) > 5000  # a drawn picture, not an empty canvas
    assert not plot_history({}, str(tmp_path / "none.png"), "nothing")
    assert not (tmp_path / "none.png").exists()


def test_task_model_round_trip_and_wrong_task(tmp_path):
    path = str(tmp_path / "model.rnnkit")
    model = tiny_model()
    save_task_model(path, model, "demo", {"scale": np.float32(2.0), "vocabulary": ["[UNK]", "a"]})
    loaded, info = load_task_model(path, "demo")
    assert info == {"scale": 2.0, "vocabulary": ["[UNK]", "a"]}
    x = np.ones((3, 2), np.float32)
    assert np.array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert np.array_equal(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(DataError, match="'demo' model.*needs a 'other' model"):
        load_task_model(path, "other")
    plain = str(tmp_path / "plain.rnnkit")
    model.save(plain)
    with pytest.raises(DataError, match="plain rnnkit model"):
        load_task_model(plain, "demo")


def test_out_dir_refuses_finished_and_unfinished_runs(tmp_path):
    out = str(tmp_path / "run")
    check_out_dir(out, "demo")
    model = tiny_model()
    x, y = np.ones((4, 2)), np.zeros((4, 1))
    checkpointed_fit(model, out, "demo", DemoConfig(epochs=5), x=x, y=y, epochs=1, verbose=0)
    with pytest.raises(ConfigError, match=r"unfinished run \(stopped in epoch 2 of 5\).*rnnkit demo train --resume"):
        check_out_dir(out, "demo")
    check_out_dir(out, "demo", overwrite=True)
    save_task_model(str(tmp_path / "run" / "model.rnnkit"), model, "demo", {})
    checkpointed_fit(model, out, "demo", DemoConfig(epochs=1), x=x, y=y, epochs=1, verbose=0)
    with pytest.raises(ConfigError, match="already holds a trained model.*--overwrite"):
        check_out_dir(out, "demo")
    with pytest.raises(ConfigError, match="is a file"):
        check_out_dir(str(tmp_path / "run" / "model.rnnkit"), "demo")


def test_resume_continues_to_the_same_weights(tmp_path):
    x = np.random.default_rng(0).normal(size=(16, 2))
    y = x.sum(axis=1, keepdims=True)

    def run(out, epochs, resume=False):
        from rnnkit.random import set_random_seed

        set_random_seed(3)
        model = tiny_model()
        checkpointed_fit(model, out, "demo", DemoConfig(epochs=epochs), resume=resume, x=x, y=y, batch_size=4,
                         epochs=epochs, verbose=0)
        return model.get_weights()

    straight = run(str(tmp_path / "a"), 3)
    run(str(tmp_path / "b"), 1)
    resumed = run(str(tmp_path / "b"), 3, resume=True)
    assert all(np.array_equal(p, q) for p, q in zip(straight, resumed))


def parser_for(config_class):
    parser = argparse.ArgumentParser(prog="rnnkit demo train", allow_abbrev=False)
    add_config_arguments(parser, config_class)
    add_run_arguments(parser)
    return parser


def test_bad_flag_values_are_usage_errors(capsys):
    parser = parser_for(DemoConfig)
    with pytest.raises(SystemExit) as exit_info:
        run_config(parser, parser.parse_args(["--units", "-3"]), ["--units", "-3"], "demo", DemoConfig)
    assert exit_info.value.code == 2
    assert "--units must be positive; got -3" in capsys.readouterr().err


def test_resume_takes_saved_settings_and_refuses_conflicts(tmp_path):
    out = str(tmp_path / "run")
    checkpointed_fit(tiny_model(), out, "demo", DemoConfig(epochs=3, units=7), x=np.ones((4, 2)),
                     y=np.zeros((4, 1)), epochs=1, verbose=0)
    assert saved_config(out, "demo", DemoConfig) == DemoConfig(epochs=3, units=7)
    parser = parser_for(DemoConfig)
    argv = ["--resume", out, "--epochs", "6"]
    config, resume = run_config(parser, parser.parse_args(argv), argv, "demo", DemoConfig)
    assert resume and config == DemoConfig(epochs=6, units=7)
    argv = ["--resume", out, "--units", "9"]
    with pytest.raises(ConfigError, match=r"--units 9 \(saved: 7\)"):
        run_config(parser, parser.parse_args(argv), argv, "demo", DemoConfig)
    with pytest.raises(DataError, match="holds no 'rnnkit other train' configuration"):
        saved_config(out, "other", DemoConfig)


def test_a_missing_optional_package_names_the_extra(monkeypatch, capsys):
    import sys

    from rnnkit.cli import main as cli_main

    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # an import of sacrebleu now fails as if not installed

    def needs_sacrebleu(args, argv):
        import sacrebleu  # noqa: F401

    monkeypatch.setattr(cli_main.task_module("translate"), "run", needs_sacrebleu)
    status = cli_main.main(["translate", "train", "--data", "pairs.tsv", "--out", "unused"])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1
    assert "sacrebleu" in err and "pip install 'rnnkit[translate]'" in err
