"""Choosing the convolutions' precision once, at the edge: bfloat16 where it is faster here, float32 elsewhere.

On a CUDA card with bf16 in its tensor cores (Ampere and later: compute capability 8.0) the convolutions
run in bfloat16: the same objective in fewer milliseconds; older cards emulate bf16, slower than float32.
A CPU is measured: one with AVX512-BF16 or AMX runs bf16 1.5-2x faster, one without 3.5x slower
(docs/performance.md), and the instruction flags are not the whole story, so a short timing of VGG's
first layers decides: float32 and bf16 timed in turns, the median ratio, so a neighbour's burst during
one timing cannot decide. The answer is kept per machine (processor, torch
version, threads) in the user's cache folder, so it is measured once, and every start of the server
and every `precision="auto"` run agree.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

MIN_SPEEDUP = 1.1  # bf16 must beat float32 by this much to be chosen (timings wobble by a few per cent)
SPEEDUP_ROUNDS = 5  # float32 and bf16 timed in turns this many times; the median of the ratios decides


def resolve_precision(precision: str, device: torch.device) -> str:
    """"float32" or "bf16" for `precision` ("auto", "float32" or "bf16") on `device`."""
    if precision != "auto":
        return precision
    if device.type == "cuda":  # not torch.cuda.is_bf16_supported(), which says yes where bf16 is only emulated
        return "bf16" if torch.cuda.get_device_capability(device) >= (8, 0) else "float32"
    if device.type == "cpu":
        return "bf16" if cpu_bf16_speedup() >= MIN_SPEEDUP else "float32"
    return "float32"


@functools.cache
def cpu_bf16_speedup() -> float:
    """float32's time over bf16's for VGG's first convolutions, forward and backward, on this CPU (cached)."""
    key = machine_key()
    known = remembered("precision.json").get(key)
    if isinstance(known, (int, float)):
        return float(known)
    for dtype in (None, torch.bfloat16):  # a first pass of each pays for allocations and kernel choices
        _time_convolutions(dtype)
    ratios = []
    for turn in range(SPEEDUP_ROUNDS):  # each dtype first in every other turn, so neither always runs warmer
        dtypes = (None, torch.bfloat16) if turn % 2 == 0 else (torch.bfloat16, None)
        times = {dtype: _time_convolutions(dtype) for dtype in dtypes}
        ratios.append(times[None] / times[torch.bfloat16])
    speedup = statistics.median(ratios)
    remember("precision.json", key, round(speedup, 3))
    return speedup


def _time_convolutions(dtype: torch.dtype | None, side: int = 96) -> float:
    """Seconds of a forward and backward pass through VGG's block 1 and 2 convolutions."""
    generator = torch.Generator().manual_seed(0)
    widths = (3, 64, 64, 128, 128)
    weights = [torch.randn(out, inp, 3, 3, generator=generator) * 0.05 for inp, out in itertools.pairwise(widths)]
    image = torch.rand(1, 3, side, side, generator=generator, requires_grad=True)
    started = time.perf_counter()
    with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None, cache_enabled=False):
        x = image
        for index, weight in enumerate(weights):
            x = torch.relu(torch.nn.functional.conv2d(x, weight, padding=1))
            if index == 1:
                x = torch.nn.functional.max_pool2d(x, 2)
    x.float().square().mean().backward()
    return time.perf_counter() - started


def machine_key() -> str:
    """This machine as its cached measurements know it: processor, torch version and threads."""
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                model += line
    except OSError:
        pass
    digest = hashlib.sha1(model.encode()).hexdigest()[:16]
    return f"{platform.machine()}-{digest}-torch{torch.__version__}-{torch.get_num_threads()}threads"


def remembered(name: str) -> dict:
    """The measurements kept in the cache file `name` (JSON, keyed by `machine_key()`); {} when there are none."""
    try:
        known = json.loads((_cache_folder() / name).read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def remember(name: str, key: str, value) -> None:
    """Keep `value` under `key` in the cache file `name`, beside what it holds for other machines."""
    path = _cache_folder() / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**remembered(name), key: value}, indent=1))
    except OSError:
        pass  # a read-only home: measured again next time


def _cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tee-style-studio"
