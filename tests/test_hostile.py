"""The hostile corpus (tests/hostile.py) through the engine, the command line and the running studio.

Every case gets a correct picture or a specific message; the server keeps serving; no server path
reaches the page; nothing is left behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from gradio_client import Client, handle_file
from nst_core import FeatureNet, ImageError, StyleConfig, load_image, stylize
from nst_core.__main__ import main
from nst_core.backbone import torchvision_layout
from tests.hostile import CASES, write
from tests.pictures import stripes_picture

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def test_the_corpus_is_large_and_mixed():
    assert len(CASES) >= 30
    assert sum(case.refusal is None for case in CASES) >= 10 and sum(case.refusal is not None for case in CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=str)
def test_engine(case, tmp_path, tiny_net):
    path = write(case, tmp_path)
    if case.refusal:
        with pytest.raises(ImageError, match=case.refusal):
            list(stylize(path, stripes_picture(2), StyleConfig(size=48, steps=2), backbone=tiny_net, device="cpu"))
        return
    picture = load_image(path, 64)
    assert picture.shape[:2] == (1, 3) and max(picture.shape[-2:]) == 64
    assert 0 <= picture.min() and picture.max() <= 1
    final = list(stylize(path, stripes_picture(2), StyleConfig(size=48, steps=2), backbone=tiny_net, device="cpu"))
    assert torch.isfinite(final[-1].image).all()


def test_the_odd_cases_come_out_right(tmp_path):
    """Beyond 'it loads': orientation, first frames, transparency and grey mean what they should."""
    by_name = {case.name: write(case, tmp_path) for case in CASES}
    upright = load_image(by_name["rotated-90.jpg"])
    assert upright.shape[-2:] == (56, 40)  # a landscape file shown portrait by its EXIF tag
    first = load_image(by_name["animated.gif"])
    assert first[0, 0].mean() < 0.9 or first[0, 1].mean() > 0.1  # not the red second frame
    grey = load_image(by_name["grey.png"])
    assert torch.equal(grey[0, 0], grey[0, 1]) and torch.equal(grey[0, 1], grey[0, 2])
    cut_out = load_image(by_name["cut-out.png"])
    assert cut_out[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0]  # clear background lies on white
    ramp = load_image(by_name["sixteen-bit.png"])
    assert ramp[0, 0, 0, 0] < 0.05 and ramp[0, 0, -1, -1] > 0.95  # the full 16-bit range, not clipped


@pytest.fixture(scope="module")
def cli_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "vgg16.pth"
    torch.save(torchvision_layout(FeatureNet("vgg16")), path)
    return path


@pytest.mark.parametrize("case", CASES, ids=str)
def test_cli(case, tmp_path, cli_weights, capsys):
    path, output = write(case, tmp_path), tmp_path / "out" / "design.png"
    code = main([str(path), str(ASSETS / "starry_night.jpg"), "--weights", str(cli_weights), "-s", "32",
                 "--steps", "1", "--quiet", "-o", str(output)])
    if case.refusal:
        assert code == 1 and case.refusal in capsys.readouterr().err
        assert not output.exists()
    else:
        assert code == 0
        with Image.open(output) as design:
            assert max(design.size) == 32


def test_the_running_studio_answers_every_case_and_keeps_serving(app_server, tmp_path):
    client = Client(app_server, verbose=False)
    settings = {"size": 64, "steps": 10, "preview_every": 10}
    handled = 0
    for case in CASES:
        path = write(case, tmp_path)
        job = client.submit(content=handle_file(str(path)), style=handle_file(str(ASSETS / "starry_night.jpg")),
                            **settings, api_name="/paint")
        if case.refusal:
            with pytest.raises(Exception, match=case.refusal) as refused:
                job.result()
            assert str(tmp_path) not in str(refused.value) and "/gradio" not in str(refused.value)  # no server paths
        else:
            with Image.open(job.result()[0]) as picture:
                assert max(picture.size) == 64
        handled += 1
    assert handled == len(CASES)
    with Image.open(client.predict(content=handle_file(str(ASSETS / "chelsea.png")),
                                   style=handle_file(str(ASSETS / "starry_night.jpg")), **settings,
                                   api_name="/paint")[0]) as picture:
        assert picture.size == (64, 43)


@pytest.mark.parametrize("settings, words", [
    ({"steps": -5}, "Steps: Value -5"), ({"lr": 1e9}, "Step size"), ({"size": 100_000}, "Size"),
    ({"preview_every": 0}, "Show the picture every"), ({"seed": -1}, "seed"), ({"alpha": 1e300}, "Keep the photo"),
    ({"tv": -1}, "Smoothing"), ({"optimizer": "sgd"}, "sgd"), ({"style_scale": 50}, "Brush size"),
    ({"log_beta": 1e6}, "Paint strength"),
])
def test_absurd_settings_through_the_api(app_server, settings, words):
    client = Client(app_server, verbose=False)
    with pytest.raises(Exception, match=words):
        client.predict(content=handle_file(str(ASSETS / "chelsea.png")),
                       style=handle_file(str(ASSETS / "starry_night.jpg")),
                       **{"size": 64, "steps": 10, **settings}, api_name="/paint")
