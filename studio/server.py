"""The engine as this server holds it: one device, one backbone, the fastest precision and a cost model,
set up once on first use (or in `main()`), never at import."""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass, field

import torch

from nst_core import PRESETS, StyleConfig, load_backbone, resolve_device
from nst_core.backbone import Backbone
from nst_core.config import coarse_start
from nst_core.memory import available_bytes
from nst_core.precision import cpu_bf16_speedup, machine_key, remember, remembered, resolve_precision

from .costs import CostModel, Countdown, calibration_photo, plan

CPU_BUDGET = 90.0  # seconds the default picture should take on a CPU (most people wait this long, not ten minutes)
CPU_STEPS = 150  # its iterations: 5 % above the 300-iteration objective (docs/performance.md)
CPU_SIDES = (512, 448, 384)  # the largest that fits the budget is the default; never smaller (docs/quality.md:
# under 384 px VGG's deepest style layers see a large part of the picture at once and its subject goes)
SLOW_CPU_BUDGET = 150.0  # a CPU too slow for the smallest side in CPU_BUDGET paints it in fewer steps, in this long
MIN_CPU_STEPS = 60  # from the draft start, fewer than this leave the strokes unfinished
# Two start-ups' measurements on one machine differ by up to 1.15 / 0.85 with a noisy neighbour: a default
# side chosen before is kept while its estimate is within this factor of the budget (and no larger side
# fits by as much), so restarts keep the picture people get.
DEFAULT_WOBBLE = 1.35
# The steps, less visible than the side, give way sooner: a kept count below CPU_STEPS (a start on a busy machine,
# or a slow one) goes up to CPU_STEPS once those fit the budget by more than a start's own spread.
STEPS_WOBBLE = 1.15
TYPICAL_PHOTO = (1200, 900)  # a landscape photo, for the estimate before any photo is chosen
PREVIEW_SECONDS = 1.5  # a frame at least this often, whatever the size and device
# Where the studio's runs start: the draft is on screen in half a second and the loop paints on from it, at or
# below the photo start's objective on most held-out pairs and more painted all over (docs/performance.md).
START = "draft"
# ZeroGPU attaches the card only inside a run, so nothing can be measured at start-up: an H200 slice's
# pace, which the first runs then correct.
GPU_PRIOR = CostModel(overhead=0.004, per_megapixel=0.05)
CUDA_CALIBRATION_STEPS = 20  # past the CUDA graph's warm-up and capture, which the first iterations pay

_CHOOSING = threading.Lock()  # the default's choice, read by many page handlers at once
log = logging.getLogger("tee-style-studio")


def live_config(config: StyleConfig, quick_start: bool | None = True) -> StyleConfig:
    """A live run's config: with the quick first look, a half-size sketch first, unless a draft leads (a
    painted picture at once, and the loop goes on from it at full size: docs/performance.md)."""
    return coarse_start(config) if quick_start in (True, None) and config.init != "draft" else config


@dataclass
class Engine:
    device: torch.device
    backbone: Backbone
    precision: str  # "float32" or "bf16", whichever measured faster here
    costs: CostModel
    speedup: float | None  # bf16's speed over float32's on this CPU (`cpu_bf16_speedup`; None: not measured)

    def countdown(self, config: StyleConfig, photo_size: tuple[int, int] = TYPICAL_PHOTO) -> Countdown:
        """The countdown of a run of `config` on a photo of `photo_size` (width, height); its `total` is the
        estimate before the run starts."""
        return Countdown(self.costs, plan(config, photo_size, self.backbone.arch, available_bytes(self.device)),
                         sketch=config.coarse_sketch)

    chosen: dict = field(default_factory=dict, repr=False)  # the CPU default's {"side", "steps"} now

    @property
    def default(self) -> StyleConfig:
        """The default picture for this machine: the full default on a GPU, on a CPU the largest side whose
        run fits CPU_BUDGET. Chosen from the cost model as it stands, which the runs correct as they paint
        (`CostModel.learn`): a start measured beside a busy neighbour does not fix the session's default.
        The choice stays put while the estimates are within DEFAULT_WOBBLE of it (`default_side`), and is
        remembered per machine, so a restart keeps the picture people get."""
        base = PRESETS["default"].replace(precision=self.precision, preview_seconds=PREVIEW_SECONDS, init=START)
        if self.device.type != "cpu":
            return base
        configs = {side: base.replace(size=side, steps=CPU_STEPS) for side in CPU_SIDES}
        seconds = {side: self.countdown(live_config(config)).total for side, config in configs.items()}
        key = f"{machine_key()}-{self.backbone.arch}-{self.precision}-{CPU_STEPS}steps-{CPU_BUDGET:g}s-from384"
        with _CHOOSING:
            kept = self.chosen or remembered("defaults.json").get(key) or {}
            side = default_side(seconds, kept.get("side"))
            steps = default_steps(seconds[side], kept.get("steps") if kept.get("side") == side else None)
            if self.chosen != {"side": side, "steps": steps}:
                if self.chosen:
                    log.info("the default picture is now %d px, %d steps (the runs' pace)", side, steps)
                self.chosen = {"side": side, "steps": steps}
                remember("defaults.json", key, self.chosen)
        return configs[side].replace(steps=steps)

    @property
    def words(self) -> str:
        """What this server runs on, for the page's "About this server"."""
        if self.device.type == "cuda":
            where = f"a graphics card ({torch.cuda.get_device_name(self.device)})"
        else:
            where = f"this computer's processor ({os.cpu_count()} cores)" if self.device.type == "cpu" else \
                str(self.device)
        speed = f"{self.costs.iteration(plan(PRESETS['default'], TYPICAL_PHOTO)[0]):.2f} s a step at 512 pixels"
        quick, full = "quick, slightly less exact arithmetic", "full-precision arithmetic"  # the names second
        if self.speedup is None:
            precision = (f"in {quick}, which this card has (bfloat16)" if self.precision == "bf16"
                         else f"in {full}: this card has no quicker one (float32)")
        elif self.precision == "bf16":
            precision = f"in {quick}, measured {self.speedup:.1f}× faster than {full} here (bfloat16, float32)"
        else:
            measured = f"{1 / self.speedup:.1f}× slower" if self.speedup < 1 else f"only {self.speedup:.2f}× as fast"
            precision = f"in {full}: the quicker one measured {measured} here (float32, bfloat16)"
        return (f"Painting on {where}: {speed}, {precision}. Likeness and style are judged by a "
                f"picture-recognition network: {self.backbone.label}.")


