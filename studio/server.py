"""The engine as this server holds it: one device, one backbone, the fastest precision and a cost model,
set up once on first use (or in `main()`), never at import."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import torch

from nst_core import PRESETS, StyleConfig, load_backbone, resolve_device
from nst_core.backbone import Backbone
from nst_core.config import coarse_start
from nst_core.memory import available_bytes
from nst_core.precision import resolve_precision

from .costs import CostModel, Countdown, plan

CPU_BUDGET = 90.0  # seconds the default picture should take on a CPU (most people wait this long, not ten minutes)
CPU_STEPS = 150  # its iterations: 5 % above the 300-iteration objective (docs/performance.md)
CPU_SIDES = (512, 448, 384, 320, 256)  # the largest that fits the budget is the default
TYPICAL_PHOTO = (1200, 900)  # a landscape photo, for the estimate before any photo is chosen
PREVIEW_SECONDS = 1.5  # a frame at least this often, whatever the size and device
# ZeroGPU attaches the card only inside a run, so nothing can be measured at start-up: an H200 slice's
# pace, which the first runs then correct.
GPU_PRIOR = CostModel(overhead=0.004, per_megapixel=0.05)
CUDA_CALIBRATION_STEPS = 20  # past the CUDA graph's warm-up and capture, which the first iterations pay


@dataclass
class Engine:
    device: torch.device
    backbone: Backbone
    precision: str  # "float32" or "bf16", whichever measured faster here
    costs: CostModel
    speedup: float | None  # float32's iteration time over the chosen precision's, as measured (None: not measured)

    def countdown(self, config: StyleConfig, photo_size: tuple[int, int] = TYPICAL_PHOTO) -> Countdown:
        """The countdown of a run of `config` on a photo of `photo_size` (width, height); its `total` is the
        estimate before the run starts."""
        return Countdown(self.costs, plan(config, photo_size, self.backbone.arch, available_bytes(self.device)))

    @functools.cached_property
    def default(self) -> StyleConfig:
        """The default picture for this machine: the full default on a GPU, on a CPU the largest side whose
        run fits CPU_BUDGET. Chosen once, from the start-up measurement, so it stays put while runs refine
        the estimates."""
        base = PRESETS["default"].replace(precision=self.precision, preview_seconds=PREVIEW_SECONDS)
        if self.device.type != "cpu":
            return base
        for side in CPU_SIDES:
            config = base.replace(size=side, steps=CPU_STEPS)
            if self.countdown(coarse_start(config)).total <= CPU_BUDGET:
                return config
        return config

    @property
    def words(self) -> str:
        """What this server runs on, for the page's "About this server"."""
        where = "a GPU (" + torch.cuda.get_device_name(self.device) + ")" if self.device.type == "cuda" else (
            f"the CPU ({os.cpu_count()} cores)" if self.device.type == "cpu" else str(self.device))
        speed = f"{self.costs.iteration(plan(PRESETS['default'], TYPICAL_PHOTO)[0]):.2f} s per iteration at 512 px"
        if self.speedup is None:
            precision = ("bfloat16 convolutions (this card has them)" if self.precision == "bf16"
                         else "float32 (this card has no bfloat16)")
        else:
            precision = (f"bfloat16 convolutions (measured {self.speedup:.1f}× faster than float32 here)"
                         if self.precision == "bf16" else "float32 (bfloat16 measured no faster here)")
        return f"Painting on {where}, {speed}, {precision}. Network: {self.backbone.label}."


@functools.cache
def engine() -> Engine:
    """The server's engine, set up on first use: the backbone loaded, the precision and costs measured."""
    device = resolve_device(os.environ.get("NST_DEVICE", "auto"))
    backbone = load_backbone()
    backbone.net.to(device)
    if os.environ.get("SPACES_ZERO_GPU") and device.type == "cuda":
        return Engine(device, backbone, "bf16", GPU_PRIOR, 1.0)
    base = PRESETS["default"].replace(precision="float32")
    if device.type == "cuda":  # bf16 where the card has it; the first iterations of a run warm up its CUDA graph
        precision = resolve_precision("auto", device)
        return Engine(device, backbone, precision, CostModel.calibrate(backbone, device, base.replace(
            precision=precision), steps=CUDA_CALIBRATION_STEPS), None)
    costs = CostModel.calibrate(backbone, device, base)
    bf16 = CostModel.calibrate(backbone, device, base.replace(precision="bf16"), sides=(128, 256), steps=3)
    probe = plan(base, TYPICAL_PHOTO)[0]
    speedup = costs.iteration(probe) / bf16.iteration(probe)
    if speedup > 1.1:  # only where the processor has bf16 (AVX512-BF16, AMX, tensor cores); elsewhere 3.5x slower
        return Engine(device, backbone, "bf16", bf16, speedup)
    return Engine(device, backbone, "float32", costs, speedup)
