"""Loading any picture a phone or a scanner produces, resizing it, and saving PNG."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from nst_core import ImageError, load_image, open_image, save_image
from nst_core import images


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def photo() -> Image.Image:
    """A 60x40 picture whose left half is red and right half blue, so rotations are visible."""
    array = np.zeros((40, 60, 3), np.uint8)
    array[:, :30, 0] = 255
    array[:, 30:, 2] = 255
    return Image.fromarray(array)


@pytest.mark.parametrize("size", [24, 48, 100, 333])
def test_resize_keeps_the_aspect_ratio_and_the_range(photo, size):
    tensor = load_image(photo, size)
    assert tensor.shape[:2] == (1, 3) and max(tensor.shape[-2:]) == size
    assert tensor.shape[-1] / tensor.shape[-2] == pytest.approx(60 / 40, rel=0.05)
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P", "CMYK", "I;16", "I", "F", "1", "YCbCr"])
def test_every_mode_becomes_rgb(photo, mode):
    image = photo.convert("L").convert(mode) if mode in ("I;16", "I", "F", "1") else photo.convert(mode)
    tensor = load_image(image)
    assert tensor.shape == (1, 3, 40, 60)
    assert torch.isfinite(tensor).all() and 0 <= tensor.min() and tensor.max() <= 1


def test_sixteen_bit_grey_keeps_its_brightness():
    array = np.full((20, 20), 32768, np.uint16)  # mid grey in 16 bits
    image = Image.open(io.BytesIO(encode(Image.fromarray(array), "PNG")))
    assert load_image(image).mean().item() == pytest.approx(0.5, abs=0.01)


def test_transparency_lies_on_white():
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    assert load_image(image).min().item() == 1.0


def test_exif_orientation_is_applied(photo):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    rotated = load_image(encode(photo, "JPEG", exif=exif.tobytes(), quality=95))
    assert rotated.shape == (1, 3, 60, 40)  # portrait now
    assert rotated[0, 0, :5].mean() > 0.8  # red on top after the rotation
    assert rotated[0, 2, -5:].mean() > 0.8  # blue at the bottom


def test_first_frame_of_an_animation(photo):
    frames = [photo, photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert load_image(data)[0, 0, :, :5].mean() > 0.8  # red on the left, as in frame one


@pytest.mark.parametrize("data, words", [
    (b"", "not an image"),
    (b"this is text, not a PNG", "not an image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not an image"),
])
def test_non_images_are_refused_clearly(data, words):
    with pytest.raises(ImageError, match=words):
        open_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_refused_clearly(photo, fmt):
    data = encode(photo.resize((200, 200)), fmt)
    with pytest.raises(ImageError, match="truncated or corrupt"):
        open_image(data[: len(data) // 2])


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        open_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a folder"):
        open_image(tmp_path)


def test_images_too_large_to_decode_are_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 10_000)
    data = encode(Image.new("L", (200, 200)), "PNG")
    with pytest.raises(ImageError, match="over the 0 MP|decoded safely"):
        open_image(data)


def test_a_decompression_bomb_is_refused():
    # A tiny file that claims a huge canvas: Pillow's own guard, then ours, must refuse it.
    data = encode(Image.new("1", (12_000, 12_000)), "PNG", optimize=True)
    assert len(data) < 100_000
    with pytest.raises(ImageError, match="decode safely"):
        open_image(data)


def test_a_strip_too_thin_for_the_network_is_refused():
    with pytest.raises(ImageError, match="short side would be"):
        load_image(Image.new("RGB", (20_000, 20)), 512)


@pytest.mark.parametrize("array", [
    np.zeros((10, 12, 3), np.uint8),
    np.zeros((10, 12), np.float32),
    np.ones((3, 10, 12), np.float64),
    np.zeros((10, 12, 4), np.uint16),
    np.zeros((10, 12, 1), np.bool_),
])
def test_arrays_of_any_dtype_and_layout(array):
    assert load_image(array).shape == (1, 3, 10, 12)


def test_bad_arrays_are_refused():
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((4, 4, 3), np.nan, np.float32))
    with pytest.raises(ImageError, match="must be"):
        load_image(np.zeros((5, 5, 7), np.uint8))


def test_save_and_load_png_round_trip(tmp_path):
    tensor = torch.rand(1, 3, 21, 34)
    path = save_image(tensor, tmp_path / "out")
    assert path.suffix == ".png"
    again = load_image(path)
    assert (again - tensor).abs().max() <= 0.5 / 255 + 1e-6  # 8-bit rounding only: PNG is lossless


@pytest.mark.parametrize("aspect", [4500 / 5400, 1.0, 2700 / 1100])
def test_crop_to_a_print_aspect_is_centred(photo, aspect):
    tensor = load_image(photo, 120, aspect=aspect)
    height, width = tensor.shape[-2:]
    assert width / height == pytest.approx(aspect, rel=0.03) and max(height, width) == 120
    if aspect < 60 / 40:  # cropped left and right: red and blue halves stay balanced around the centre
        assert tensor[0, 0].mean().item() == pytest.approx(tensor[0, 2].mean().item(), abs=0.04)


def test_a_print_aspect_gives_the_exact_print_shape():
    # 512 px cropped to 5:6 is 427 px wide; scaled to 5400 that would round to 4504, not the tee's 4500.
    tensor = load_image(Image.new("RGB", (512, 512)), 5400 // 10, aspect=4500 / 5400)
    assert tensor.shape[-2:] == (540, 450)


def test_ssim_is_one_for_the_same_picture_and_falls_with_noise():
    from nst_core.images import ssim

    rng = np.random.default_rng(0)
    picture = rng.random((40, 50, 3))
    assert ssim(picture, picture) == pytest.approx(1.0)
    noisy = np.clip(picture + rng.normal(0, 0.2, picture.shape), 0, 1)
    assert ssim(picture, noisy) < 0.9 and ssim(picture, noisy) < ssim(picture, (picture + noisy) / 2)
    assert ssim(picture, 1 - picture) < 0  # the negative: structure reversed
