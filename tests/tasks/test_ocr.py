"""The OCR application: rendering, a CRNN that overfits ten lines to zero CER, the model file round trip through
``rnnkit ocr read``, and ``rnnkit ocr train`` end to end on a tiny run. Only Pillow's built-in font is used
where a font is needed, so that the tests do not depend on font packages."""
import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from rnnkit.cli.main import main
from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks import ocr, ocr_render
from rnnkit.tasks.ocr import OCRConfig

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
SMALL = dict(alphabet=ALPHABET, width=96, min_length=3, max_length=6, filters=8, units=32, lr=1e-2)


def _save_png(image: np.ndarray, path, scale: float = 1.0) -> None:
    """A model input (ink high) as a dark-on-light PNG, resized by ``scale``."""
    picture = Image.fromarray(((1.0 - image[:, :, 0]) * 255).round().astype(np.uint8))
    if scale != 1.0:
        picture = picture.resize((int(picture.width * scale), int(picture.height * scale)), Image.BILINEAR)
    picture.save(path)


@pytest.fixture(scope="module")
def overfit_model(tmp_path_factory):
    """A small CRNN trained on ten lines of Pillow's built-in font until it reads all of them."""
    from rnnkit.random import set_random_seed

    set_random_seed(0)
    config = OCRConfig(**SMALL)
    images, labels, texts = ocr.load_data(config, 10, 5, [None])
    model = ocr.build_model(config, len(ALPHABET) + 1)
    ocr.compile_model(model, config)
    scores = None
    for _ in range(16):  # at most 400 steps
        model.fit(images, labels, epochs=25, batch_size=10, verbose=0)
        scores = ocr.score(ocr.predict_texts(model, images, ALPHABET), texts)
        if scores["cer"] == 0:
            break
    folder = tmp_path_factory.mktemp("ocr")
    path = str(folder / "model.rnnkit")
    from rnnkit.tasks.artifacts import save_task_model

    save_task_model(path, model, "ocr", ocr.model_info(config))
    return model, config, images, texts, scores, path, folder


def test_crnn_overfits_ten_lines_to_zero_cer(overfit_model):
    _, _, _, texts, scores, _, _ = overfit_model
    assert len(set(texts)) == 10
    assert scores == {"cer": 0.0, "line_accuracy": 1.0}


def test_saved_model_reads_the_same_text(overfit_model):
    """The saved file (alphabet and height inside) gives the same logits, and ``read`` of the lines as PNG files,
    at another height too, gives the text the in-memory model reads."""
    model, config, images, texts, _, path, folder = overfit_model
    loaded, info = ocr.load(path)
    assert info == {"alphabet": ALPHABET, "height": 32, "width": 96}
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5,
                               atol=1e-5)
    paths = []
    for i, image in enumerate(images[:4]):
        paths.append(str(folder / f"line{i}.png"))
        _save_png(image, paths[-1], scale=1.0 if i % 2 else 2.0)  # 64 rows: scaled back to 32
    from rnnkit.tasks.ocr_render import to_model_input

    expected = [ocr.predict_texts(model, ocr.line_input(Image.open(p), info), ALPHABET)[0] for p in paths]
    assert ocr.read(path, paths) == expected
    assert expected[1] == texts[1] and expected[3] == texts[3]  # at the training height, 8-bit PNGs read right
    assert to_model_input(Image.open(paths[1]), 32, 96).shape == (32, 96, 1)


def test_ocr_cli_train_and_read_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ocr_render, "FONT_DIRS", (str(tmp_path / "no-fonts"),))  # Pillow's built-in font
    out = str(tmp_path / "run")
    args = ["ocr", "train", "--out", out, "--alphabet", "0123", "--steps", "3", "--epochs", "2", "--batch-size",
            "8", "--width", "64", "--min-length", "2", "--max-length", "5", "--filters", "4", "--units", "8",
            "--test-lines", "12", "--verbose", "0", "--seed", "3"]
    assert main(args) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"test_cer=\d+\.\d{4} test_line_accuracy=\d+\.\d{4}", last), last
    for name in ("model.rnnkit", "report.json", "curves.png", "examples.png"):
        assert os.path.isfile(os.path.join(out, name)), name
    report = json.load(open(os.path.join(out, "report.json")))
    assert report["fonts"] == ["Pillow built-in"] and report["train_lines"] == 48
    assert f"test_cer={report['test_cer']:.4f}" in last and len(report["examples"]) == 10
    # the same command again refuses to replace the model, unless --overwrite
    assert main(args) == 1
    assert "already holds a trained model" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
    capsys.readouterr()
    # read: a PNG of any height prints one line of text from the alphabet
    line = tmp_path / "line.png"
    Image.new("L", (200, 50), 255).save(line)
    assert main(["ocr", "read", os.path.join(out, "model.rnnkit"), str(line)]) == 0
    assert set(capsys.readouterr().out.strip()) <= set("0123")


