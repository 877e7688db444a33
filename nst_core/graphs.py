"""One iteration of the loop replayed from a CUDA graph: the whole forward, backward and optimiser update
launched as one, so the card is not left waiting for Python between its hundreds of small kernels.

The iteration must be a function of tensors that live as long as the graph (the picture, the
targets, the optimiser's state, all changed in place) and must not read anything back to the host.
Anything else (the CPU, Apple's MPS, a capture that fails) runs the same function eagerly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)

WARMUP = 3  # eager iterations before capture: they set up cuBLAS/cuDNN and autograd's buffers
ENABLED = os.environ.get("NST_CUDA_GRAPHS", "1") != "0"  # NST_CUDA_GRAPHS=0: every iteration eagerly


class Replay:
    """Calls `iteration` on every call; on CUDA, after WARMUP eager calls, replays it from a captured graph.

    The calls during warm-up are real iterations of the run; capturing runs nothing, so the call that
    captures then replays once. The returned tensor is the graph's own output: read it before the next
    call, which overwrites it. A new shape or batch is a new Replay (a graph holds one shape).
    """

    def __init__(self, iteration: Callable[[], torch.Tensor], device: torch.device, enabled: bool = True):
        self.iteration = iteration
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.output: torch.Tensor | None = None
        self.eager = not (enabled and ENABLED) or device.type != "cuda"

    def __call__(self) -> torch.Tensor:
        self.calls += 1
        if self.graph is not None:
            self.graph.replay()
            return self.output
        if self.eager:
            return self.iteration()
        if self.calls <= WARMUP:
            return self._warm_up()
        try:
            self._capture()
        except Exception as error:  # an operation that cannot be captured: the same iteration, eagerly
            log.warning("running eagerly: the iteration could not be captured in a CUDA graph (%s)", error)
            self.graph, self.eager = None, True
            torch.cuda.synchronize()
            return self.iteration()
        self.graph.replay()
        return self.output

    def _warm_up(self) -> torch.Tensor:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            output = self.iteration()
        torch.cuda.current_stream().wait_stream(side)
        return output

    def _capture(self) -> None:
        graph = torch.cuda.CUDAGraph()
        # thread_local: the server's other threads (a print job, the next person's set-up) may use the card
        # while this one captures.
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            self.output = self.iteration()
        self.graph = graph
