"""Print files: PNG or TIFF carrying the dpi and an sRGB profile, 16-bit TIFF, transparency, print sizes."""

from __future__ import annotations

import functools
import io
import os
import re
from pathlib import Path

import numpy as np
import tifffile
import torch
from PIL import Image, ImageCms, ImageOps

from .images import MAX_PIXELS, MIN_SIDE, ImageError, load_image

PRINT_DPI = 300  # what print-on-demand shops ask for; the presets below are sized at it

PRINT_PRESETS: dict[str, tuple[int, int]] = {  # name -> (width, height) in pixels at PRINT_DPI
    "tee": (4500, 5400),  # 15 x 18 in, the largest front print of a direct-to-garment tee
    "sticker": (1200, 1200),  # 4 x 4 in die-cut sticker
    "mug": (2700, 1100),  # 9 x 3.7 in wrap around an 11 oz mug, the handle's gap left out
    "poster": (5400, 7200),  # 18 x 24 in poster
}

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def save_print(image: torch.Tensor | Image.Image, path: str | os.PathLike, dpi: int = PRINT_DPI, *,
               bits: int = 8, alpha: torch.Tensor | np.ndarray | None = None) -> Path:
    """Save a print file with its dpi and an sRGB profile: 8-bit PNG or TIFF, or 16-bit TIFF; RGBA with `alpha`."""
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 1 <= dpi <= 10_000:
        raise ValueError(f"dpi must be a whole number of dots per inch such as 300, got {dpi!r}")
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png" if bits == 8 else ".tif")
    if path.suffix.lower() not in (".png", ".tif", ".tiff"):
        raise ValueError(f"{path.name}: print files are written as PNG or TIFF, use a .png or .tif name")
    if bits == 16 and path.suffix.lower() == ".png":
        raise ValueError(f"{path.name}: 16-bit prints are written as TIFF, use a .tif name (or bits=8 for PNG)")
    if isinstance(image, Image.Image):
        image = load_image(image)
    samples = _samples(image, bits)  # (H, W, 3)
    if alpha is not None:
        mask = torch.as_tensor(alpha)
        if mask.shape[-2:] != image.shape[-2:] or mask.numel() != mask.shape[-2] * mask.shape[-1]:
            raise ValueError(f"the alpha mask must be (H, W) or (1, 1, H, W) with the picture's size "
                             f"{tuple(image.shape[-2:])}, got shape {tuple(mask.shape)}")
        samples = np.dstack([samples, _samples(mask.reshape(1, *mask.shape[-2:]), bits)])  # (H, W, 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    if bits == 16:
        _write_tiff16(path, samples, dpi, srgb_profile())
    else:
        picture = Image.fromarray(samples, "RGBA" if alpha is not None else "RGB")
        picture.save(path, dpi=(dpi, dpi), icc_profile=srgb_profile())
    return path


@functools.lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """An sRGB ICC profile, so print shops read the pixel values as the colours seen on screen."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def content_alpha(source: str | os.PathLike | bytes | Image.Image | np.ndarray) -> torch.Tensor | None:
    """The transparency of a content picture as a (1, 1, H, W) mask in [0, 1]; None when nothing is transparent."""
    if isinstance(source, Image.Image):
        return _alpha(source)
    if isinstance(source, np.ndarray):  # pixels sent to a worker: (H, W, 4) 8-bit RGBA keeps its transparency
        return _alpha(Image.fromarray(source)) if source.ndim == 3 and source.shape[-1] == 4 and \
            source.dtype == np.uint8 else None
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with Image.open(stream) as image:
            return _alpha(image)
    except OSError as error:  # missing, unreadable or not an image at all
        raise ImageError(f"could not read the transparency of the content picture ({error})") from None


def print_size(name_or_size: str | tuple[int, int]) -> tuple[int, int]:
    """Pixel (width, height) of a preset ("tee", "sticker", "mug", "poster") or of "WxH", such as "3000x4000"."""
    if isinstance(name_or_size, tuple) and len(name_or_size) == 2:
        width, height = name_or_size
    else:
        text = str(name_or_size).strip().lower()
        if text in PRINT_PRESETS:
            return PRINT_PRESETS[text]
        match = re.fullmatch(r"(\d+)\s*[x×*]\s*(\d+)", text)
        if match is None:
            raise ValueError(f"unknown print size {name_or_size!r}: use one of {', '.join(PRINT_PRESETS)} "
                             "or WIDTHxHEIGHT in pixels, such as 3000x4000")
        width, height = int(match[1]), int(match[2])
    if not all(isinstance(side, int) and not isinstance(side, bool) for side in (width, height)):
        raise ValueError(f"a print size is two whole numbers of pixels, got {name_or_size!r}")
    if min(width, height) < MIN_SIDE:
        raise ValueError(f"a print of {width}x{height} px is too small: each side needs at least {MIN_SIDE} px")
    if width * height > MAX_PIXELS:
        raise ValueError(f"a print of {width}x{height} px is over the {MAX_PIXELS / 1e6:.0f} MP this studio "
                         f"renders; at {PRINT_DPI} dpi even an 18x24 in poster is {5400 * 7200 / 1e6:.0f} MP")
    return width, height


def _alpha(image: Image.Image) -> torch.Tensor | None:
    image = ImageOps.exif_transpose(image)  # the orientation load_image gives the pixels
    if image.mode not in _ALPHA_MODES and "transparency" not in image.info:
        return None
    alpha = np.asarray(image.convert("RGBA").getchannel("A"), dtype=np.float32) / 255.0  # (H, W)
    if alpha.min() == 1.0:  # an alpha channel that hides nothing would only make an RGBA print for no reason
        return None
    return torch.from_numpy(alpha)[None, None]


def _samples(image: torch.Tensor, bits: int) -> np.ndarray:
    """The first picture of a (..., C, H, W) tensor in [0, 1] as (H, W, C) 8- or 16-bit integers."""
    top, dtype = (255, np.uint8) if bits == 8 else (65535, np.dtype("<u2"))
    picture = image.detach().reshape(-1, *image.shape[-3:])[0].float()
    return picture.clamp(0, 1).mul(top).round().permute(1, 2, 0).cpu().numpy().astype(dtype)


def _write_tiff16(path: Path, samples: np.ndarray, dpi: int, icc: bytes) -> None:
    """A 16-bit RGB or RGBA TIFF through tifffile: Pillow has no 16-bit RGB mode to write one."""
    tifffile.imwrite(
        path, samples, photometric="rgb", planarconfig="contig",
        extrasamples=["unassalpha"] if samples.shape[-1] == 4 else None,  # straight alpha, as in PNG
        compression=None,  # uncompressed: every print shop's reader opens it
        resolution=(dpi, dpi), resolutionunit="inch", iccprofile=icc,
        metadata=None, software=False,  # no tifffile JSON description or name: the file holds the print alone
    )
