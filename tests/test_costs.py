"""The cost model: measured on the device, it predicts a run; the countdown follows a run as it goes."""

from __future__ import annotations

import random

import pytest
import torch

from nst_core import Losses, Step, StyleConfig, stylize
from studio.costs import CostModel, Countdown, Scale, in_words, plan

CPU = torch.device("cpu")


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
    # The machine is three times slower than the model: 3 s an iteration, then 6 s, set-ups included.
    elapsed = {iteration: 3.0 * (1 + iteration) for iteration in range(1, 11)}
    elapsed |= {iteration: elapsed[10] + 6.0 * (1 + iteration - 10) for iteration in range(11, 21)}
    for iteration in range(2, 21, 2):
        left = countdown.update(fake_step(iteration, 20, elapsed[iteration]))
        if iteration > 2:  # at the first step the model's guess still weighs in (PRIOR_ITERATIONS)
            assert left == pytest.approx(elapsed[20] - elapsed[iteration], rel=0.15), iteration
        if iteration == 12:
            assert model.per_megapixel > 1.0  # learnt from the first scale: this machine is slower than thought
    assert left == 0.0


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


# A tee print refined from a 384 px design, as `print_config` plans it: 768, 1536, 3072 and 4800 px, 86 steps.
TEE = [Scale(576, 768, 50), Scale(1152, 1536, 16), Scale(2304, 3072, 10, True), Scale(3600, 4800, 10, True)]


def timed_steps(scales: list[Scale], paces: list[float], tiles: list[int], seed: int = 0) -> list[Step]:
    """The steps of a run whose scales really take `paces` seconds an iteration (±10 %) and 1.5 iterations to
    set up, a frame at least every 1.5 s, as the engine reports them."""
    rng = random.Random(seed)
    total, iteration, elapsed, steps = sum(scale.steps for scale in scales), 0, 0.0, []
    for scale, pace, tile in zip(scales, paces, tiles):
        elapsed += 1.5 * pace
        every = max(1, int(1.5 / pace))
        for count in range(1, scale.steps + 1):
            elapsed, iteration = elapsed + pace * rng.uniform(0.9, 1.1), iteration + 1
            if count % every == 0 or count == scale.steps:
                steps.append(Step(iteration, total, elapsed, Losses(0.0, 0.0, 0.0, 0.0), torch.zeros(3, 2, 2),
                                  tile=tile))
    return steps


@pytest.mark.parametrize("case", ["later scales slower", "tiled and slowed"])
@pytest.mark.parametrize("seed", [0, 1])
def test_a_prints_time_left_holds_across_its_scales(case, seed):
    model = CostModel(overhead=0.05, per_megapixel=7.0)  # the 2-core CPU's pace (docs/performance.md)
    if case == "later scales slower":  # the print-size scales run 1.5x slower than the model says
        paces = [model.iteration(scale) * slower for scale, slower in zip(TEE, (1, 1, 1.5, 1.5))]
        tiles = [0, 0, 512, 512]
    else:  # the print: 1536 px was tiled though the plan thought it fit whole, and a neighbour slowed it
        paces = [model.iteration(TEE[0]), 1.5 * model.iteration(Scale(1152, 1536, 16, True)),
                 model.iteration(TEE[2]), model.iteration(TEE[3])]
        tiles = [0, 512, 512, 512]
    steps = timed_steps(TEE, paces, tiles, seed)
    countdown, end, before = Countdown(CostModel(0.05, 7.0), TEE), steps[-1].elapsed, None
    for step in steps:
        left, truth = countdown.update(step), end - step.elapsed
        if step.elapsed >= 0.2 * end and not step.done:  # within ±35 % of the truth from a fifth of the work on
            assert 0.65 * truth <= left <= 1.35 * truth, (step.iteration, left, truth)
        if before:
            assert left <= 2 * before, (step.iteration, left, before)  # never the 4x jump the issue saw
        before = left
    assert left == 0.0


def calibration_painter(truth: CostModel, slow_call: int = 0):
    """A `paint` for `CostModel.calibrate` whose iterations take what `truth` says, except in its call number
    `slow_call`, where a neighbour makes all of them three times slower."""
    calls = []

    def paint(photo, probe):
        calls.append(probe.size)
        pace = truth.iteration(plan(probe, photo.size)[0]) * (3.0 if len(calls) == slow_call else 1.0)
        return [fake_step(iteration, probe.steps, 0.2 + pace * iteration) for iteration in range(1, probe.steps + 1)]

    return paint


def test_a_neighbour_busy_during_one_calibration_run_moves_neither_the_model_nor_the_default(
        tiny_net, tmp_path, monkeypatch):
    from nst_core.backbone import Backbone
    from studio.server import Engine

    truth = CostModel(overhead=0.05, per_megapixel=4.0)  # the default picture is 384 px at this pace
    clean = CostModel.calibrate(None, CPU, StyleConfig(), paint=calibration_painter(truth))
    noisy = CostModel.calibrate(None, CPU, StyleConfig(), paint=calibration_painter(truth, slow_call=2))
    assert (noisy.overhead, noisy.per_megapixel) == pytest.approx((clean.overhead, clean.per_megapixel))
    assert clean.per_megapixel == pytest.approx(truth.per_megapixel)
    sides = []
    for model, cache in ((clean, "clean"), (noisy, "noisy")):  # two machines' caches: nothing remembered
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / cache))
        default = Engine(CPU, Backbone(tiny_net, "local", "random"), "float32", model, None).default
        sides.append((default.size, default.steps))
    assert sides == [(384, 150), (384, 150)]