def warm_drafts() -> None:
    """Load the draft network now (about a second), so the first visitor's first frame comes as fast as the
    next one's (a draft in a tenth of a second), not after the network's loading."""
    from nst_core.draft import DraftUnavailable, draft

    try:
        draft(calibration_photo(), calibration_photo(), PRESETS["default"].replace(size=64))
    except DraftUnavailable:
        pass  # the runs say so, and start from the photo


def default_side(seconds: dict[int, float], kept: int | None = None) -> int:
    """The default picture's side from each of CPU_SIDES' estimated seconds: the largest that fits CPU_BUDGET,
    or `kept`, the side an earlier start chose, while the estimates are within DEFAULT_WOBBLE of saying so."""
    if kept in seconds and seconds[kept] <= CPU_BUDGET * DEFAULT_WOBBLE and all(
            seconds[side] > CPU_BUDGET / DEFAULT_WOBBLE for side in CPU_SIDES if side > kept):
        return kept
    return next((side for side in CPU_SIDES if seconds[side] <= CPU_BUDGET), CPU_SIDES[-1])


def default_steps(seconds: float, kept: int | None = None) -> int:
    """The default picture's iterations from its estimate at CPU_STEPS: all of them within CPU_BUDGET (and its
    wobble), else as many as fit SLOW_CPU_BUDGET, in tens, at least MIN_CPU_STEPS: a slow CPU spends its time
    on fewer iterations from the draft rather than on fewer pixels. `kept`, an earlier start's choice, stays
    while the estimate at it is within DEFAULT_WOBBLE of its budget and CPU_STEPS do not fit by STEPS_WOBBLE."""
    def fits(steps: int, wobble: float = 1.0) -> bool:
        budget = CPU_BUDGET if steps == CPU_STEPS else SLOW_CPU_BUDGET
        return seconds * steps / CPU_STEPS <= budget * wobble

    if kept is not None and MIN_CPU_STEPS <= kept <= CPU_STEPS and fits(kept, DEFAULT_WOBBLE) and not (
            kept < CPU_STEPS and fits(CPU_STEPS, 1 / STEPS_WOBBLE)):
        return kept
    if fits(CPU_STEPS):
        return CPU_STEPS
    return max(MIN_CPU_STEPS, min(CPU_STEPS, int(CPU_STEPS * SLOW_CPU_BUDGET / seconds) // 10 * 10))


@functools.cache
def engine() -> Engine:
    """The server's engine, set up on first use: the backbone and the draft network loaded, the precision and
    costs measured."""
    device = resolve_device(os.environ.get("NST_DEVICE", "auto"))
    backbone = load_backbone()
    backbone.net.to(device)
    warm_drafts()
    if os.environ.get("SPACES_ZERO_GPU") and device.type == "cuda":
        return Engine(device, backbone, "bf16", GPU_PRIOR, 1.0)
    base = PRESETS["default"].replace(precision="float32")
    if device.type == "cuda":  # bf16 where the card has it; the first iterations of a run warm up its CUDA graph
        precision = resolve_precision("auto", device)
        return Engine(device, backbone, precision, CostModel.calibrate(backbone, device, base.replace(
            precision=precision), steps=CUDA_CALIBRATION_STEPS), None)
    # The decision `precision="auto"` makes, measured once per machine and cached, so the server, the CLI and
    # every restart agree; only the precision chosen is calibrated.
    precision = resolve_precision("auto", device)
    speedup = cpu_bf16_speedup() if device.type == "cpu" else None
    return Engine(device, backbone, precision, CostModel.calibrate(backbone, device, base.replace(precision=precision)),
                  speedup)
