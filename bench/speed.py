"""Speed: the textbook Gatys loop, the seed recipe and our default path, side by side in one process.

    python -m bench.speed --sizes 256 512 1024 --runs 3

On whatever device is present (CUDA if there is one), for one content/style pair and one backbone:
1. seconds per iteration, and the fraction of the device's peak that is (the peak measured with a
   large matrix multiply in the same run; an iteration's FLOPs counted by torch's FlopCounterMode);
2. time to quality: wall time until the objective, evaluated the same way for all three at full
   resolution, is within 2 % of what the textbook loop reaches after `--textbook-iterations`;
3. time from the start of a run to its first preview;
4. peak memory (resident set on the CPU, allocated memory on CUDA);
then what each fast path gives (docs/performance.md). Evaluating the objective is not counted in
any time: the clock stops while it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import threading
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from nst_core import load_backbone, load_image, preset, stylize
from nst_core.config import coarse_start
from nst_core.fastpaths import STYLE_CACHE
from nst_core.losses import STYLE_UNIT
from nst_core.stylize import compute_targets, objective

QUALITY_MARGIN = 1.02  # "within 2 % of the textbook loop's objective"


@dataclass
class Trace:
    """One method's run: objective against (paused) wall time, and what it cost."""

    name: str
    points: list[tuple[int, float, float]] = field(default_factory=list)  # (iteration, seconds, objective)
    iteration_times: list[float] = field(default_factory=list)  # seconds per iteration at full size
    first_preview: float = float("nan")
    peak_bytes: int = 0

    def time_to(self, target: float) -> tuple[int, float] | None:
        """(iteration, seconds) of the first point at or under `target`."""
        return next(((i, t) for i, t, value in self.points if value <= target), None)


class Clock:
    """Wall time that stops while the benchmark evaluates a picture."""

    def __init__(self, device: torch.device):
        self.device = device
        self.started = time.perf_counter()
        self.paused = 0.0

    def now(self) -> float:
        _sync(self.device)
        return time.perf_counter() - self.started - self.paused

    @contextlib.contextmanager
    def pause(self):
        at = time.perf_counter()
        yield
        self.paused += time.perf_counter() - at