def test_restarts_keep_the_default_size_though_each_start_measures_a_little_differently(
        tiny_net, tmp_path, monkeypatch):
    from nst_core.backbone import Backbone
    from studio.server import CPU_BUDGET, CPU_SIDES, Engine, default_side, live_config

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "probes"))  # what the probes choose is not remembered below
    backbone = Backbone(tiny_net, "local", "random")

    def start(per_megapixel: float) -> Engine:
        return Engine(CPU, backbone, "float32", CostModel(overhead=0.0, per_megapixel=per_megapixel), None)

    def seconds(engine: Engine) -> dict[int, float]:  # each side's estimate, as the default is chosen
        return {side: engine.countdown(live_config(engine.default.replace(size=side, steps=150))).total
                for side in CPU_SIDES}

    per_megapixel = 0.97 * CPU_BUDGET / seconds(start(1.0))[448]
    # 448 px just fits: a start measured 15 % slow, alone, would choose 384 px.
    assert default_side(seconds(start(1.15 * per_megapixel))) == 384
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "machine"))
    sizes = [start(wobble * per_megapixel).default.size for wobble in (1.0, 1.15, 0.87, 1.12, 0.9)]
    assert sizes == [448] * 5
    assert start(1.6 * per_megapixel).default.size == 384  # a machine really slower gets a smaller picture


def test_a_slow_cpu_gets_fewer_steps_never_fewer_than_384_pixels(tiny_net, tmp_path, monkeypatch):
    from nst_core.backbone import Backbone
    from studio.server import CPU_BUDGET, CPU_STEPS, MIN_CPU_STEPS, SLOW_CPU_BUDGET, Engine, live_config

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    backbone = Backbone(tiny_net, "local", "random")

    def start(per_megapixel: float) -> Engine:
        return Engine(CPU, backbone, "float32", CostModel(overhead=0.0, per_megapixel=per_megapixel), None)

    fits = CPU_BUDGET / start(1.0).countdown(live_config(start(1.0).default.replace(size=384, steps=CPU_STEPS))).total
    for slower, in_budget in ((0.9, CPU_BUDGET), (1.5, SLOW_CPU_BUDGET), (2.5, SLOW_CPU_BUDGET)):
        engine = start(slower * fits)
        default = engine.default
        assert default.size == 384
        assert MIN_CPU_STEPS <= default.steps <= CPU_STEPS
        assert engine.countdown(live_config(default)).total <= in_budget * 1.01
        assert (default.steps < CPU_STEPS) == (slower > SLOW_CPU_BUDGET / CPU_BUDGET)
        if default.steps < CPU_STEPS:  # the steps fill the slow budget, to the nearest ten below
            assert engine.countdown(live_config(default.replace(steps=default.steps + 10))).total > SLOW_CPU_BUDGET
    assert start(20 * fits).default.steps == MIN_CPU_STEPS  # a very slow machine: still a finished picture


def test_a_start_beside_a_busy_neighbour_is_corrected_by_the_runs_that_follow(tiny_net, tmp_path, monkeypatch):
    from nst_core.backbone import Backbone
    from studio.server import CPU_BUDGET, CPU_STEPS, Engine, live_config

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    backbone = Backbone(tiny_net, "local", "random")
    probe = Engine(CPU, backbone, "float32", CostModel(overhead=0.0, per_megapixel=1.0), None)
    fits = CPU_BUDGET / probe.countdown(live_config(probe.default.replace(size=384, steps=CPU_STEPS))).total
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "machine"))
    truth = 0.8 * fits  # the machine's pace when quiet: 384 px and every step fit the budget
    busy = Engine(CPU, backbone, "float32", CostModel(overhead=0.0, per_megapixel=3 * truth), None)  # measured busy
    assert busy.default.steps < CPU_STEPS
    seen = []
    for _ in range(10):  # runs at the quiet pace: each one's scale moves the model towards what it measured
        scale = plan(busy.default, (1200, 900))[-1]
        busy.costs.learn(scale, CostModel(overhead=0.0, per_megapixel=truth).iteration(scale))
        seen.append(busy.default.steps)
    assert seen[-1] == CPU_STEPS and busy.default.size == 384
    assert seen == sorted(seen)  # it goes one way, no flicker
    restarted = Engine(CPU, backbone, "float32", CostModel(overhead=0.0, per_megapixel=1.2 * truth), None)
    assert restarted.default.steps == CPU_STEPS  # remembered, and within the wobble


def test_a_run_beside_another_is_estimated_at_the_shared_pace(monkeypatch):
    from studio import room
    from studio.jobs import Job

    assert room.sharing(60.0, []) == 60.0
    assert room.sharing(60.0, [600.0]) == pytest.approx(60.0 * room.SHARED_SLOWDOWN)  # a print outlasts it
    assert room.sharing(60.0, [10.0]) == pytest.approx(60.0 + 10.0 * (room.SHARED_SLOWDOWN - 1))  # shared 10 s
    print_job = Job("abc", room.RESULTS, "tee", estimate=3000.0, state="painting", left=2000.0)
    monkeypatch.setattr(room.PRINTS, "painting", lambda: print_job)
    assert room.beside_a_paint() == ([2000.0], "slower while a print renders on this server")
