"""One iteration of the loop replayed from a CUDA graph: the whole forward, backward and optimiser update
launched as one, so the card is not left waiting for Python between its hundreds of small kernels.

The iteration must be a function of tensors that live as long as the graph (the picture, the
targets, the optimiser's state, all changed in place) and must not read anything back to the host.
Anything else (the CPU, Apple's MPS, a capture that fails) runs the same function eagerly.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)

WARMUP = 3  # eager iterations before capture: they set up cuBLAS/cuDNN and autograd's buffers
ENABLED = os.environ.get("NST_CUDA_GRAPHS", "1") != "0"  # NST_CUDA_GRAPHS=0: every iteration eagerly
# One capture at a time in a process. The server paints two live runs and a print at once; two captures
# together would share torch's default capture stream, and a capture that frees memory while another
# captures trips the allocator. Runs that are not capturing go on meanwhile (the capture is thread-local).
_CAPTURING = threading.Lock()


class Replay:
    """Calls `iteration` on every call; on CUDA, after WARMUP eager calls, replays it from a captured graph.

    The calls during warm-up are real iterations of the run; capturing runs nothing, so the call that
    captures then replays once. The returned tensor is the graph's own output: read it before the next
    call, which overwrites it. A new shape or batch is a new Replay (a graph holds one shape).
    """

    def __init__(self, iteration: Callable[[], torch.Tensor], device: torch.device, enabled: bool = True):
        self.iteration = iteration
        self.device = device
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.output: torch.Tensor | None = None
        self.eager = not (enabled and ENABLED) or device.type != "cuda"

    def __call__(self) -> torch.Tensor:
        self.calls += 1
        if self.eager:
            return self.iteration()
        # On the run's own card: with --device cuda:1 the current device is still cuda:0, and a stream made
        # there would capture nothing of this run's kernels (its replays would then do nothing).
        with torch.cuda.device(self.device):
            if self.graph is not None:
                self.graph.replay()
                return self.output
            if self.calls <= WARMUP:
                return self._warm_up()
            try:
                self._capture()
            except Exception as error:  # an operation that cannot be captured: the same iteration, eagerly
                log.warning("running eagerly: the iteration could not be captured in a CUDA graph (%s)", error)
                self.graph, self.eager = None, True
                torch.cuda.synchronize(self.device)
                return self.iteration()
            self.graph.replay()
            return self.output

    def _warm_up(self) -> torch.Tensor:
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            output = self.iteration()
        torch.cuda.current_stream(self.device).wait_stream(side)
        return output

    def _capture(self) -> None:
        """Capture one iteration on a stream of this run's own. Not through `torch.cuda.graph`, which collects
        garbage and empties the allocator's cache before each capture: a pause on every run's first frame of
        each scale, and memory freed under the feet of a capture in another thread."""
        graph = torch.cuda.CUDAGraph()
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with _CAPTURING, torch.cuda.stream(stream):
            # thread_local: the server's other threads (a print job, the next person's set-up) may use the card
            # while this one captures.
            graph.capture_begin(capture_error_mode="thread_local")
            try:
                self.output = self.iteration()
            finally:
                graph.capture_end()
        torch.cuda.current_stream(self.device).wait_stream(stream)
        self.graph = graph
