"""The cost model: measured on the device, it predicts a run; the countdown follows a run as it goes."""

from __future__ import annotations

import pytest
import torch

from nst_core import Losses, Step, StyleConfig, stylize
from studio.costs import CostModel, Countdown, Scale, in_words, plan


def fake_step(iteration: int, total: int, elapsed: float) -> Step:
    return Step(iteration, total, elapsed, Losses(0.0, 0.0, 0.0, 0.0), torch.zeros(3, 2, 2))


def test_the_plan_has_the_engines_shapes(tiny_net, content_array):
    from nst_core.config import coarse_start

    config = coarse_start(StyleConfig(size=64, steps=12, preview_every=2))
    scales = plan(config, (content_array.shape[1], content_array.shape[0]), "vgg19")
    last = list(stylize(content_array, content_array, config.replace(coarse_sketch=False), backbone=tiny_net,
                        device="cpu"))[-1]
    assert [(scale.height, scale.width) for scale in scales][-1] == tuple(last.image.shape[-2:])
    assert [scale.steps for scale in scales] == [4, 12] and scales[0].width == 32


def test_a_calibrated_model_predicts_a_run_on_the_tiny_network(tiny_net, content_array, style_array):
    model = CostModel.calibrate(tiny_net, torch.device("cpu"), StyleConfig(), sides=(48, 96), steps=6)
    assert model.per_megapixel > 0 and model.overhead >= 0
    config = StyleConfig(size=80, steps=30, preview_every=5)
    predicted = model.run(plan(config, (content_array.shape[1], content_array.shape[0]), "vgg19"))
    measured = list(stylize(content_array, style_array, config, backbone=tiny_net, device="cpu"))[-1].elapsed
    assert 0.5 < predicted / measured < 2.0, (predicted, measured)


def test_the_countdown_uses_the_measured_pace_and_corrects_later_scales():
    model = CostModel(overhead=0.0, per_megapixel=1.0)  # a 1000x1000 scale: 1 s an iteration, by the model
    scales = [Scale(1000, 1000, 10), Scale(2000, 1000, 10)]
    countdown = Countdown(model, scales)
    assert countdown.total == pytest.approx(11 * 1 + 11 * 2)  # set-up is one iteration a scale
    countdown.update(fake_step(2, 20, 5.0))
    # The scale really runs at 3 s an iteration: the rest of it at that pace, the next scale three times the model.
    assert countdown.update(fake_step(4, 20, 11.0)) == pytest.approx(6 * 3 + 3 * 11 * 2)
    countdown.update(fake_step(10, 20, 29.0))
    countdown.update(fake_step(12, 20, 40.0))
    assert model.per_megapixel > 1.0  # learnt from the first scale: this machine is slower than the model thought
    assert countdown.update(fake_step(14, 20, 52.0)) == pytest.approx(6 * 6.0)
    assert countdown.update(fake_step(20, 20, 88.0)) == 0.0


def test_learning_moves_the_model_part_way_and_ignores_nonsense():
    model = CostModel(overhead=0.1, per_megapixel=2.0)
    scale = Scale(500, 500, 10)
    before = model.iteration(scale)
    model.learn(scale, 4 * before)
    assert before < model.iteration(scale) < 4 * before
    now = model.iteration(scale)
    model.learn(scale, float("nan"))
    assert model.iteration(scale) == now
    model.learn(Scale(64, 48, 10), 100.0)  # a thumbnail's pace: fixed costs, nothing to learn for pictures
    assert model.iteration(scale) == now


@pytest.mark.parametrize("seconds, words", [(3, "about 3 s"), (44, "about 45 s"), (80, "about 1 min 20 s"),
                                            (1500, "about 25 min"), (4000, "about 1 h 7 min")])
def test_durations_read_as_a_person_says_them(seconds, words):
    assert in_words(seconds) == words
