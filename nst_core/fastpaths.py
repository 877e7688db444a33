"""The switchable fast paths of a run: how the network is called, and the style targets kept between runs.

Each is a field of StyleConfig, and bench/speed.py measures what each one gives (docs/performance.md).
"""

from __future__ import annotations

import copy
import hashlib
import threading
import weakref
from collections import OrderedDict
from typing import Callable

import torch

from .backbone import FeatureNet
from .config import StyleConfig
from .precision import resolve_precision

_compiled: weakref.WeakKeyDictionary[FeatureNet, Callable] = weakref.WeakKeyDictionary()
_channels_last: weakref.WeakKeyDictionary[FeatureNet, FeatureNet] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class TunedNet:
    """The feature network as one run calls it: NHWC input, bf16 convolutions or compiled, as configured.

    Activations come back in bfloat16 under bf16 (`precision`, resolved for the device); the losses turn
    them to float32 before any Gram sum or squared error, where bf16 and fp16 overflow or lose the small
    differences. cuDNN's autotuning stays off: every upload is a new shape, and on an H100 it added
    0.7 s to the first frame and 32 GB of workspaces for no gain in the run's time (docs/performance.md).
    """

    def __init__(self, net: FeatureNet, config: StyleConfig, device: torch.device):
        self.channels_last = config.channels_last
        self.net = net = _in_channels_last(net) if self.channels_last else net
        self.arch = net.arch
        self.dtype = torch.bfloat16 if resolve_precision(config.precision, device) == "bf16" else None
        self.device_type = device.type
        self.forward = _compile(net) if config.compile else net

    def __call__(self, image: torch.Tensor, layers: tuple[str, ...], pooling: str = "max") -> dict[str, torch.Tensor]:
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        # No cast-weight cache: it lives only inside one autocast block anyway, and a CUDA graph can't hold it.
        with torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None, cache_enabled=False):
            return self.forward(image, layers, pooling)


def _in_channels_last(net: FeatureNet) -> FeatureNet:
    """A copy of the network with its weights laid out channels-last, made once per process: NHWC input against
    NCHW weights makes the convolutions lay the weights out again on every call. A copy, because the server's
    other runs share the network as it is."""
    with _lock:
        made = _channels_last.get(net)
        device = next(net.parameters()).device
        if made is None or next(made.parameters()).device != device:  # none yet, or the network has moved since
            made = _channels_last[net] = copy.deepcopy(net).to(memory_format=torch.channels_last)
        return made


def _compile(net: FeatureNet) -> Callable:
    """One torch.compile of the network per process, shared by every run (compiling costs seconds)."""
    if net not in _compiled:
        _compiled[net] = torch.compile(net, dynamic=False)
    return _compiled[net]


class StyleCache:
    """Gram matrices of style images by their pixels, size and the network settings, least recently used out.

    In a workshop most people pick one of a few paintings; its targets are computed once per process.
    The key is a digest of the prepared style tensor (after resizing and colour matching), so a
    different size, crop or colour mode is a different entry. Thread-safe: the app runs jobs in threads.
    """

    def __init__(self, entries: int = 16):
        self.entries = entries
        self.hits = self.misses = 0
        self._grams: OrderedDict[tuple, tuple[weakref.ref, dict[str, torch.Tensor]]] = OrderedDict()
        self._lock = threading.Lock()

    def grams(self, net: TunedNet, style: torch.Tensor, config: StyleConfig,
              compute: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """The cached Gram matrices of `style`, or `compute()`'s, stored for next time."""
        key = (id(net.net), style.device.type, tuple(style.shape), config.style_layers, config.pooling,
               net.dtype, hashlib.sha1(style.detach().cpu().numpy().tobytes()).hexdigest())
        with self._lock:
            found = self._grams.get(key)
            if found is not None and found[0]() is net.net:  # the id was not reused by another network
                self._grams.move_to_end(key)
                self.hits += 1
                return found[1]
            self.misses += 1
        grams = compute()
        with self._lock:
            self._grams[key] = (weakref.ref(net.net), grams)
            while len(self._grams) > self.entries:
                self._grams.popitem(last=False)
        return grams

    def clear(self) -> None:
        with self._lock:
            self._grams.clear()
            self.hits = self.misses = 0


STYLE_CACHE = StyleCache()
