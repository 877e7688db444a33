"""Choosing the compute device once, at the edge: "auto" means CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import torch


def resolve_device(device: torch.device | str | None = "auto") -> torch.device:
    """A concrete torch.device for "auto" (or None), a name such as "cuda:1", or a device."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here: use auto or cpu")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} was asked for but Apple MPS is not available here: use auto or cpu")
    return resolved
