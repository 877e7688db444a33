"""The print plan: coarse to fine up to print size, the photo cropped to the print's shape."""

import pytest
import torch
from PIL import Image

from nst_core import StyleConfig
from nst_core.printing import export_design, print_config


def test_the_tee_plan_paints_small_first_and_ends_at_print_size():
    config = print_config("tee", StyleConfig(steps=300))
    assert config.size == 5400 and config.aspect == pytest.approx(4500 / 5400)
    assert config.scales == (512, 1024, 2048, ) and config.scale_steps == (300, 100, 33)
    assert config.steps == 10 and config.total_steps == 443


def test_a_small_print_is_painted_at_one_scale():
    config = print_config("300x200", StyleConfig(steps=50))
    assert config.scales == () and config.steps == 50 and config.size == 300


def test_a_transparent_sticker_keeps_the_photos_alpha(tmp_path):
    photo = Image.new("RGBA", (80, 40), (200, 30, 30, 255))
    photo.paste((0, 0, 0, 0), (0, 0, 40, 40))  # the left half is transparent
    files = export_design(torch.rand(3, 30, 60), tmp_path / "sticker.png", photo, transparent=True)
    with Image.open(files.design) as sticker:
        alpha = sticker.getchannel("A")
        assert sticker.mode == "RGBA" and alpha.getpixel((5, 15)) == 0 and alpha.getpixel((55, 15)) == 255
