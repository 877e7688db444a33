"""The optimisation loop on a small random VGG: steps, ranges, descent, seeds, stopping, divergence."""

import gc
import importlib
import math
import weakref

import pytest
import torch

from nst_core import DivergenceError, Step, StyleConfig, stylize

stylize_module = importlib.import_module("nst_core.stylize")  # the module; the package exports the function


def run(content, style, config, net, **options):
    return list(stylize(content, style, config, backbone=net, device="cpu", **options))


@pytest.mark.parametrize("steps, every, expected", [(12, 4, [4, 8, 12]), (10, 4, [4, 8, 10]), (3, 5, [3])])
def test_yields_every_k_iterations_and_at_the_end(tiny_net, content_array, style_array, steps, every, expected):
    config = StyleConfig(size=48, steps=steps, preview_every=every)
    result = run(content_array, style_array, config, tiny_net)
    assert [step.iteration for step in result] == expected
    assert [step.done for step in result] == [False] * (len(expected) - 1) + [True]
    assert all(step.total == steps for step in result)
    assert all(later.elapsed >= earlier.elapsed for earlier, later in zip(result, result[1:]))


def test_steps_are_immutable_cpu_pictures_in_range(tiny_net, content_array, style_array, small_config):
    steps = run(content_array, style_array, small_config.replace(init="noise"), tiny_net)
    for step in steps:
        assert step.image.device.type == "cpu" and step.image.dtype == torch.float32
        assert step.image.shape == (3, 34, 48)  # 40x56 content resized to 48 on its longest side
        assert 0.0 <= step.image.min() and step.image.max() <= 1.0
    with pytest.raises(AttributeError):
        steps[0].iteration = 3
    assert steps[0].image.data_ptr() != steps[1].image.data_ptr()  # each step owns its picture


@pytest.mark.parametrize("optimizer, lr", [("lbfgs", 1.0), ("adam", 0.05)])
def test_the_objective_decreases(tiny_net, content_array, style_array, optimizer, lr):
    config = StyleConfig(size=48, steps=40, preview_every=10, optimizer=optimizer, lr=lr)
    totals = [step.losses.total for step in run(content_array, style_array, config, tiny_net)]
    with torch.no_grad():
        start = stylize_module.objective(tiny_net, _content_tensor(content_array, config),
                                         _targets(tiny_net, content_array, style_array, config), config)["total"]
    assert totals[-1] < 0.5 * start
    assert totals[-1] <= min(totals) * 1.05  # no blow-up at the end


def test_losses_add_up(tiny_net, content_array, style_array, small_config):
    config = small_config.replace(tv_weight=10.0)
    for step in run(content_array, style_array, config, tiny_net):
        losses = step.losses
        assert losses.tv > 0 and losses.style > 0 and losses.content > 0
        assert losses.total == pytest.approx(losses.content + losses.style + losses.tv, rel=1e-5)


def test_a_seed_reproduces_a_run_and_another_seed_differs(tiny_net, content_array, style_array, small_config):
    config = small_config.replace(init="noise", seed=7)
    first = run(content_array, style_array, config, tiny_net)[-1].image
    again = run(content_array, style_array, config, tiny_net)[-1].image
    other = run(content_array, style_array, config.replace(seed=8), tiny_net)[-1].image
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert (first - other).abs().mean() > 0.01


def test_content_init_starts_from_the_photo(tiny_net, content_array, style_array):
    config = StyleConfig(size=48, steps=1, optimizer="adam", lr=1e-4, preview_every=1)
    first = run(content_array, style_array, config, tiny_net)[0].image
    assert (first - _content_tensor(content_array, config)[0]).abs().max() < 2e-3


def test_style_scale_sets_the_style_image_size(tiny_net, content_array, style_array, monkeypatch):
    sizes = []
    real = stylize_module.load_image
    monkeypatch.setattr(stylize_module, "load_image",
                        lambda src, size, dev, **kw: sizes.append(size) or real(src, size, dev, **kw))
    run(content_array, style_array, StyleConfig(size=48, steps=1, style_scale=0.5), tiny_net)
    assert sizes == [48, 24]


