"""Gatys et al. neural style transfer on VGG features, as a generator of steps for any front end."""

from .backbone import Backbone, BackboneUnavailable, FeatureNet, load_backbone
from .config import PRESETS, StyleConfig, preset
from .devices import resolve_device
from .images import ImageError, load_image, open_image, save_image, to_pil
from .stylize import DivergenceError, Losses, Step, stylize

__all__ = [
    "Backbone", "BackboneUnavailable", "DivergenceError", "FeatureNet", "ImageError", "Losses", "PRESETS",
    "Step", "StyleConfig", "load_backbone", "load_image", "open_image", "preset", "resolve_device",
    "save_image", "stylize", "to_pil",
]
