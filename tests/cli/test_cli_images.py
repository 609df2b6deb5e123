"""``rnnkit predict`` reads the images editors write (palette, 1-bit, 16-bit PNG, JPEG, RGBA, LA) through
Pillow, keeps the size bound, and says what is wrong with a user's file in one line."""
from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from PIL import Image

from rnnkit.cli import main as cli
from rnnkit.cli.images import MAX_SIDE, read_image
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.random import set_random_seed

RNG = np.random.default_rng(0)
GRAY = RNG.integers(0, 256, (28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    set_random_seed(0)
    model = Sequential([SimpleRNN(4, input_shape=(28, 28)), Dense(10, activation="softmax")])
    path = tmp_path_factory.mktemp("model") / "model.rnnkit"
    model.save(path)
    return str(path)


def save(tmp_path, picture, name, **kwargs):
    path = tmp_path / name
    picture.save(path, **kwargs)
    return path


def test_palette_png(tmp_path):
    colours = RNG.integers(0, 256, (16, 3), dtype=np.uint8)
    index = RNG.integers(0, 16, (28, 28), dtype=np.uint8)
    picture = Image.fromarray(index, "P")
    picture.putpalette(colours.flatten().tolist())
    rgb = colours[index].astype(np.float64)  # (28, 28, 3)
    luma = (rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114) / 1000 / 255
    np.testing.assert_allclose(read_image(save(tmp_path, picture, "p.png")), luma, atol=1 / 255 + 1e-6)


def test_one_bit_png(tmp_path):
    bits = RNG.integers(0, 2, (28, 28)).astype(bool)
    image = read_image(save(tmp_path, Image.fromarray(bits), "bits.png"))
    np.testing.assert_array_equal(image, bits.astype(np.float32))


def test_sixteen_bit_png_keeps_its_precision(tmp_path):
    values = RNG.integers(0, 65536, (28, 28)).astype(np.uint16)
    path = save(tmp_path, Image.fromarray(values), "deep.png")
    assert Image.open(path).mode.startswith("I")  # really stored with 16 bits
    np.testing.assert_allclose(read_image(path), values / 65535.0, rtol=1e-6, atol=1e-7)


def test_jpeg_rgba_and_la(tmp_path):
    jpeg = read_image(save(tmp_path, Image.fromarray(GRAY), "digit.jpg", quality=95))
    assert jpeg.shape == (28, 28) and np.abs(jpeg - GRAY / 255.0).mean() < 0.05  # lossy, but close
    rgba = np.dstack([GRAY, GRAY, GRAY, np.full((28, 28), 7, np.uint8)])
    np.testing.assert_allclose(read_image(save(tmp_path, Image.fromarray(rgba, "RGBA"), "a.png")), GRAY / 255.0,
                               atol=1 / 255 + 1e-6)
    la = Image.fromarray(np.dstack([GRAY, np.zeros_like(GRAY)]), "LA")
    np.testing.assert_allclose(read_image(save(tmp_path, la, "la.png")), GRAY / 255.0, atol=1e-6)


def test_predict_reads_a_jpeg_and_a_palette_png(tmp_path, model_path, capsys):
    for name, picture in (("d.jpg", Image.fromarray(GRAY)), ("d.png", Image.fromarray(GRAY).convert("P"))):
        assert cli.main(["predict", model_path, str(save(tmp_path, picture, name))]) == 0
        assert capsys.readouterr().out.startswith("class=")


def one_line_error(capsys, status):
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("rnnkit: error: ")
    return err


def test_size_bound_is_checked_before_decoding(tmp_path, model_path, capsys):
    path = save(tmp_path, Image.new("L", (MAX_SIDE + 1, 2)), "wide.png")
    err = one_line_error(capsys, cli.main(["predict", model_path, str(path)]))
    assert f"{MAX_SIDE + 1}x2 is outside 1..{MAX_SIDE}" in err and "wide.png" in err


def test_pillow_decompression_bomb_limit_is_a_clear_error(tmp_path, model_path, capsys, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # a 28x28 picture is now "too large" for Pillow
    path = save(tmp_path, Image.fromarray(GRAY), "bomb.png")
    err = one_line_error(capsys, cli.main(["predict", model_path, str(path)]))
    assert "bomb.png" in err and "too large to decode safely" in err


def test_truncated_and_unknown_files(tmp_path, model_path, capsys):
    buffer = io.BytesIO()
    Image.fromarray(GRAY).save(buffer, "PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:60])
    err = one_line_error(capsys, cli.main(["predict", model_path, str(tmp_path / "cut.png")]))
    assert "cut.png" in err and "truncated or corrupt" in err
    (tmp_path / "notes.png").write_text("hello")
    err = one_line_error(capsys, cli.main(["predict", model_path, str(tmp_path / "notes.png")]))
    assert "notes.png is neither an image" in err


def test_missing_pillow_names_the_extra(tmp_path, model_path, capsys, monkeypatch):
    path = save(tmp_path, Image.fromarray(GRAY), "d.png")
    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    err = one_line_error(capsys, cli.main(["predict", model_path, str(path)]))
    assert "pip install 'rnnkit[images]'" in err


def test_a_zip_that_is_not_a_model_says_so(tmp_path, capsys):
    import zipfile

    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as archive:
        archive.writestr("a.txt", "b")
    err = one_line_error(capsys, cli.main(["summary", str(tmp_path / "photos.zip")]))
    assert "photos.zip is not an rnnkit model file" in err
    assert "DataError" not in err and "not valid JSON" not in err


@pytest.mark.parametrize("task", ["train", "charlm"])
def test_out_naming_a_file_says_so(tmp_path, capsys, task):
    text = tmp_path / "t.txt"
    text.write_text("abc " * 200)
    argv = {"train": ["train", "--out", "/dev/null"],
            "charlm": ["charlm", "train", "--text", str(text), "--out", "/dev/null"]}[task]
    err = one_line_error(capsys, cli.main(argv))
    assert "/dev/null is a file, not a folder" in err and "Errno" not in err
    err = one_line_error(capsys, cli.main([*argv[:-1], "/dev/null/run"]))
    assert "/dev/null/run: a part of this path is a file, not a folder" in err and "Errno" not in err


def test_os_errors_say_what_is_wrong_with_the_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    err = one_line_error(capsys, cli.main(["predict", str(tmp_path / "file" / "m.rnnkit"),
                                           str(tmp_path / "file" / "d.png")]))
    assert "Errno" not in err