def test_closing_the_generator_ends_the_run_and_frees_its_tensors(tiny_net, content_array, style_array, monkeypatch):
    made = []
    real = stylize_module.make_optimizer
    monkeypatch.setattr(stylize_module, "make_optimizer", lambda image, *a: made.append(weakref.ref(image)) or real(image, *a))
    steps = stylize(content_array, style_array, StyleConfig(size=48, steps=1000, preview_every=2),
                    backbone=tiny_net, device="cpu")
    first = next(steps)
    assert first.iteration == 2
    steps.close()
    gc.collect()
    assert made and made[0]() is None  # the picture being optimised is gone
    assert steps.gi_frame is None
    assert first.image.shape[0] == 3  # what the consumer kept stays usable


def test_non_finite_losses_recover_from_the_last_good_picture(tiny_net, content_array, style_array, monkeypatch):
    real = stylize_module.objective_terms
    calls = {"n": 0}

    def poisoned(net, image, targets, config):
        calls["n"] += 1
        terms = real(net, image, targets, config)
        if calls["n"] == 7:  # one bad evaluation, as a too-large step would give
            terms = {name: value * math.nan for name, value in terms.items()}
        return terms

    monkeypatch.setattr(stylize_module, "objective_terms", poisoned)
    config = StyleConfig(size=48, steps=16, preview_every=4, optimizer="adam", lr=0.05)
    steps = run(content_array, style_array, config, tiny_net)
    assert steps[-1].done
    assert any("diverged" in step.note for step in steps)
    for step in steps:
        assert torch.isfinite(step.image).all() and math.isfinite(step.losses.total)
        assert step.image.mean() > 0.05  # never a black frame


def test_persistent_divergence_stops_with_a_clear_message(tiny_net, content_array, style_array, monkeypatch):
    real = stylize_module.objective_terms

    def always_nan(net, image, targets, config):
        return {name: value * math.nan for name, value in real(net, image, targets, config).items()}

    monkeypatch.setattr(stylize_module, "objective_terms", always_nan)
    config = StyleConfig(size=48, steps=100, preview_every=2, optimizer="adam", lr=0.05)
    with pytest.raises(DivergenceError, match="lower the learning rate") as error:
        run(content_array, style_array, config, tiny_net)
    # Four tries at 0.05, 0.005, 0.0005 and 5e-05: the numbers agree with the advice.
    assert "diverged 4 times, the last at lr 5e-05 (it started at 0.05" in str(error.value)


def test_divergence_on_the_last_iteration_still_ends_with_the_last_good_picture(
        tiny_net, content_array, style_array, monkeypatch):
    real = stylize_module.objective_terms
    calls = {"n": 0}

    def late_nan(net, image, targets, config):
        calls["n"] += 1
        terms = real(net, image, targets, config)
        return {name: value * math.nan for name, value in terms.items()} if calls["n"] >= 8 else terms

    monkeypatch.setattr(stylize_module, "objective_terms", late_nan)
    config = StyleConfig(size=48, steps=8, preview_every=4, optimizer="adam", lr=0.05)
    steps = run(content_array, style_array, config, tiny_net)
    assert [step.iteration for step in steps] == [4, 8] and steps[-1].done
    assert "diverged" in steps[-1].note
    torch.testing.assert_close(steps[-1].image, steps[0].image)


def test_a_huge_learning_rate_never_yields_noise(tiny_net, content_array, style_array):
    config = StyleConfig(size=48, steps=30, preview_every=3, optimizer="adam", lr=1.0)
    try:
        steps = run(content_array, style_array, config, tiny_net)
    except DivergenceError:
        return  # stopping with a message is allowed
    for earlier, later in zip(steps, steps[1:]):
        assert torch.isfinite(later.image).all()
        assert later.losses.total <= stylize_module.DIVERGENCE_RATIO * earlier.losses.total


def _content_tensor(array, config):
    from nst_core import load_image

    return load_image(array, config.size)


def _targets(net, content, style, config):
    content_tensor = _content_tensor(content, config)
    style_tensor = stylize_module.load_image(style, config.size)
    return stylize_module.compute_targets(net, content_tensor, style_tensor, config)


