"""Images in and out: load anything Pillow reads (any mode, EXIF-rotated), resize, save PNG."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 80_000_000  # a 16-bit 80 MP image already takes ~1 GB to decode; beyond this, refuse
MIN_SIDE = 16  # pixels on the short side after resizing: VGG's deepest layer needs a position to look at

ImageLike = Union[str, os.PathLike, bytes, Image.Image, np.ndarray, torch.Tensor]


class ImageError(ValueError):
    """An image that cannot be used, with a message that says why and what to do."""


def open_image(source: ImageLike, flatten: bool = True) -> Image.Image:
    """A decoded RGB PIL image from a path, bytes, PIL image, array (H, W[, C]) or tensor (…, 3, H, W).

    Transparency is laid on white (`flatten`), as on a white tee; or dropped, keeping the colours under it,
    for a picture painted with regions that left some of it out."""
    if isinstance(source, torch.Tensor):
        return to_pil(source)
    if isinstance(source, np.ndarray):
        return _rgb(Image.fromarray(_array_to_uint8(source)), flatten)
    if isinstance(source, Image.Image):
        return _rgb(ImageOps.exif_transpose(source), flatten)
    name = "the image" if isinstance(source, bytes) else str(source)
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                _check_pixels(image, name)
                image.seek(0)  # the first frame of an animation
                image.load()
                return _rgb(ImageOps.exif_transpose(image), flatten)
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{name} is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image this studio can read: use a PNG, JPEG, WebP, TIFF, BMP or GIF "
                         "picture") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name} is too large to decode safely (over {MAX_PIXELS:,} pixels)") from None
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt data
        if isinstance(error, ImageError):
            raise
        raise ImageError(f"{name} could not be decoded, it may be truncated or corrupt ({error})") from None


def load_image(source: ImageLike, size: int | None = None, device: torch.device | str = "cpu",
               aspect: float = 0.0) -> torch.Tensor:
    """An image as a (1, 3, H, W) float tensor in [0, 1], cropped to `aspect` (width / height) if given,
    its longest side resized to `size`."""
    image = open_image(source)
    if aspect:
        image = crop_to_aspect(image, aspect)
    if size is not None:
        image = resize_longest(image, size, fitted_size(image.size, size, aspect))
    array = np.asarray(image, dtype=np.float32) / 255.0  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous().to(device)


def source_name(source: ImageLike, fallback: str) -> str:
    """How a message names a picture: its path (which a front end replaces by what it is), else `fallback`."""
    return str(source) if isinstance(source, (str, os.PathLike)) else fallback


def check_paintable(image: Image.Image, name: str = "the image") -> Image.Image:
    """`image`, if it has enough pixels to paint: a picture under MIN_SIDE on its short side holds nothing the
    network can see (a 1x1 photo would be painted as a texture of one colour)."""
    if min(image.size) < MIN_SIDE:
        raise ImageError(f"{name} is {image.width}x{image.height} pixels, too small to paint: it needs at least "
                         f"{MIN_SIDE} pixels on its short side")
    return image


def fitted_size(size: tuple[int, int], longest: int, aspect: float = 0.0) -> tuple[int, int]:
    """(width, height) of a picture of `size` cropped to `aspect` (if given) with its longest side resized to
    `longest`. With an aspect the shape is exact (a print is 4500x5400, not 4504x5400 from the crop's rounding)."""
    if aspect:
        return (longest, round(longest / aspect)) if aspect >= 1 else (round(longest * aspect), longest)
    width, height = size
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_longest(image: Image.Image, size: int, shape: tuple[int, int] | None = None) -> Image.Image:
    """Resize so the longest side is `size`, keeping the aspect ratio (Lanczos, up or down), or to
    exactly `shape` (width, height)."""
    width, height = image.size
    new = shape or fitted_size(image.size, size)
    if min(new) < MIN_SIDE:
        raise ImageError(
            f"the image is {width}x{height}: at {size} px on its longest side its short side would be "
            f"{min(new)} px, under the {MIN_SIDE} px the network needs; crop it or choose a larger size"
        )
    if new == image.size:
        return image
    return image.resize(new, Image.Resampling.LANCZOS, reducing_gap=3.0)


def crop_to_aspect(image: Image.Image, aspect: float) -> Image.Image:
    """The largest centred crop with width / height = `aspect`."""
    return image.crop(crop_box(image.size, aspect))


def crop_box(size: tuple[int, int], aspect: float) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the largest centred crop of a (width, height) picture with width / height
    = `aspect`: one box for the photo, its regions and its transparency, so they stay in register."""
    width, height = size
    if width / height > aspect:
        new_width = max(1, round(height * aspect))
        left = (width - new_width) // 2
        return left, 0, left + new_width, height
    new_height = max(1, round(width / aspect))
    top = (height - new_height) // 2
    return 0, top, width, top + new_height


def ssim(a: np.ndarray, b: np.ndarray, window: int = 7) -> float:
    """Structural similarity (Wang et al. 2004) of two pictures in [0, 1] of one shape, (H, W) or (H, W, C):
    the mean over `window`-pixel squares of the local SSIM, each channel alike (uniform windows)."""
    from numpy.lib.stride_tricks import sliding_window_view

    c1, c2 = 0.01**2, 0.03**2
    a, b = (np.atleast_3d(np.asarray(x, dtype=np.float64)) for x in (a, b))

    def local_mean(x: np.ndarray) -> np.ndarray:
        return sliding_window_view(x, (window, window), axis=(0, 1)).mean(axis=(-2, -1))

    mean_a, mean_b = local_mean(a), local_mean(b)
    var_a = local_mean(a * a) - mean_a**2
    var_b = local_mean(b * b) - mean_b**2
    covariance = local_mean(a * b) - mean_a * mean_b
    index = (2 * mean_a * mean_b + c1) * (2 * covariance + c2)
    index /= (mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2)
    return float(index.mean())


def to_pil(image: torch.Tensor, alpha: torch.Tensor | None = None) -> Image.Image:
    """A (3, H, W) or (1, 3, H, W) tensor in [0, 1] as an 8-bit RGB PIL image; RGBA with an `alpha` of the
    picture's height and width (any leading dimensions of size 1)."""
    if image.ndim == 4:
        image = image[0]
    array = image.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    if alpha is None:
        return Image.fromarray(array, "RGB")
    mask = alpha.detach().float().reshape(*array.shape[:2], 1).clamp(0, 1).mul(255).round().byte().cpu().numpy()
    return Image.fromarray(np.concatenate([array, mask], -1), "RGBA")


def save_image(image: torch.Tensor | Image.Image, path: str | os.PathLike) -> Path:
    """Save as PNG (the format follows the suffix; PNG when there is none) and return the path."""
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = image if isinstance(image, Image.Image) else to_pil(image)
    picture.save(path)
    return path


def _check_pixels(image: Image.Image, name: str) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} is {width}x{height} ({width * height / 1e6:.0f} MP), over the {MAX_PIXELS / 1e6:.0f} MP "
            "that can be decoded safely; scale it down first"
        )
    if width < 1 or height < 1:
        raise ImageError(f"{name} has no pixels ({width}x{height})")


def _rgb(image: Image.Image, flatten: bool = True) -> Image.Image:
    """Any Pillow mode as 8-bit RGB; transparency is laid on white, as on a white tee or sticker sheet (or,
    without `flatten`, dropped)."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = Image.fromarray(_array_to_uint8(np.asarray(image)))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") and flatten:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _array_to_uint8(array: np.ndarray) -> np.ndarray:
    """Bring an image array of any dtype to uint8: floats are read as [0, 1], wide ints by their range."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = array.transpose(1, 2, 0)  # channels first
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ImageError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4), got shape {array.shape}")
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageError("the image array contains NaN or infinite values")
        return (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        top = 65535 if array.max(initial=0) > 255 else 255
        return (np.clip(array, 0, top).astype(np.float64) * (255 / top)).round().astype(np.uint8)
    raise ImageError(f"unsupported image array type {array.dtype}")
