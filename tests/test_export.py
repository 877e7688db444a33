"""Print export: dpi and sRGB profile recorded, 16-bit TIFF samples, transparency, print sizes."""

import io

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image, ImageCms

from nst_core.export import PRINT_PRESETS, content_alpha, print_size, save_print, srgb_profile


def read_tiff16(path) -> np.ndarray:
    """The samples of a 16-bit TIFF as (H, W, C), read by tifffile: a reader independent of Pillow's."""
    samples = tifffile.imread(path)
    assert samples.dtype == np.uint16 and samples.ndim == 3
    return samples


def tiff_tags(path) -> dict:
    """The first page's TIFF tags by name, as tifffile reads them."""
    with tifffile.TiffFile(path) as tiff:
        return {tag.name: tag.value for tag in tiff.pages[0].tags.values()}


@pytest.fixture
def picture() -> torch.Tensor:
    return torch.rand(1, 3, 9, 13, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", ["print.png", "print.tif", "print"])
def test_print_records_its_dpi_and_an_srgb_profile(tmp_path, picture, name):
    path = save_print(picture, tmp_path / name, dpi=240)
    with Image.open(path) as image:
        assert image.mode == "RGB" and image.size == (13, 9)
        assert image.info["dpi"] == pytest.approx((240, 240), abs=0.01)  # PNG stores dots per metre
        profile = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
        assert "sRGB" in ImageCms.getProfileDescription(profile)
        assert np.abs(np.asarray(image) / 255 - picture[0].permute(1, 2, 0).numpy()).max() <= 0.5 / 255 + 1e-6
    assert path.suffix in (".png", ".tif")


def test_sixteen_bit_tiff_keeps_sixteen_bit_samples(tmp_path, picture):
    path = save_print(picture, tmp_path / "print.tiff", dpi=300, bits=16)
    samples = read_tiff16(path)
    expected = picture[0].permute(1, 2, 0).double().numpy()
    assert np.abs(samples / 65535 - expected).max() <= 0.51 / 65535  # rounding, and float32's last bit
    assert len(np.unique(samples)) > 256  # more levels than 8 bits have
    tags = tiff_tags(path)
    assert tags["XResolution"] == tags["YResolution"] == (300, 1) and tags["ResolutionUnit"] == 2  # inches
    assert tags["InterColorProfile"] == srgb_profile() and tags["PhotometricInterpretation"] == 2  # RGB
    with Image.open(path) as image:  # Pillow decodes it too (to 8 bits), with the dpi and the profile
        assert image.info["dpi"] == (300, 300) and image.info["icc_profile"] == srgb_profile()
        assert np.abs(np.asarray(image.convert("RGB")) / 255 - expected).max() <= 1.5 / 255


def test_sixteen_bit_tiff_with_alpha(tmp_path, picture):
    mask = torch.linspace(0, 1, 13).expand(9, 13)
    path = save_print(picture, tmp_path / "sticker.tif", bits=16, alpha=mask)
    samples = read_tiff16(path)
    assert samples.shape == (9, 13, 4)
    assert np.abs(samples[..., 3] / 65535 - mask.numpy()).max() <= 0.51 / 65535
    assert tiff_tags(path)["ExtraSamples"] == (2,)  # unassociated alpha: the colours are not premultiplied
    with Image.open(path) as image:  # Pillow reads the alpha too, with the dpi and the profile
        assert image.mode == "RGBA" and image.info["dpi"] == (300, 300) and "icc_profile" in image.info
        assert np.abs(np.asarray(image.getchannel("A")) / 255 - mask.numpy()).max() <= 1.5 / 255


@pytest.mark.parametrize("shape", [(9, 13), (1, 1, 9, 13)])
def test_alpha_makes_an_rgba_png_with_that_alpha(tmp_path, picture, shape):
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    with Image.open(save_print(picture, tmp_path / "sticker.png", alpha=mask)) as image:
        assert image.mode == "RGBA"
        alpha = np.asarray(image.getchannel("A")) / 255
    assert np.abs(alpha - mask.reshape(9, 13).numpy()).max() <= 0.5 / 255 + 1e-6


def test_bad_requests_are_refused_clearly(tmp_path, picture):
    with pytest.raises(ValueError, match="bits must be 8 or 16"):
        save_print(picture, tmp_path / "a.png", bits=12)
    with pytest.raises(ValueError, match="written as TIFF"):
        save_print(picture, tmp_path / "a.png", bits=16)
    with pytest.raises(ValueError, match="PNG or TIFF"):
        save_print(picture, tmp_path / "a.jpg")
    with pytest.raises(ValueError, match="dpi"):
        save_print(picture, tmp_path / "a.png", dpi=0)
    with pytest.raises(ValueError, match="alpha mask"):
        save_print(picture, tmp_path / "a.png", alpha=torch.ones(4, 4))


def test_content_alpha_finds_transparency(tmp_path):
    rgba = Image.new("RGBA", (6, 4), (255, 0, 0, 255))
    rgba.putpixel((0, 0), (255, 0, 0, 0))
    alpha = content_alpha(rgba)
    assert alpha.shape == (1, 1, 4, 6) and alpha[0, 0, 0, 0] == 0 and alpha[0, 0, 3, 5] == 1
    paletted = Image.new("P", (6, 4), 1)
    paletted.putpixel((2, 1), 0)
    paletted.info["transparency"] = 0  # palette entry 0 is see-through, as in a GIF
    path = tmp_path / "logo.png"
    paletted.save(path, transparency=0)
    for source in (paletted, path, path.read_bytes()):
        mask = content_alpha(source)
        assert mask[0, 0, 1, 2] == 0 and mask.sum() == 6 * 4 - 1
    assert content_alpha(Image.new("LA", (3, 3), (9, 128)))[0, 0, 0, 0] == pytest.approx(128 / 255)


def test_content_alpha_is_none_for_opaque_pictures(tmp_path):
    Image.new("RGB", (5, 5)).save(tmp_path / "photo.png")
    assert content_alpha(tmp_path / "photo.png") is None
    assert content_alpha(Image.new("RGBA", (5, 5), (1, 2, 3, 255))) is None  # an alpha that hides nothing


def test_content_alpha_follows_the_exif_rotation():
    image = Image.new("RGBA", (6, 4), (0, 0, 0, 255))
    image.putpixel((0, 0), (0, 0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise, as load_image shows it
    buffer = io.BytesIO()
    image.save(buffer, "PNG", exif=exif.tobytes())
    mask = content_alpha(buffer.getvalue())
    assert mask.shape == (1, 1, 6, 4) and mask[0, 0, 0, -1] == 0


def test_print_size_presets_and_custom_sizes():
    assert print_size("tee") == (4500, 5400) and print_size(" Mug ") == (2700, 1100)
    assert all(print_size(name) == size for name, size in PRINT_PRESETS.items())
    assert print_size("3000x4000") == (3000, 4000) and print_size("640 × 480") == (640, 480)
    assert print_size((800, 600)) == (800, 600)


@pytest.mark.parametrize("bad, words", [
    ("hoodie", "unknown print size"), ("12x", "unknown print size"), ("-5x10", "unknown print size"),
    ("10x10", "too small"), ("20000x20000", "over the"), ((800.5, 600), "whole numbers"),
])
def test_print_size_refuses_bad_sizes(bad, words):
    with pytest.raises(ValueError, match=words):
        print_size(bad)