def test_coarse_to_fine_paints_small_first_and_counts_iterations_across_scales(tiny_net, content_array, style_array):
    config = StyleConfig(size=64, scales=(32, 48), scale_steps=(4, 2), steps=4, preview_every=2)
    steps = run(content_array, style_array, config, tiny_net)
    assert [step.iteration for step in steps] == [2, 4, 6, 8, 10]
    assert all(step.total == 10 for step in steps) and steps[-1].done and not steps[-2].done
    assert [max(step.image.shape[-2:]) for step in steps] == [32, 32, 48, 64, 64]
    # The finer scale starts from the coarse picture, enlarged, not from the photo again.
    assert (steps[2].image.mean() - steps[1].image.mean()).abs() < 0.05


def test_a_quick_sketch_shows_early_and_the_full_size_goes_on_from_it(tiny_net, content_array, style_array):
    from nst_core.config import coarse_start

    config = StyleConfig(size=64, steps=12, preview_every=2)
    sketched = run(content_array, style_array, coarse_start(config), tiny_net)
    plain = run(content_array, style_array, config, tiny_net)
    assert [max(step.image.shape[-2:]) for step in sketched] == [64] * 8  # the sketch is shown enlarged
    assert sketched[-1].iteration == sketched[-1].total == 16 and sketched[-1].done
    # The full size starts from the enlarged sketch, not from the photo: a picture of its own, as good.
    assert not torch.equal(sketched[-1].image, plain[-1].image)
    assert sketched[-1].losses.total < 1.1 * plain[-1].losses.total


@pytest.mark.parametrize("size, steps, every, start", [(64, 12, 2, "sketch"), (96, 40, 4, "sketch"),
                                                      (64, 12, 2, "draft"), (96, 40, 4, "draft")])
def test_the_first_look_never_goes_backwards(tiny_net, content_array, style_array, size, steps, every, start):
    from nst_core.config import coarse_start

    config = StyleConfig(size=size, steps=steps, preview_every=every, precision="float32")
    first_look = coarse_start(config) if start == "sketch" else config.replace(init="draft")
    shown = run(content_array, style_array, first_look, tiny_net)
    # How painted each frame is, measured alike for all: its style loss at the size it is shown.
    photo = _content_tensor(content_array, config)
    content, styles = stylize_module.painting_inputs(photo, [style_array], config, torch.device("cpu"))
    targets = stylize_module.compute_targets(tiny_net, content, styles, config)
    with torch.no_grad():
        painted = [float(stylize_module.objective(tiny_net, step.image[None], targets, config)["style"])
                   for step in shown]
    # Late in a run the style term trades a few per cent against the content term; starting the full
    # size from the photo again instead would multiply it several times over.
    assert all(later <= 1.05 * earlier for earlier, later in zip(painted, painted[1:])), painted
    assert [step.iteration for step in shown] == sorted({step.iteration for step in shown})  # the count goes on


def test_previews_also_come_by_the_clock(tiny_net, content_array, style_array):
    by_count = run(content_array, style_array, StyleConfig(size=48, steps=40, preview_every=1000), tiny_net)
    assert [step.iteration for step in by_count] == [40]
    iteration = by_count[-1].elapsed / 40
    timed = run(content_array, style_array,
                StyleConfig(size=48, steps=40, preview_every=1000, preview_seconds=4 * iteration), tiny_net)
    assert 4 <= len(timed) < 40 and timed[-1].iteration == 40
    gaps = [later.elapsed - earlier.elapsed for earlier, later in zip(timed, timed[1:])]
    assert max(gaps) < 12 * iteration, gaps  # about every four iterations, never ten


def test_a_run_can_start_from_a_given_picture(tiny_net, content_array, style_array):
    config = StyleConfig(size=64, steps=2, preview_every=1, lr=0.05)
    approved = run(content_array, style_array, config.replace(size=32, steps=20, lr=1.0), tiny_net)[-1]
    again = run(content_array, style_array, config, tiny_net)[0].image
    started = run(content_array, style_array, config, tiny_net, start=approved.to_pil())[0].image
    small = torch.nn.functional.interpolate(started[None], size=approved.image.shape[-2:], mode="area")[0]
    close, repainted = (small - approved.image).abs().mean(), (again - started).abs().mean()
    assert close < 0.04 and repainted > 3 * close, (close, repainted)


