"""The config validates its values with messages that say what to change."""

import dataclasses
import math

import pytest

from nst_core import PRESETS, StyleConfig, preset


def test_defaults_and_presets_are_valid():
    assert StyleConfig().style_weight == 1e6 and StyleConfig().content_layer == "relu4_2"
    for config in PRESETS.values():
        assert isinstance(config, StyleConfig)


def test_seed_preset_is_the_seed_recipe():
    seed = PRESETS["seed"]
    assert (seed.optimizer, seed.lr, seed.content_weight, seed.style_weight, seed.init, seed.steps) == (
        "adam", 0.003, 1.0, 1e6, "content", 20_000)


def test_the_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        StyleConfig().steps = 5


@pytest.mark.parametrize("changes, words", [
    ({"size": 0}, "size must be between"),
    ({"size": 100_000}, "size must be between"),
    ({"size": 256.5}, "size must be a whole number"),
    ({"steps": -1}, "steps must be between"),
    ({"steps": True}, "steps must be a whole number"),
    ({"lr": 0.0}, "lr must be above 0"),
    ({"lr": 1e9}, "lr must be above 0 and at most 10"),
    ({"optimizer": "adam", "lr": 5.0}, "at most 1"),
    ({"lr": math.nan}, "lr must be a finite number"),
    ({"style_weight": -1.0}, "style_weight must be at least 0"),
    ({"content_weight": math.inf}, "content_weight must be a finite number"),
    ({"optimizer": "sgd"}, "optimizer must be one of lbfgs, adam"),
    ({"init": "random"}, "init must be one of content, noise"),
    ({"content_layer": "relu9_9"}, "content_layer must be one of"),
    ({"style_layers": ("relu1_1", "relu6_1"), "style_layer_weights": (1, 1)}, "style_layers must be one of"),
    ({"style_layers": ("relu1_1",)}, "give one weight per style layer"),
    ({"style_layer_weights": (0, 0, 0, 0, 0)}, "give at least one layer a positive weight"),
    ({"content_weight": 0.0, "style_weight": 0.0}, "nothing to optimise"),
    ({"preview_every": 0}, "preview_every must be between"),
    ({"style_scale": 50.0}, "style_scale must be at least 0.1 and at most 4"),
])
def test_bad_values_raise_a_message_that_names_the_field(changes, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        StyleConfig(**changes)


def test_preset_applies_changes_and_rejects_unknown_names():
    assert preset("seed", size=128).size == 128
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        preset("fast")


def test_layer_weights_are_normalised():
    config = StyleConfig(style_layers=("relu1_1", "relu2_1"), style_layer_weights=[3, 1])
    assert config.layer_weights == {"relu1_1": 0.75, "relu2_1": 0.25}
    assert isinstance(config.style_layer_weights, tuple)


@pytest.mark.parametrize("changes, words", [
    ({"scales": (256, 128), "scale_steps": (5, 5)}, "scales must grow"),
    ({"scales": (600,), "scale_steps": (5,)}, "scales must be between"),
    ({"scales": (128,)}, "give the iterations for each coarse size"),
    ({"tile": 100}, "tile must be a multiple of 16"),
    ({"tile": 16}, "tile must be between"),
    ({"memory_gb": -1.0}, "memory_gb must be at least 0"),
])
def test_bad_coarse_to_fine_and_tiling_values(changes, words):
    with pytest.raises(ValueError, match=words):
        StyleConfig(**changes)


def test_total_steps_counts_every_scale():
    assert StyleConfig(scales=(128, 256), scale_steps=(100, 50), steps=20).total_steps == 170


def test_a_coarse_start_sketches_the_first_previews_at_half_size_before_the_full_steps():
    from nst_core.config import coarse_start

    quick = coarse_start(StyleConfig(size=256, steps=300, preview_every=10))
    assert quick.scales == (128,) and quick.scale_steps == (20,) and quick.coarse_sketch
    assert quick.steps == 300 and quick.total_steps == 320  # the sketch comes on top of the full size's steps
    assert coarse_start(StyleConfig(size=256, steps=9, preview_every=10)).scale_steps == (3,)  # a third at most
    for unchanged in (StyleConfig(size=48), StyleConfig(size=512, scales=(256,), scale_steps=(5,)),
                      StyleConfig(size=256, steps=2)):
        assert coarse_start(unchanged) == unchanged
