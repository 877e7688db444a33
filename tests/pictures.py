"""Synthetic pictures for the tests, made from a seed."""

import numpy as np
import torch


def smooth_picture(seed: int, height: int = 40, width: int = 56) -> np.ndarray:
    """A smooth random RGB picture (H, W, 3) uint8: blobs of colour, like a blurry photo."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.random((1, 3, 4, 5), dtype=np.float32))
    fine = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    return (fine.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def stripes_picture(seed: int, size: int = 48) -> np.ndarray:
    """A high-frequency random texture (H, W, 3) uint8, standing in for a painting."""
    rng = np.random.default_rng(seed)
    return (rng.random((size, size, 3)) * 255).astype(np.uint8)
