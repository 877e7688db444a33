"""Estimating a run's peak memory before it starts, and choosing a tile size that fits."""

from __future__ import annotations

import os

import torch

from .backbone import BLOCK_WIDTHS, CONVS_PER_BLOCK
from .tiling import GRID

FLOAT = 4  # bytes
GIB = 1024**3
# Activations kept for the backward pass, gradients in flight and the allocator's slack, as a multiple
# of the forward activations: measured at 0.9-1.0 on this CPU (docs/print.md), with room to spare.
BACKWARD_FACTOR = 1.5
MAX_HISTORY, MIN_HISTORY = 50, 5  # curvature pairs L-BFGS keeps; each holds two picture-sized vectors


class DoesNotFitError(MemoryError):
    """The run cannot fit in the memory available, with the numbers and what to change."""


def activation_bytes_per_pixel(arch: str, deepest: str) -> float:
    """Bytes of activations one input pixel costs in a forward pass up to the layer `deepest`."""
    block, index = int(deepest[4]), int(deepest[6])
    total = 0.0
    for b, (count, width) in enumerate(zip(CONVS_PER_BLOCK[arch], BLOCK_WIDTHS), start=1):
        if b > block:
            break
        convs = count if b < block else index
        density = 1 / 4 ** (b - 1)  # positions per pixel at this block's resolution
        total += convs * width * density * 2  # each convolution's output and its ReLU's
    return total * FLOAT


def lbfgs_history(height: int, width: int, budget: int) -> int:
    """As many L-BFGS curvature pairs as a quarter of the budget holds, between 5 and 50."""
    pair = 2 * 3 * height * width * FLOAT
    return max(MIN_HISTORY, min(MAX_HISTORY, budget // 4 // pair))


def picture_bytes(height: int, width: int, optimizer: str, budget: int) -> int:
    """The picture, its gradient, a last good copy, and the optimiser's state."""
    vector = 3 * height * width * FLOAT
    if optimizer == "adam":
        state = 2 * vector
    else:
        state = (2 * lbfgs_history(height, width, budget) + 2) * vector
    return 3 * vector + state


def run_bytes(height: int, width: int, tile: int, margin: int, arch: str, deepest: str, optimizer: str,
              budget: int) -> int:
    """Peak bytes of one iteration: whole-picture tensors plus one tile window's forward and backward."""
    if tile:
        window = min(height, tile + 2 * margin) * min(width, tile + 2 * margin)
    else:
        window = height * width
    network = 80 * 1024**2 * 2  # VGG weights (up to relu5_1) and their temporaries
    targets = (height // 8) * (width // 8) * 512 * FLOAT  # the content target at relu4_x, kept whole
    per_window = activation_bytes_per_pixel(arch, deepest) * window * BACKWARD_FACTOR
    return int(picture_bytes(height, width, optimizer, budget) + network + targets + per_window)


def available_bytes(device: torch.device) -> int:
    """Memory the run may take on `device`: most of what is free now."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.9)
    pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return int(pages * 0.8)


def choose_tile(height: int, width: int, margin: int, arch: str, deepest: str, optimizer: str,
                budget: int) -> int:
    """0 when the whole picture fits in `budget` bytes, else the largest tile side (on the grid) that does."""
    if run_bytes(height, width, 0, margin, arch, deepest, optimizer, budget) <= budget:
        return 0
    tile = GRID * (max(height, width) // GRID)
    while tile >= 4 * GRID:
        if run_bytes(height, width, tile, margin, arch, deepest, optimizer, budget) <= budget:
            return tile
        tile -= 4 * GRID if tile > 512 else GRID
    need = run_bytes(height, width, 4 * GRID, margin, arch, deepest, optimizer, budget)
    raise DoesNotFitError(
        f"a {width}x{height} picture needs about {need / GIB:.1f} GB even in small tiles, but only "
        f"{budget / GIB:.1f} GB is available: choose a smaller size, or Adam (less optimiser memory)"
    )
