"""Text-line images for OCR, rendered with Pillow from random strings: fonts, distortions, and the one image
format the CRNN reads.

A line is drawn dark on light at a random font size and margin, rotated slightly, blurred, scaled to the
model's height (keeping its aspect; squeezed only when it would be wider than the model's width), placed at a
random horizontal offset, and noised. The network sees ``1 - gray``: ink is high, the background near 0
(:func:`to_model_input` does the same to any picture, so ``rnnkit ocr read`` sees what training saw).

Fonts: TrueType files of Debian's font packages (fonts-dejavu-core, fonts-liberation, fonts-freefont-ttf) when
installed, any folder of .ttf/.otf files with ``--fonts DIR``, and Pillow's built-in font otherwise.

>>> import numpy as np
>>> fonts = [None]  # None: Pillow's built-in font
>>> rng = np.random.default_rng(0)
>>> image = render_line("ab 12", fonts[0], rng, height=32, width=128)
>>> image.shape, image.dtype, bool(0.0 <= image.min() and image.max() <= 1.0)
((32, 128), dtype('float32'), True)
>>> text = random_text(rng, "abc ", 4, 8); 4 <= len(text) + text.count("  ") <= 8 and text == text.strip()
True
"""
from __future__ import annotations

import functools
import glob
import os

import numpy as np

from rnnkit.errors import DataError

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"))
# Regular faces (and a few variants) of Debian's fonts-dejavu-core, fonts-liberation and fonts-freefont-ttf.
KNOWN_FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSansCondensed.ttf",
    "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSerif-Regular.ttf",
    "LiberationMono-Regular.ttf", "LiberationSansNarrow-Regular.ttf",
    "FreeSans.ttf", "FreeSansBold.ttf", "FreeSerif.ttf", "FreeMono.ttf",
)
LINE_EXTENT = "Ag|(j"  # its box spans capitals, descenders and brackets: lines keep one scale per font size
SPACE_PROBABILITY = 0.15  # of each character, when the alphabet has a space: lines with words


def system_fonts() -> list:
    """Paths of the :data:`KNOWN_FONTS` installed on this machine, in that order (may be empty)."""
    found = {}
    for folder in FONT_DIRS:
        for path in glob.glob(os.path.join(folder, "**", "*.ttf"), recursive=True):
            found.setdefault(os.path.basename(path), path)
    return [found[name] for name in KNOWN_FONTS if name in found]


def fonts_in(folder: str) -> list:
    """Every .ttf/.otf file under ``folder`` (sorted); DataError when there is none."""
    if not os.path.isdir(folder):
        raise DataError(f"--fonts {folder} is not a folder; give a folder of .ttf or .otf files")
    paths = sorted(p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
                   if p.lower().endswith((".ttf", ".otf")))
    if not paths:
        raise DataError(f"--fonts {folder} holds no .ttf or .otf files")
    return paths


def choose_fonts(folder: str | None) -> list:
    """The fonts a run draws with: those in ``folder``, else :func:`system_fonts`, else ``[None]`` (Pillow's
    built-in font)."""
    if folder:
        return fonts_in(folder)
    return system_fonts() or [None]


@functools.lru_cache(maxsize=512)
def load_font(path: str | None, size: int):
    """A Pillow font of ``size`` pixels: ``path``'s TrueType face, or Pillow's built-in font for None."""
    from PIL import ImageFont

    if path is None:
        try:
            return ImageFont.load_default(size=size)  # a scalable face where Pillow has FreeType
        except TypeError:  # Pillow < 10.1: a fixed bitmap font
            return ImageFont.load_default()
    try:
        return ImageFont.truetype(path, size)
    except OSError as error:
        raise DataError(f"cannot load the font {path}: {error}") from None


def random_text(rng: np.random.Generator, alphabet: str, min_length: int, max_length: int) -> str:
    """A random string of ``min_length`` to ``max_length`` characters of ``alphabet``: spaces (if in the
    alphabet) between words, never at the ends or doubled."""
    symbols = [c for c in alphabet if c != " "]
    has_space = " " in alphabet
    while True:
        n = int(rng.integers(min_length, max_length + 1))
        chars = [symbols[i] for i in rng.integers(0, len(symbols), size=n)]
        if has_space:
            for i in range(1, n - 1):
                if rng.random() < SPACE_PROBABILITY and chars[i - 1] != " ":
                    chars[i] = " "
        text = "".join(chars).strip()
        if text:
            return text


