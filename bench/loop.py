"""The loop's figures on whatever device is here, side by side in one process (docs/performance.md, "GPU").

    python -m bench.loop                                    # on a GPU: the whole table, about 3 minutes
    python -m bench.loop --size 128 --steps 20 --batches 1 2 --no-tee   # a quick look on a CPU

1. Milliseconds per iteration at --size: the engine as it runs (batched L-BFGS, CUDA graph on a GPU,
   precision "auto"), torch.optim.LBFGS with an eager closure (the engine before), the textbook loop,
   the objective's forward and backward alone (eager and graphed, float32 and bf16), and the optimiser
   alone (torch's two-loop L-BFGS against the compact form) — for the offline VGG16 and a randomly
   initialised VGG19 (the same FLOPs as the real one).
2. The default run: wall time on a warm process, set-up included, and time to the first frame; the
   objective it reaches beside torch's L-BFGS after as many iterations.
3. Workshop: pictures per minute at each batch size in --batches.
4. A 4500x5400 tee print, coarse to fine, with its peak memory (skipped with --no-tee).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.convergence import lbfgs
from bench.speed import Evaluator, PeakMemory, _sync, matmul_peak, on_this_device, textbook
from nst_core import load_image, preset, stylize
from nst_core.backbone import FeatureNet
from nst_core.fastpaths import TunedNet
from nst_core.graphs import Replay
from nst_core.optim import LBFGS
from nst_core.printing import print_config
from nst_core.stylize import compute_targets, objective_terms, stylize_batch

CONTENT, STYLE = "assets/chelsea.png", "assets/starry_night.jpg"


def timed(function, repeats: int, device: torch.device, warmup: int = 3) -> float:
    """Median milliseconds of `function()` after `warmup` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        _sync(device)
        started = time.perf_counter()
        function()
        _sync(device)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def engine_run(config, backbone, device, content=CONTENT, style=STYLE) -> dict:
    """One engine run: wall time, first frame, ms per iteration between its previews, final objective."""
    started = time.perf_counter()
    steps = list(stylize(content, style, config, backbone=backbone, device=device))
    wall = time.perf_counter() - started
    later = steps[len(steps) // 3:]  # past set-up and capture
    per_iteration = (later[-1].elapsed - later[0].elapsed) / max(1, later[-1].iteration - later[0].iteration)
    return {"wall": wall, "first": steps[0].elapsed, "ms": 1000 * per_iteration, "last": steps[-1]}


def torch_lbfgs(net, content, style, config, device, iterations: int) -> tuple[float, torch.Tensor]:
    """ms per iteration of torch.optim.LBFGS (history 50, one iteration a call) on an eager closure, as the
    engine ran before, and the picture it ends with."""
    tuned = TunedNet(net, config, device)
    targets = compute_targets(tuned, content, style, config.replace(cache_targets=False))
    image, iteration = lbfgs(tuned, content, targets, config, history=50)
    for _ in range(3):
        iteration()
    _sync(device)
    started = time.perf_counter()
    for _ in range(iterations - 3):
        iteration()
    _sync(device)
    return 1000 * (time.perf_counter() - started) / (iterations - 3), image.detach()


def objective_alone(net, content, style, config, device, graphed: bool, repeats: int) -> float:
    """ms of the objective's forward and backward, eager or replayed from a CUDA graph."""
    tuned = TunedNet(net, config, device)
    targets = compute_targets(tuned, content, style, config.replace(cache_targets=False))
    image = content.clone().requires_grad_(True)

    def evaluate():
        image.grad = None
        total = objective_terms(tuned, image, targets, config)["total"]
        total.sum().backward()
        return total.detach()

    return timed(Replay(evaluate, device, enabled=graphed), repeats, device)


def optimiser_alone(shape, device, repeats: int, history: int = 50) -> tuple[float, float]:
    """ms of one step of torch's L-BFGS and of the compact form, with a full history, on a picture of `shape`."""
    generator = torch.Generator().manual_seed(0)
    # An ill-conditioned diagonal quadratic: far from converged after the warm-up, so every pair is kept.
    weights = (torch.rand(shape, generator=generator) * 1e3 + 1e-3).to(device)
    x = torch.rand(shape, generator=generator).to(device).requires_grad_(True)
    solver = torch.optim.LBFGS([x], max_iter=1, history_size=history, tolerance_grad=0.0, tolerance_change=0.0)

    def closure():
        solver.zero_grad()
        value = (weights * x.square()).sum()
        value.backward()
        return value

    for _ in range(history + 2):
        solver.step(closure)
    assert len(solver.state[x]["old_dirs"]) == history
    torch_ms = timed(lambda: solver.step(closure), repeats, device, warmup=0)
    y = x.detach().clone()
    compact = LBFGS(y, y.new_ones(shape[0]), history)

    def compact_step():  # the same objective's gradient, written out
        compact.step(y, 2 * weights * y)

    for _ in range(history + 2):
        compact_step()
    assert bool((compact.pairs >= history).all())
    return torch_ms, timed(compact_step, repeats, device, warmup=0)


def workshop(batch: int, config, backbone, device) -> float:
    """Pictures per minute when `batch` people's runs paint as one batch."""
    started = time.perf_counter()
    for _ in stylize_batch([CONTENT] * batch, [STYLE] * batch, config, backbone=backbone, device=device):
        pass
    return 60 * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=300, help="iterations of the default run and the workshop")
    parser.add_argument("--repeats", type=int, default=20, help="timed repeats of the short measurements")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--no-tee", action="store_true", help="skip the 4500x5400 tee print")
    parser.add_argument("--tee-steps", type=int, default=300, help="iterations at the tee's coarsest scale")
    args = parser.parse_args()

    device, backbone, name = on_this_device()
    print(f"device: {name}; torch {torch.__version__} (CUDA {torch.version.cuda}); {torch.get_num_threads()} "
          f"threads; peak {matmul_peak(device) / 1e12:.1f} TFLOP/s (float32 matmul)")
    print(f"backbone: {backbone.description}\n")

    config = preset("default", size=args.size, steps=args.steps, preview_every=10)
    content, style = load_image(CONTENT, args.size, device), load_image(STYLE, args.size, device)
    height, width = content.shape[-2:]
    rows = []
    torch.manual_seed(0)
    for label, net in (("VGG16 (offline)", backbone.net), ("VGG19 shape (random)", FeatureNet("vgg19").to(device))):
        run = engine_run(config, net, device)
        eager32 = config.replace(precision="float32")
        run32 = engine_run(eager32, net, device)
        before, _ = torch_lbfgs(net, content, style, eager32, device, min(60, args.steps))
        book = textbook(net, content, style, eager32, 30, 10, Evaluator(net, content, style, eager32), device)
        rows += [
            (label, "the engine (batched L-BFGS, graph on CUDA, precision auto)", f"{run['ms']:.2f}"),
            (label, "the engine in float32 (TF32 on CUDA)", f"{run32['ms']:.2f}"),
            (label, "torch.optim.LBFGS, eager closure (the engine before)", f"{before:.2f}"),
            (label, "the textbook loop (bench/speed.py)", f"{1000 * statistics.median(book.iteration_times[5:]):.2f}"),
        ]
        for precision in ("float32", "bf16"):
            for graphed in (False, True):
                if graphed and device.type != "cuda":
                    continue
                ms = objective_alone(net, content, style, config.replace(precision=precision), device, graphed,
                                     args.repeats)
                how = "CUDA graph" if graphed else "eager"
                rows.append((label, f"objective forward+backward alone, {precision}, {how}", f"{ms:.2f}"))
    torch_ms, compact_ms = optimiser_alone((1, 3, height, width), device, args.repeats)
    rows += [("-", "torch L-BFGS step alone (history 50)", f"{torch_ms:.2f}"),
             ("-", "compact-form L-BFGS step alone (history 50)", f"{compact_ms:.2f}")]
    print(f"| {width}x{height}, per iteration | | ms |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")

    # The default run, twice (the first warms the process), beside torch's L-BFGS for the objective.
    engine_run(config, backbone, device)
    run = engine_run(config, backbone, device)
    evaluator = Evaluator(backbone.net, content, style, config.replace(precision="float32"))
    _, reference = torch_lbfgs(backbone.net, content, style, config.replace(precision="float32"), device,
                               args.steps)
    print(f"\ndefault run ({args.size} px, {args.steps} iterations, warm process): {run['wall']:.2f} s wall, "
          f"first frame {run['first']:.3f} s; objective {evaluator(run['last'].image):.4f} "
          f"(torch.optim.LBFGS float32, same iterations: {evaluator(reference):.4f})")

    print(f"\n| workshop batch | pictures per minute ({args.size} px, {args.steps} iterations) |\n|---|---|")
    for batch in args.batches:
        print(f"| {batch} | {workshop(batch, config.replace(preview_every=50), backbone, device):.1f} |", flush=True)

    if not args.no_tee:
        tee = print_config("tee", preset("default", steps=args.tee_steps))
        with PeakMemory(device) as memory:
            result = engine_run(tee, backbone, device, content="assets/astronaut.png")
        height, width = result["last"].image.shape[-2:]
        plan = " → ".join(f"{side} px ×{count}" for side, count in zip((*tee.scales, tee.size),
                                                                          (*tee.scale_steps, tee.steps)))
        print(f"\ntee print {width}x{height} ({plan}): {result['wall']:.1f} s, peak memory "
              f"{memory.peak / 2**30:.1f} GB, tile {result['last'].tile or 'none'}")


if __name__ == "__main__":
    main()