def test_several_styles_blend_their_gram_matrices(tiny_net, content_array, style_array):
    smooth = _content_tensor(content_array, StyleConfig(size=48))
    stripes = stylize_module.load_image(style_array, 48)
    config = StyleConfig(size=48, style_blend=(3.0, 1.0))
    blended = stylize_module.compute_targets(tiny_net, smooth, [stripes, smooth], config)
    alone = [stylize_module.compute_targets(tiny_net, smooth, style, config.replace(style_blend=()))
             for style in (stripes, smooth)]
    for name in config.style_layers:
        torch.testing.assert_close(blended.grams[name], 0.75 * alone[0].grams[name] + 0.25 * alone[1].grams[name])
    with pytest.raises(ValueError, match="give one per style"):
        run(content_array, [style_array], config, tiny_net)


@pytest.mark.parametrize("mode", ["luminance", "keep"])
def test_colour_modes_keep_the_photos_colours(tiny_net, content_array, style_array, mode):
    from nst_core.colour import rgb_to_yiq

    config = StyleConfig(size=48, steps=6, preview_every=6, colour=mode)
    result = run(content_array, style_array, config, tiny_net)[-1].image
    photo = _content_tensor(content_array, config)[0]
    chroma = rgb_to_yiq(result)[1:] - rgb_to_yiq(photo)[1:]
    styled = run(content_array, style_array, config.replace(colour="style"), tiny_net)[-1].image
    styled_chroma = rgb_to_yiq(styled)[1:] - rgb_to_yiq(photo)[1:]
    assert chroma.abs().mean() < 0.02 < styled_chroma.abs().mean()


def test_histogram_mode_recolours_the_style_to_the_photo(tiny_net, content_array, style_array):
    photo = _content_tensor(content_array, StyleConfig(size=48))
    style = stylize_module.load_image(style_array, 48) * torch.tensor([1.0, 0.5, 0.2]).view(1, 3, 1, 1)  # orange
    matched = stylize_module.prepare_style(style, photo, StyleConfig(colour="histogram"))
    assert (matched.mean((-2, -1)) - photo.mean((-2, -1))).abs().max() < 0.03
    assert (style.mean((-2, -1)) - photo.mean((-2, -1))).abs().max() > 0.05


def test_aspect_crops_the_photo_before_painting(tiny_net, content_array, style_array):
    config = StyleConfig(size=60, steps=1, aspect=5 / 6)
    assert run(content_array, style_array, config, tiny_net)[-1].image.shape == (3, 60, 50)


def test_a_step_that_wrecks_the_picture_is_undone_even_with_a_preview_every_step(
        tiny_net, content_array, style_array, monkeypatch):
    real = stylize_module.make_optimizer

    def wrecking(*args, **kwargs):
        optimizer, calls = real(*args, **kwargs), {"n": 0}
        step = optimizer.step

        def wreck(x, grad):
            step(x, grad)
            calls["n"] += 1
            if calls["n"] == 5:  # a step so large that every pixel saturates (finite: only its loss tells)
                with torch.no_grad():
                    x.fill_(1.0)

        optimizer.step = wreck
        return optimizer

    monkeypatch.setattr(stylize_module, "make_optimizer", wrecking)
    steps = run(content_array, style_array, StyleConfig(size=48, steps=12, preview_every=1, precision="float32"),
                tiny_net)
    assert steps[-1].done and any("diverged" in step.note for step in steps)
    # The guard went back to a picture whose loss it had seen (not the noise it had never evaluated).
    assert steps[-1].losses.total <= steps[0].losses.total


def _flat_blue_jpeg(orientation: int):
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation  # EXIF orientation: 6 means "rotate 90° to show"
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (0, 0, 255)).save(buffer, "JPEG", exif=exif)
    buffer.seek(0)
    return Image.open(buffer)


