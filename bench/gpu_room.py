"""A room on one card (issue 27): what only a GPU can tell about the loop the server runs there.

    python -m bench.carry                                               # here: .carry/ with the VGG16
    NST_WEIGHTS=.carry/vgg16_fp16.pth python -m bench.gpu_room          # on the GPU machine, carry [".carry"]
    python -m bench.gpu_room --size 96 --steps 12 --tile-size 192 --tile 96   # on a CPU: that the code runs

1. Two live runs at once (threads, as the server paints two), beside one alone: time to the first frame,
   wall time and ms per iteration, and whether each captured its CUDA graph (the captures take turns; a
   capture that fails is logged and the run goes on eagerly).
2. TF32 for the Gram products: one run with float32 matmuls in TF32 and one in strict float32, side by
   side: ms per iteration, final objective, and how far the pictures are apart (mean absolute difference
   in 8-bit levels). torch has no switch for single products, so TF32 is on for the whole run here: the
   most the Grams alone could gain, and the L-BFGS algebra's share of any harm.
3. A run after a tiled run: the memory the next run may take as the engine counts it now (PyTorch's cache
   as free) and as it did before (the driver's free memory alone), and the tile each would choose for a
   4500x5400 tee.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time

import torch

from bench.speed import on_this_device
from nst_core import preset, stylize
from nst_core.memory import available_bytes, choose_tile
from nst_core.tiling import margin_for

CONTENT, STYLE = "assets/chelsea.png", "assets/starry_night.jpg"
TEE = (5400, 4500)  # (height, width)


class _Fallbacks(logging.Handler):
    """Counts the runs that could not capture their graph."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "could not be captured" in record.getMessage()


def run(config, backbone, device, results: list | None = None) -> dict:
    """One run as the server paints it: first frame, wall time, ms per iteration past set-up, the last step."""
    started = time.perf_counter()
    steps = list(stylize(CONTENT, STYLE, config, backbone=backbone, device=device))
    later = steps[len(steps) // 3:]
    per_iteration = (later[-1].elapsed - later[0].elapsed) / max(1, later[-1].iteration - later[0].iteration)
    result = {"first": steps[0].elapsed, "wall": time.perf_counter() - started, "ms": 1000 * per_iteration,
              "last": steps[-1]}
    if results is not None:
        results.append(result)
    return result


def together(config, backbone, device) -> list[dict]:
    results: list[dict] = []
    threads = [threading.Thread(target=run, args=(config, backbone, device, results)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _row(label: str, result: dict) -> str:
    return (f"| {label} | {result['first']:.2f} s | {result['wall']:.2f} s | {result['ms']:.2f} | "
            f"{result['last'].losses.total:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--tile-size", type=int, default=2048, help="the tiled run's longest side")
    parser.add_argument("--tile", type=int, default=512, help="its tile side")
    args = parser.parse_args()

    device, backbone, name = on_this_device()
    print(f"device: {name}; torch {torch.__version__} (CUDA {torch.version.cuda}); backbone {backbone.description}")
    config = preset("default", size=args.size, steps=args.steps, preview_every=10)
    fallbacks = _Fallbacks()
    logging.getLogger("nst_core.graphs").addHandler(fallbacks)

    print(f"\n## 1. Two live runs at once ({args.size} px, {args.steps} steps)\n")
    print("| run | first frame | wall | ms/iteration | objective |\n|---|---|---|---|---|")
    run(config, backbone, device)  # the process's first run pays for cuBLAS/cuDNN set-up
    print(_row("alone", run(config, backbone, device)))
    for index, result in enumerate(together(config, backbone, device), start=1):
        print(_row(f"together, {index}", result))
    print(f"\ncaptures that fell back to eager: {fallbacks.count}")

    print(f"\n## 2. TF32 matmuls (the Gram products among them), {args.size} px\n")
    print("| matmuls | first frame | wall | ms/iteration | objective |\n|---|---|---|---|---|")
    pictures = {}
    for tf32 in (False, True, False, True):  # each twice, in turns
        torch.backends.cuda.matmul.allow_tf32 = tf32
        result = run(config.replace(precision="bf16" if device.type == "cuda" else "float32"), backbone, device)
        pictures[tf32] = result["last"].image
        print(_row("TF32" if tf32 else "strict float32", result))
    torch.backends.cuda.matmul.allow_tf32 = False
    apart = (pictures[True] - pictures[False]).abs().mean().item() * 255
    print(f"\npictures apart: {apart:.2f} levels of 255 (mean absolute difference)")

    print(f"\n## 3. After a tiled run ({args.tile_size} px in {args.tile} px tiles)\n")
    run(preset("default", size=args.tile_size, steps=10, preview_every=10, tile=args.tile), backbone, device)
    margin = margin_for(backbone.net.arch, config.layers)
    budgets = {"the engine's (cache counted)": available_bytes(device)}
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budgets["before (driver's free only)"] = int(free * 0.9)
        cache = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        peak = torch.cuda.max_memory_allocated(device)
        print(f"cache after it: {cache / 2**30:.1f} GB; peak {peak / 2**30:.1f} GB\n")
    print("| budget | GB | tee tile |\n|---|---|---|")
    for label, budget in budgets.items():
        try:
            tile = choose_tile(*TEE, margin, backbone.net.arch, max(config.layers), config.optimizer, budget)
        except MemoryError as error:
            tile = f"does not fit ({error})"
        print(f"| {label} | {budget / 2**30:.1f} | {tile or 'whole'} |")


if __name__ == "__main__":
    main()