def test_ocr_read_errors_are_one_line(tmp_path, capsys, overfit_model):
    path = overfit_model[5]
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    truncated = tmp_path / "cut.png"
    _save_png(overfit_model[2][0], truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    for image, message in ((tmp_path / "missing.png", "no such file"), (not_image, "not an image"),
                           (truncated, "damaged or truncated")):
        assert main(["ocr", "read", path, str(image)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("rnnkit: error: cannot read") and message in err and err.count("\n") == 1
    from rnnkit.layers import Dense
    from rnnkit.models import Sequential
    from rnnkit.tasks.artifacts import save_task_model

    other = str(tmp_path / "other.rnnkit")
    save_task_model(other, Sequential([Dense(1, input_shape=(2,))]), "sentiment", {})
    assert main(["ocr", "read", other, str(not_image)]) == 1
    assert "'sentiment' model" in capsys.readouterr().err


def test_bad_settings_are_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["ocr", "train", "--out", str(tmp_path), "--max-length", "40", "--width", "64"])
    assert exit_info.value.code == 2 and "too long for --width 64" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="more than once"):
        OCRConfig(alphabet="abca").validate()
    with pytest.raises(DataError, match="holds no .ttf"):
        ocr_render.choose_fonts(str(tmp_path))


def test_fonts_fall_back_to_pillows_built_in_font(monkeypatch, tmp_path):
    monkeypatch.setattr(ocr_render, "FONT_DIRS", (str(tmp_path),))
    assert ocr_render.choose_fonts(None) == [None]
    images, texts = ocr_render.render_lines(3, "ab1 ", [None], 0, 32, 128, 2, 6)
    assert images.shape == (3, 32, 128, 1) and all(texts)
    ink = images[..., 0].mean(axis=0)
    assert ink.max() > 0.3  # something was drawn


def test_rendering_is_reproducible_and_varied():
    a, texts_a = ocr_render.render_lines(6, ALPHABET + " .,", [None], (1, 2), 32, 128, 3, 8)
    b, texts_b = ocr_render.render_lines(6, ALPHABET + " .,", [None], (1, 2), 32, 128, 3, 8)
    c, texts_c = ocr_render.render_lines(6, ALPHABET + " .,", [None], (1, 3), 32, 128, 3, 8)
    np.testing.assert_array_equal(a, b)
    assert texts_a == texts_b and texts_a != texts_c
    assert all(t == t.strip() and "  " not in t for t in texts_a + texts_c)


def test_to_model_input_inverts_light_backgrounds_and_scales():
    dark_on_light = np.full((64, 100), 255.0)
    dark_on_light[20:40, 10:30] = 0.0
    line = ocr_render.to_model_input(dark_on_light, 32, 96)
    assert line.shape == (32, 96, 1)
    assert line[15, 10, 0] > 0.9 and line[2, 40, 0] < 0.1  # the ink is high, the paper low
    light_on_dark = 255.0 - dark_on_light
    np.testing.assert_allclose(ocr_render.to_model_input(light_on_dark, 32, 96), line, atol=1e-6)


def test_labels_and_scores():
    labels = ocr.encode(["ab", "b"], "ab")
    np.testing.assert_array_equal(labels, [[1, 2], [2, 0]])
    with pytest.raises(DataError, match="outside the alphabet"):
        ocr.encode(["abc"], "ab")
    assert ocr.edit_distance("kitten", "sitting") == 3 and ocr.edit_distance("", "abc") == 3
    assert ocr.score(["abc", "x"], ["abd", "x"]) == {"cer": 0.25, "line_accuracy": 0.5}
    logits = np.full((1, 5, 3), -5.0)
    logits[0, [0, 1, 3, 4], [1, 1, 2, 0]] = 5.0  # a a _ b _ -> "ab" (steps: a, a, blank=-5 all, b, blank)
    logits[0, 2, 0] = 5.0
    assert ocr.decode(logits, "ab") == ["ab"]