@pytest.mark.parametrize("orientation, every", [(6, 1), (1, 1), (6, 10)])
def test_a_flat_photo_paints(tiny_net, style_array, orientation, every):
    from nst_core.config import coarse_start

    config = coarse_start(StyleConfig(size=64, steps=10, preview_every=every, precision="float32"))
    steps = run(_flat_blue_jpeg(orientation), style_array, config, tiny_net)  # a DivergenceError fails it
    last = steps[-1]
    assert last.done and last.image.shape == ((3, 64, 43) if orientation == 6 else (3, 43, 64))
    assert math.isfinite(last.losses.total)
    flat = torch.tensor([0.0, 0.0, 1.0])[:, None, None]
    assert (last.image - flat).abs().mean() > 0.05  # painted, not the photo given back


def test_a_strip_too_thin_for_the_quick_look_paints_at_the_size_asked(tiny_net, style_array):
    from nst_core.config import coarse_start

    strip = torch.full((600, 2000, 3), 128, dtype=torch.uint8).numpy()  # 19 px tall at 64 px, 10 px at 32
    config = coarse_start(StyleConfig(size=64, steps=10, preview_every=2, precision="float32"))
    steps = run(strip, style_array, config, tiny_net)
    assert steps[-1].done and steps[-1].iteration == config.total_steps
    assert all(step.image.shape == (3, 19, 64) for step in steps)


def test_a_strip_too_thin_for_the_size_asked_is_refused_at_that_size(tiny_net, style_array):
    from nst_core import ImageError
    from nst_core.config import coarse_start

    strip = torch.full((40, 2000, 3), 128, dtype=torch.uint8).numpy()
    with pytest.raises(ImageError, match="at 64 px on its longest side"):
        run(strip, style_array, coarse_start(StyleConfig(size=64, steps=10, preview_every=2)), tiny_net)


def test_the_tone_term_holds_the_photos_light_and_dark(tiny_net, content_array, style_array):
    from nst_core import colour, load_image

    dark = (content_array * 0.3).astype(content_array.dtype)  # a dark photo
    pale = torch.full((1, 3, 48, 48), 0.85)  # a pale start, as a bright painting's draft gives
    config = StyleConfig(size=48, steps=12, preview_every=12, style_weight=1e5, precision="float32")
    photo = colour.broad_brightness(load_image(dark, 48))

    def gap(tone_weight: float) -> float:
        final = run(dark, style_array, config.replace(tone_weight=tone_weight), tiny_net, start=pale)[-1]
        return float((colour.broad_brightness(final.image[None]) - photo).abs().mean())

    assert gap(5.0) < 0.5 * gap(0.0)
    terms = stylize_module.objective_terms(tiny_net, load_image(dark, 48), stylize_module.compute_targets(
        tiny_net, load_image(dark, 48), load_image(style_array, 48), config.replace(tone_weight=5.0)),
        config.replace(tone_weight=5.0))
    assert float(terms["content"]) < 1e-6  # the photo itself: no content error, no tone error


class _Clock:
    """A stand-in for time.perf_counter that moves only when told."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_frame_comes_within_preview_seconds_on_the_cpu_and_on_a_gpu(monkeypatch, asynchronous):
    """On a GPU the host queues an iteration in a millisecond and learns what the card took only when a frame's
    read-back waits for it; the frames must still come every `preview_seconds`, not every `preview_every`."""
    clock = _Clock()
    monkeypatch.setattr(stylize_module, "time", clock)
    cadence = stylize_module.Cadence(StyleConfig(preview_every=100, preview_seconds=0.45), asynchronous=asynchronous)
    frames, card = [0.0], 0.0  # when the frames came, by the card's own clock: each iteration takes it 0.1 s
    for iteration in range(1, 31):
        card += 0.1
        clock.now = clock.now + 0.001 if asynchronous else card  # on a GPU the host runs ahead of the card
        if cadence.due(iteration, last=False):
            clock.now = card  # the read-back waits for the card
            frames.append(card)
            cadence.shown()
    gaps = [later - earlier for earlier, later in zip(frames, frames[1:])]
    assert len(gaps) >= 7 and all(gap <= 0.45 + 1e-9 for gap in gaps), gaps  # never late
    assert all(gap >= 0.3 for gap in gaps[1:]), gaps  # nor needlessly often, once the pace is known
