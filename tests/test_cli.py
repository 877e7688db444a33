"""The command line, end to end on small pictures with a small local weights file."""

import numpy as np
import pytest
import torch
from PIL import Image

from nst_core import FeatureNet
from nst_core.__main__ import build_parser, config_from_args, main
from nst_core.backbone import torchvision_layout
from tests.pictures import smooth_picture, stripes_picture


@pytest.fixture
def pictures(tmp_path):
    content, style = tmp_path / "photo.png", tmp_path / "painting.jpg"
    Image.fromarray(smooth_picture(1, 60, 80)).save(content)
    Image.fromarray(stripes_picture(2, 64)).save(style)
    return content, style


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "vgg16.pth"
    torch.save(torchvision_layout(FeatureNet("vgg16")), path)
    return path


def test_flags_override_the_preset_and_defaults_come_from_it():
    args = build_parser().parse_args(["a.png", "b.png", "--preset", "seed", "-s", "64", "--beta", "1e5"])
    config = config_from_args(args)
    assert (config.size, config.style_weight, config.optimizer, config.lr) == (64, 1e5, "adam", 0.003)


def test_the_cli_paints_the_studios_recipe_and_its_help_says_what_each_preset_does(capsys):
    from nst_core.config import PRESETS, RECIPE
    from studio.server import START

    config = config_from_args(build_parser().parse_args(["a.png", "b.png"]))
    assert config.init == START == "draft" and config.tone_weight > 0 and config.tv_weight > 0
    assert all(getattr(config, field) == value for field, value in RECIPE.items())
    assert PRESETS["seed"].tone_weight == PRESETS["seed"].tv_weight == 0 and PRESETS["seed"].init == "content"
    assert PRESETS["preview"].size >= 384  # a quick look that keeps the subject
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    words = " ".join(capsys.readouterr().out.split())
    assert "light and dark" in words and "original 2016 recipe" in words and "--tone" in words


def test_the_cli_paints_and_saves_intermediate_pictures(pictures, weights, tmp_path, capsys):
    content, style = pictures
    out = tmp_path / "result" / "art.png"
    code = main([str(content), str(style), "-o", str(out), "-s", "40", "-n", "6", "--save-every", "3",
                 "--weights", str(weights), "--device", "cpu", "--quiet"])
    assert code == 0
    assert Image.open(out).size == (40, 30)
    assert (tmp_path / "result" / "art_00003.png").is_file()
    assert not (tmp_path / "result" / "art_00006.png").exists()  # the final picture is art.png itself
    err = capsys.readouterr().err
    assert "VGG16 from the local file" in err and "saved" in err
    assert not np.array_equal(np.asarray(Image.open(out)),
                              np.asarray(Image.open(content).resize((40, 30), Image.Resampling.LANCZOS)))


def test_the_film_of_the_painting_ends_on_the_design(pictures, weights, tmp_path, capsys):
    import av

    content, style = pictures
    out, film = tmp_path / "art.png", tmp_path / "art.mp4"
    code = main([str(content), str(style), "-o", str(out), "-s", "40", "-n", "6", "--preview-every", "2",
                 "--film", str(film), "--weights", str(weights), "--device", "cpu", "--quiet"])
    assert code == 0 and "saved " + str(film) in capsys.readouterr().err
    with av.open(str(film)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    design = np.asarray(Image.open(out).resize(frames[-1].shape[1::-1], Image.Resampling.LANCZOS), dtype=float)
    assert np.abs(frames[-1] - design).mean() < 8  # the film ends on the saved design
    assert np.abs(frames[0] - design).mean() > np.abs(frames[-1] - design).mean()  # and opens on the photo


@pytest.mark.parametrize("flags, words", [
    (["--film", "art.avi"], "a film is written as .mp4"),
    (["--steps", "0"], "steps must be between"),
    (["--lr", "1e9"], "lr must be above 0"),
    (["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "tpu"], "device"),
])
def test_bad_values_exit_with_a_message(pictures, weights, flags, words, capsys):
    content, style = pictures
    code = main([str(content), str(style), "--weights", str(weights), "--quiet", *flags])
    assert code == 2
    assert words in capsys.readouterr().err


def test_a_bad_image_exits_with_a_message(tmp_path, pictures, weights, capsys):
    _, style = pictures
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    code = main([str(bad), str(style), "--weights", str(weights), "--quiet", "-o", str(tmp_path / "x.png")])
    assert code == 1
    assert "not an image" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_a_print_design_with_its_dpi_palette_and_mockups(pictures, weights, tmp_path, capsys):
    content, style = pictures
    out = tmp_path / "tee.png"
    code = main([str(content), str(style), str(content), "--blend", "3", "1", "-o", str(out), "--print", "64x48",
                 "-n", "3", "--dpi", "150", "--colours", "6", "--mockups", "--weights", str(weights),
                 "--device", "cpu", "--quiet"])
    assert code == 0, capsys.readouterr().err
    with Image.open(out) as design:
        assert design.size == (64, 48) and design.info["dpi"] == pytest.approx((150, 150), abs=0.05)
        assert "icc_profile" in design.info
        assert len(design.convert("RGB").getcolors(4096)) <= 6
    assert Image.open(tmp_path / "tee_tee.png").size == Image.open(tmp_path / "tee_mug.png").size


def test_sixteen_bits_become_a_tiff_and_transparency_needs_an_alpha_channel(pictures, weights, tmp_path, capsys):
    content, style = pictures
    code = main([str(content), str(style), "-o", str(tmp_path / "deep.png"), "-s", "40", "-n", "2", "--bits", "16",
                 "--weights", str(weights), "--device", "cpu", "--quiet"])
    assert code == 0 and (tmp_path / "deep.tif").is_file()
    code = main([str(content), str(style), "-o", str(tmp_path / "sticker.png"), "-s", "40", "-n", "2",
                 "--transparent", "--weights", str(weights), "--device", "cpu", "--quiet"])
    assert code == 1 and "needs a photo with transparency" in capsys.readouterr().err
    assert (tmp_path / "sticker.png").is_file()  # the painted picture is kept all the same


def test_regions_make_an_rgba_design_and_bad_regions_a_message(pictures, weights, tmp_path, capsys):
    content, style = pictures
    regions = np.full((60, 80, 4), 255, np.uint8)
    regions[:, 60:, 3] = 0  # the right quarter left out
    Image.fromarray(regions).save(tmp_path / "regions.png")
    common = ["-s", "40", "-n", "2", "--weights", str(weights), "--device", "cpu", "--quiet"]
    code = main([str(content), str(style), "-o", str(tmp_path / "shaped.png"), "--regions", str(tmp_path / "regions.png"),
                 "--mockups", "--sheet", *common])
    assert code == 0
    with Image.open(tmp_path / "shaped_sheet.png") as sheet:  # the design sheet, beside the design
        assert sheet.width == 1800
    with Image.open(tmp_path / "shaped.png") as design:
        assert design.mode == "RGBA" and design.getchannel("A").getpixel((38, 15)) == 0
        assert design.getchannel("A").getpixel((5, 15)) == 255
    Image.fromarray(np.dstack([np.zeros((60, 80), np.uint8), np.full((60, 80), 200, np.uint8),
                               np.zeros((60, 80), np.uint8)])).save(tmp_path / "green.png")
    code = main([str(content), str(style), "-o", str(tmp_path / "x.png"), "--regions", str(tmp_path / "green.png"),
                 *common])
    assert code == 1 and "green.png uses colours outside the code" in capsys.readouterr().err