class PeakMemory:
    """Peak resident memory (CPU, sampled every 20 ms) or peak allocated memory (CUDA) of a block."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak = 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return self
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while self.running:
            with open("/proc/self/statm") as statm:
                self.peak = max(self.peak, int(statm.read().split()[1]) * page)
            time.sleep(0.02)

    def __exit__(self, *_):
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self.running = False
            self.thread.join()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, side: int = 4096, repeats: int = 5) -> float:
    """FLOP/s of a large float32 matrix multiply on `device`, the median of a few."""
    a, b = (torch.randn(side, side, device=device) for _ in range(2))
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        _sync(device)
        started = time.perf_counter()
        a @ b
        _sync(device)
        times.append(time.perf_counter() - started)
    return 2 * side**3 / statistics.median(times)


class Evaluator:
    """The objective of any picture at full resolution, the same way for every method (the engine's)."""

    def __init__(self, net, content: torch.Tensor, style: torch.Tensor, config):
        self.net, self.config = net, config.replace(cache_targets=False)
        self.size = content.shape[-2:]
        self.targets = compute_targets(net, content, style, self.config)

    @torch.no_grad()
    def __call__(self, picture: torch.Tensor) -> float:
        picture = picture.to(self.targets.content.device)
        if picture.ndim == 3:
            picture = picture.unsqueeze(0)
        if picture.shape[-2:] != self.size:  # a coarse scale's picture, enlarged as the next scale would
            picture = F.interpolate(picture, size=tuple(self.size), mode="bicubic", align_corners=False)
        return float(objective(self.net, picture.clamp(0, 1), self.targets, self.config)["total"])


def iteration_flops(net, content: torch.Tensor, evaluator: Evaluator) -> int:
    """Floating-point operations of one objective evaluation and its gradient (one iteration)."""
    image = content.clone().requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        objective(net, image, evaluator.targets, evaluator.config)["total"].backward()
    return counter.get_total_flops()


def textbook(net, content, style, config, iterations, every, evaluator, device, optimizer="lbfgs",
             lr=1.0, name="textbook", target=None) -> Trace:
    """The plain loop: full size from the start, content init, the default's layers and weights.

    L-BFGS (torch's defaults: history 100, no line search) or, for the seed recipe, Adam. Pixels are
    clamped to [0, 1] before each evaluation, as the PyTorch tutorial does.
    """
    trace = Trace(name)
    layer_weights = config.layer_weights
    with PeakMemory(device) as memory:
        clock = Clock(device)
        with torch.no_grad():
            wanted = net(content, config.layers)[config.content_layer]
            grams = {}
            for layer, features in net(style, config.style_layers).items():
                flat = features.flatten(2)
                grams[layer] = flat @ flat.transpose(1, 2) / flat.shape[-1]
        image = content.clone().requires_grad_(True)
        count = 0
        last = clock.now()

        def closure():
            nonlocal count, last
            with torch.no_grad():
                image.clamp_(0, 1)
            if optimizer == "lbfgs":
                solver.zero_grad()
            features = net(image, config.layers)
            content_term = (features[config.content_layer] - wanted).square().sum() / wanted.square().sum()
            style_term = 0
            for layer, weight in layer_weights.items():
                flat = features[layer].flatten(2)
                gram = flat @ flat.transpose(1, 2) / flat.shape[-1]
                style_term = style_term + weight * (gram - grams[layer]).square().sum() / grams[layer].square().sum()
            loss = config.content_weight * content_term + config.style_weight * STYLE_UNIT * style_term
            loss.backward()
            count += 1
            now = clock.now()
            trace.iteration_times.append(now - last)
            last = now
            if count == every:
                trace.first_preview = now
            if count % every == 0:
                with clock.pause():
                    trace.points.append((count, now, evaluator(image.detach())))
                last = clock.now()
            return loss

        if optimizer == "lbfgs":
            solver = torch.optim.LBFGS([image], lr=lr, max_iter=iterations, max_eval=iterations,
                                       tolerance_grad=0.0, tolerance_change=0.0)
            solver.step(closure)
        else:
            solver = torch.optim.Adam([image], lr=lr)
            for _ in range(iterations):
                solver.zero_grad()
                closure()
                solver.step()
                if target is not None and trace.points and trace.points[-1][2] <= target:
                    break
    trace.peak_bytes = memory.peak
    return trace


def ours(content_path, style_path, config, backbone, evaluator, device, target=None) -> Trace:
    """The engine as the studio runs it; stops at the first preview that reaches `target`."""
    trace = Trace("ours")
    with PeakMemory(device) as memory:
        clock = Clock(device)
        last, last_iteration, shape = clock.now(), 0, None
        run = stylize(content_path, style_path, config, backbone=backbone, device=device)
        for step in run:
            now = clock.now()
            if not trace.points:
                trace.first_preview = now
            if step.image.shape[-2:] == evaluator.size == shape:  # full-size iterations, after the scale's set-up
                trace.iteration_times.append((now - last) / (step.iteration - last_iteration))
            shape = step.image.shape[-2:]
            with clock.pause():
                value = evaluator(step.image)
            trace.points.append((step.iteration, now, value))
            last, last_iteration = clock.now(), step.iteration
            if target is not None and value <= target:
                break
        run.close()
    trace.peak_bytes = memory.peak
    return trace


def fast_path_iteration(content_path, style_path, config, backbone, device, iterations) -> float:
    """Median seconds per iteration of an untiled engine run with `config`'s fast paths."""
    times = [step.elapsed for step in stylize(content_path, style_path, config.replace(steps=iterations,
                                                                                        preview_every=1),
                                              backbone=backbone, device=device)]
    return statistics.median(later - earlier for earlier, later in zip(times[2:], times[3:]))


def first_preview(content_path, style_path, config, backbone, device) -> float:
    """Seconds from the call to the first step of a run."""
    started = time.perf_counter()
    run = stylize(content_path, style_path, config, backbone=backbone, device=device)
    next(run)
    run.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default="assets/chelsea.png")
    parser.add_argument("--style", default="assets/starry_night.jpg")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--textbook-iterations", type=int, default=1000)
    parser.add_argument("--quality-max-size", type=int, default=512,
                        help="above this size only per-iteration figures are measured (1000 textbook "
                             "iterations at 1024 px take over an hour on a 2-core CPU)")
    parser.add_argument("--short-iterations", type=int, default=12, help="iterations for per-iteration timings")
    parser.add_argument("--seed-size", type=int, default=128, help="size where the seed recipe runs to the target")
    parser.add_argument("--seed-steps", type=int, default=6000,
                        help="most seed steps to try at --seed-size (0: skip, no seed time to quality)")
    parser.add_argument("--runs", type=int, default=3, help="repeats of the short measurements (medians)")
    parser.add_argument("--fast-paths", type=int, nargs="*", default=[256, 512],
                        help="sizes at which each fast path is measured on its own")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (minutes to compile)")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    backbone = load_backbone()
    net = backbone.net.to(device)
    peak = matmul_peak(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    print(f"device: {name}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"backbone: {backbone.description}")
    print(f"peak: {peak / 1e9:.0f} GFLOP/s (float32 {4096}x{4096} matmul, median of 5)\n")

    seed_steps_needed = _seed_steps_to_quality(args, net, device)
    rows, fast_rows = [], []
    for size in args.sizes:
        rows.append(_compare(args, size, net, backbone, device, peak, seed_steps_needed))
        print(rows[-1], flush=True)
    print("\n| size | method | s/iteration | % of peak | iterations to quality | time to quality | "
          "ratio (÷ ours) | first preview | peak memory |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    for size in args.fast_paths:
        fast_rows += _fast_paths(args, size, backbone, device)
    print("\n| size | fast path | s/iteration | vs plain | first preview |")
    print("|---|---|---|---|---|")
    for row in fast_rows:
        print(row)


def _images(args, size, device):
    return load_image(args.content, size, device), load_image(args.style, size, device)


def _seed_steps_to_quality(args, net, device) -> int | None:
    """Adam steps the seed recipe needs to come within 2 % of the textbook loop, at --seed-size."""
    if not args.seed_steps:
        return None
    config = preset("default", size=args.seed_size)
    content, style = _images(args, args.seed_size, device)
    evaluator = Evaluator(net, content, style, config)
    reference = textbook(net, content, style, config, args.textbook_iterations, 10, evaluator, device)
    target = reference.points[-1][2] * QUALITY_MARGIN
    seed = textbook(net, content, style, config, args.seed_steps, 50, evaluator, device, optimizer="adam",
                    lr=preset("seed").lr, name="seed", target=target)
    reached = seed.time_to(target)
    print(f"seed recipe at {args.seed_size} px: textbook objective after {args.textbook_iterations} iterations "
          f"{reference.points[-1][2]:.4f}, target {target:.4f}; the seed recipe "
          + (f"reaches it after {reached[0]} steps" if reached else
             f"is at {seed.points[-1][2]:.4f} after {args.seed_steps} steps (not reached)"), flush=True)
    return reached[0] if reached else None


def _compare(args, size, net, backbone, device, peak, seed_steps) -> str:
    """Three table rows (textbook, seed, ours) at one size."""
    config = preset("default", size=size, preview_every=10)
    content, style = _images(args, size, device)
    evaluator = Evaluator(net, content, style, config)
    flops = iteration_flops(net, content, evaluator)
    full = size <= args.quality_max_size
    iterations = args.textbook_iterations if full else args.short_iterations
    reference = textbook(net, content, style, config, iterations, 10, evaluator, device)
    target = reference.points[-1][2] * QUALITY_MARGIN if full else None
    seed = textbook(net, content, style, config, args.short_iterations, 10, evaluator, device, optimizer="adam",
                    lr=preset("seed").lr, name="seed")
    studio = coarse_start((config if full else config.replace(preview_every=1)).replace(steps=iterations))
    mine = ours(args.content, args.style, studio, backbone, evaluator, device, target)

    def per_iteration(trace):
        times = trace.iteration_times
        if not times:  # reached the target before two full-size previews
            return math.nan
        return statistics.median(times[2:] if len(times) > 4 else times)  # without warm-up where there is room

    ours_time = mine.time_to(target) if full else None
    rows = []
    for trace in (reference, seed, mine):
        seconds = per_iteration(trace)
        if not full:
            reached, quality, ratio = "-", "-", "-"
        elif trace is seed:
            estimate = seed_steps * seconds if seed_steps else None
            reached = f"{seed_steps} (at {args.seed_size} px)" if seed_steps else "not reached"
            quality = f"≈{estimate:.0f} s (extrapolated)" if estimate else "-"
            ratio = f"≈{estimate / ours_time[1]:.0f}x" if estimate and ours_time else "-"
        else:
            hit = trace.time_to(target)
            reached = str(hit[0]) if hit else "not reached"
            quality = f"{hit[1]:.1f} s" if hit else "-"
            ratio = f"{hit[1] / ours_time[1]:.2f}x" if hit and ours_time else "-"
        rows.append(f"| {size} | {trace.name} | {seconds:.3f} | {100 * flops / seconds / peak:.0f} % | {reached} | "
                    f"{quality} | {ratio} | {trace.first_preview:.2f} s | {trace.peak_bytes / 2**30:.2f} GB |")
    return "\n".join(rows)


def _fast_paths(args, size, backbone, device) -> list[str]:
    """Each fast path on its own, against the plain engine (all of them off)."""
    plain = preset("default", size=size, hold_memory=False, cache_targets=False)
    variants = {
        "plain (all fast paths off)": plain,
        "hold freed memory": plain.replace(hold_memory=True),
        "channels_last": plain.replace(channels_last=True),
        "bf16 autocast": plain.replace(precision="bf16"),
        "studio default (hold memory, style cache)": preset("default", size=size),
    }
    if args.compile:
        variants["torch.compile"] = plain.replace(compile=True)
    rows, base = [], None
    for label, config in variants.items():
        seconds = statistics.median(fast_path_iteration(args.content, args.style, config, backbone, device,
                                                        args.short_iterations) for _ in range(args.runs))
        base = base or seconds
        rows.append(f"| {size} | {label} | {seconds:.3f} | {base / seconds:.2f}x | |")
    default = preset("default", size=size)
    STYLE_CACHE.clear()
    cold = first_preview(args.content, args.style, default, backbone, device)
    warm = statistics.median(first_preview(args.content, args.style, default, backbone, device)
                             for _ in range(args.runs))
    quick = statistics.median(first_preview(args.content, args.style, coarse_start(default), backbone, device)
                              for _ in range(args.runs))
    rows.append(f"| {size} | style cache: first preview, painting seen before | | | {warm:.2f} s (first time "
                f"{cold:.2f} s) |")
    rows.append(f"| {size} | quick sketch (first previews at half size) | | | {quick:.2f} s (without: "
                f"{warm:.2f} s) |")
    return rows


def on_this_device():
    """The device here (the GPU if there is one), the backbone loaded onto it, and the device in words."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    backbone = load_backbone()
    backbone.net.to(device)
    return device, backbone, torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()


def _cpu_name() -> str:
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} cores)"
    return "CPU"


if __name__ == "__main__":
    main()