def render_line(text: str, font_path: str | None, rng: np.random.Generator, height: int, width: int,
                augment: bool = True) -> np.ndarray:
    """``text`` as a ``(height, width)`` float32 image, ink high (see the module docstring)."""
    from PIL import Image, ImageDraw, ImageFilter

    size = int(rng.integers(22, 40)) if augment else 30
    font = load_font(font_path, size)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = measure.textbbox((0, 0), text, font=font)
    _, line_top, _, line_bottom = measure.textbbox((0, 0), LINE_EXTENT, font=font)
    top, bottom = min(top, line_top), max(bottom, line_bottom)  # one scale for every text in this font size
    pad = [int(rng.integers(1, max(2, size // 4))) for _ in range(4)] if augment else [3, 3, 3, 3]
    paper = int(rng.integers(190, 256)) if augment else 255
    ink = int(rng.integers(0, 90)) if augment else 0
    canvas = Image.new("L", (right - left + pad[0] + pad[2], bottom - top + pad[1] + pad[3]), paper)
    ImageDraw.Draw(canvas).text((pad[0] - left, pad[1] - top), text, font=font, fill=ink)
    if augment:
        angle = float(rng.uniform(-2.0, 2.0))
        canvas = canvas.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=paper)
        radius = float(rng.uniform(0.0, 1.2))
        if radius > 0.3:
            canvas = canvas.filter(ImageFilter.GaussianBlur(radius))
    gray = np.asarray(canvas, dtype=np.float32) / 255.0  # (h, w) dark ink on light paper
    ink_high = fit_to_height(1.0 - gray, height, width)
    if augment:
        offset = int(rng.integers(0, width - ink_high.shape[1] + 1))
        line = np.full((height, width), 1.0 - paper / 255.0, np.float32)
        line[:, offset: offset + ink_high.shape[1]] = ink_high
        line += rng.normal(0.0, rng.uniform(0.0, 0.08), size=line.shape).astype(np.float32)
        return np.clip(line, 0.0, 1.0)
    line = np.zeros((height, width), np.float32)
    line[:, : ink_high.shape[1]] = ink_high
    return line


def fit_to_height(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image (h, w)`` scaled to ``height`` rows keeping its aspect, squeezed to ``width`` columns if wider."""
    from PIL import Image

    h, w = image.shape
    new_w = max(1, min(width, int(round(w * height / h))))
    scaled = Image.fromarray(np.clip(image * 255.0, 0, 255).astype(np.uint8)).resize((new_w, height),
                                                                                       Image.BILINEAR)
    return np.asarray(scaled, dtype=np.float32) / 255.0


def render_lines(n: int, alphabet: str, fonts: list, seed, height: int, width: int, min_length: int,
                 max_length: int, augment: bool = True, texts=None):
    """``(images (n, height, width, 1) float32, texts)``: ``n`` random lines (or the given ``texts``), each in
    a font drawn from ``fonts``, all from the generator seeded with ``seed`` (an int or a sequence of ints)."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, height, width, 1), np.float32)
    lines = []
    for i in range(n):
        text = texts[i] if texts is not None else random_text(rng, alphabet, min_length, max_length)
        font = fonts[int(rng.integers(0, len(fonts)))]
        images[i, :, :, 0] = render_line(text, font, rng, height, width, augment)
        lines.append(text)
    return images, lines


def to_model_input(picture, height: int, width: int) -> np.ndarray:
    """A picture (a PIL image, or an ``(h, w)`` / ``(h, w, channels)`` array of 0..255 or 0..1) as the model's
    ``(height, W, 1)`` input: gray, ink high (a light background is inverted), scaled to ``height`` rows and
    padded on the right to ``width`` columns (squeezed if wider)."""
    from PIL import Image

    if isinstance(picture, Image.Image):
        gray = np.asarray(picture.convert("L"), dtype=np.float32) / 255.0
    else:
        array = np.asarray(picture, dtype=np.float32)
        if array.ndim == 3:
            array = array[..., :3].mean(axis=-1)  # (h, w, channels) -> (h, w)
        gray = array / 255.0 if array.max() > 1.0 else array
    if gray.ndim != 2 or min(gray.shape) < 2:
        raise DataError(f"a text line must be an image at least 2x2 pixels; got shape {gray.shape}")
    if np.median(gray) > 0.5:
        gray = 1.0 - gray  # dark text on light paper -> ink high
    line = np.zeros((height, width, 1), np.float32)
    scaled = fit_to_height(gray, height, width)
    line[:, : scaled.shape[1], 0] = scaled
    return line
