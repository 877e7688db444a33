"""A corpus of odd and hostile uploads, written by the tests themselves: what phones, scanners and pranksters send.

Each case is a file name, a function that writes it into a folder, and what should happen: None for a
picture that must paint, else words the refusal must contain.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, features

from tests.pictures import smooth_picture


@dataclass(frozen=True)
class Case:
    name: str
    write: Callable[[Path], None]
    refusal: str | None = None  # words of the message; None: a correct result

    def __str__(self) -> str:
        return self.name


def _photo(mode: str = "RGB", size: tuple[int, int] = (56, 40)) -> Image.Image:
    picture = Image.fromarray(smooth_picture(7, size[1], size[0]))
    return picture if mode == "RGB" else picture.convert(mode)


def _saved(picture: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data() if callable(data) else data)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels: a decompression bomb's calling card."""
    data = bytearray(_saved(_photo(size=(8, 8)), "PNG"))
    header = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return bytes(data)


def _gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(_saved(_photo("P", (8, 8)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def _exif_rotated(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _saved(_photo(), "JPEG", exif=exif.tobytes())


def _animation(fmt: str) -> bytes:
    frames = [_photo(), Image.new("RGB", (56, 40), (255, 0, 0))]
    return _saved(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _transparent() -> bytes:
    picture = _photo("RGBA")
    alpha = np.zeros((40, 56), np.uint8)
    alpha[10:30, 14:42] = 255  # an opaque centre on a clear background: a sticker cut-out
    picture.putalpha(Image.fromarray(alpha))
    return _saved(picture, "PNG")


def _sixteen_bit() -> bytes:
    ramp = (np.linspace(0, 65535, 40 * 56).reshape(40, 56)).astype(np.uint16)
    return _saved(Image.fromarray(ramp), "PNG")


def _truncated(fmt: str) -> bytes:
    data = _saved(_photo(size=(200, 150)), fmt)
    return data[: len(data) // 2]


CASES = [
    Case("zero-bytes.png", _bytes(b""), "not an image"),
    Case("truncated.jpg", _bytes(lambda: _truncated("JPEG")), "truncated or corrupt"),
    Case("truncated.png", _bytes(lambda: _truncated("PNG")), "truncated or corrupt"),
    Case("notes.png", _bytes(b"these are my notes, not a picture\n"), "not an image"),
    Case("page.jpg", _bytes(b"<!doctype html><html><body>hello</body></html>"), "not an image"),
    Case("drawing.svg", _bytes(b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'), "not an image"),
    Case("photo.heic", _bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)), "not an image"),
    Case("noise.jpg", _bytes(np.random.default_rng(0).bytes(4096)), "not an image"),
    Case("bomb.png", _bytes(lambda: _png_claiming(60_000, 60_000)), "too large"),
    Case("bomb.gif", _bytes(lambda: _gif_claiming(65_535, 65_535)), "too large"),
    Case("header-only.jpg", _bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20)), "not an image"),
    Case("wide-strip.png", lambda path: Image.new("RGB", (20_000, 20), "navy").save(path), "under the 16 px"),
    Case("tall-strip.png", lambda path: Image.new("RGB", (20, 20_000), "navy").save(path), "under the 16 px"),
    Case("one-pixel.png", lambda path: Image.new("RGB", (1, 1), "orange").save(path), "at least 16 pixels"),
    Case("tiny.png", lambda path: Image.new("RGB", (12, 30), "orange").save(path), "too small to paint"),
    Case("cmyk.jpg", lambda path: _photo("CMYK").save(path, "JPEG")),
    Case("sixteen-bit.png", _bytes(_sixteen_bit)),
    Case("cut-out.png", _bytes(_transparent)),
    Case("palette.png", lambda path: _photo("P").save(path)),
    Case("grey.png", lambda path: _photo("L").save(path)),
    Case("grey-alpha.png", lambda path: _photo("LA").save(path)),
    Case("one-bit.png", lambda path: _photo("1").save(path)),
    Case("float.tif", lambda path: _photo("F").save(path, "TIFF")),
    Case("animated.gif", _bytes(lambda: _animation("GIF"))),
    Case("rotated-90.jpg", _bytes(lambda: _exif_rotated(6))),
    Case("rotated-180.jpg", _bytes(lambda: _exif_rotated(3))),
    Case("bitmap.bmp", lambda path: _photo().save(path, "BMP")),
    Case("icon.ico", lambda path: _photo(size=(48, 48)).save(path, "ICO")),
    Case("progressive.jpg", lambda path: _photo().save(path, "JPEG", progressive=True)),
    Case("ycbcr.tif", lambda path: _photo().save(path, "TIFF", compression="jpeg")),
    Case("wrong-suffix.gif", lambda path: _photo().save(path, "PNG")),  # a PNG named .gif
]
if features.check("webp"):
    CASES += [Case("still.webp", lambda path: _photo().save(path, "WEBP")),
              Case("animated.webp", _bytes(lambda: _animation("WEBP")))]


def write(case: Case, folder: Path) -> Path:
    path = folder / case.name
    case.write(path)
    return path
