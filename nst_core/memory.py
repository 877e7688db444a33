"""Estimating a run's peak memory before it starts, choosing a tile size that fits, and the memory a device has
left for a run when others run beside it."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable

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
    per_window = activation_bytes_per_pixel(arch, deepest) * window * BACKWARD_FACTOR
    return int(kept_bytes(height, width, optimizer, budget) + network + per_window)


def kept_bytes(height: int, width: int, optimizer: str, budget: int) -> int:
    """What a run holds between its iterations: the picture and optimiser state, and the content target at
    relu4_x, kept whole. The rest of its peak (activations, gradients in flight) comes and goes each iteration."""
    targets = (height // 8) * (width // 8) * 512 * FLOAT
    return picture_bytes(height, width, optimizer, budget) + targets


def available_bytes(device: torch.device) -> int:
    """Memory a run may take on `device` now: most of what is free. On a GPU that counts PyTorch's cache (memory
    this process holds but no tensor uses, which the driver does not count as free): after a tiled print the
    cache holds gigabytes that the next run can use."""
    if device.type == "cuda":
        try:
            free, _ = torch.cuda.mem_get_info(device)
        except RuntimeError:  # emulated CUDA with no card behind it to ask: plan for the whole card
            return int(torch.cuda.get_device_properties(device).total_memory * 0.9)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int((free + cached) * 0.9)
    pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return int(pages * 0.8)


@dataclass(eq=False)
class Claim:
    """Memory a run on `device` needs at its peak (`need`), of which it holds `kept` between iterations."""

    device: str
    need: int
    kept: int
    started: bool = False  # its first iteration has run

    def unseen(self) -> int:
        """What the device's numbers do not show as taken yet: everything before the first iteration; after it,
        the part that each iteration takes and gives back to PyTorch's cache, which counts as free."""
        return self.need - self.kept if self.started else self.need


class Claims:
    """The memory that the runs on each device have claimed. A run plans against what is available less what
    the runs before it claimed and the device does not show yet, and claims what it needs in the same step,
    so that two runs starting together (a print and a live run on one GPU) do not each plan on all of it."""

    def __init__(self, available: Callable[[torch.device], int] = available_bytes):
        self.available = available  # what the device has for runs, claims aside
        self._lock = threading.Lock()
        self._claims: list[Claim] = []

    def claim(self, device: torch.device, plan: Callable[[int], tuple[int, int]], budget: int = 0) -> Claim:
        """Call `plan(budget)`, which returns the run's (need, kept) bytes for that budget or raises
        DoesNotFitError, with the memory left for the run (or `budget`, when the run was given one), and claim
        what it says until `release`."""
        with self._lock:
            budget = budget or max(0, self.available(device) - self.unseen(device))
            need, kept = plan(budget)
            claim = Claim(str(device), need, kept)
            self._claims.append(claim)
            return claim

    def unseen(self, device: torch.device) -> int:
        """Bytes claimed on `device` that its numbers do not show as taken yet."""
        return sum(claim.unseen() for claim in self._claims if claim.device == str(device))

    def release(self, claim: Claim) -> None:
        """The run has ended (or moved on to its next scale, which claims anew); releasing twice is harmless."""
        with self._lock:
            if claim in self._claims:
                self._claims.remove(claim)


CLAIMS = Claims()  # the process's runs: live pictures, prints and workshop batches alike


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
