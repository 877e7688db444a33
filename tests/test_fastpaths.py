"""The switchable fast paths: the style cache, bf16 and NHWC network calls, holding freed memory."""

import json
import resource

import pytest
import torch

from nst_core import StyleConfig, allocator, load_image, precision, stylize
from nst_core.fastpaths import STYLE_CACHE, StyleCache, TunedNet
from nst_core.losses import gram
from nst_core.stylize import compute_targets

CPU = torch.device("cpu")


def _pictures(content_array, style_array, size=48):
    return load_image(content_array, size, CPU), load_image(style_array, size, CPU)


def test_a_cached_painting_gives_the_same_targets_and_is_computed_once(tiny_net, content_array, style_array):
    config = StyleConfig(size=48)
    content, style = _pictures(content_array, style_array)
    cache, calls = StyleCache(), []

    def compute():
        calls.append(1)
        return compute_targets(tiny_net, content, style, config).grams

    net = TunedNet(tiny_net, config, CPU)
    first = cache.grams(net, style, config, compute)
    again = cache.grams(net, style.clone(), config, compute)  # other tensor, same pixels
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    assert all(torch.equal(first[name], again[name]) for name in first)

    cache.grams(net, load_image(style_array, 64, CPU), config, compute)  # another size
    cache.grams(net, style, config.replace(pooling="avg"), compute)  # another network setting
    cache.grams(net, style.flip(-1), config, compute)  # other pixels
    assert len(calls) == 4


def test_the_cache_forgets_the_least_recently_used(tiny_net, style_array):
    cache = StyleCache(entries=2)
    config = StyleConfig(size=48)
    net = TunedNet(tiny_net, config, CPU)
    pictures = [load_image(style_array, side, CPU) for side in (40, 48, 56)]
    for picture in pictures:
        cache.grams(net, picture, config, dict)
    cache.grams(net, pictures[2], config, dict)
    cache.grams(net, pictures[0], config, dict)
    assert (cache.hits, cache.misses) == (1, 4)  # the first was dropped when the third came


def test_runs_with_the_cache_paint_the_same_picture(tiny_net, content_array, style_array):
    config = StyleConfig(size=48, steps=6, preview_every=6)
    STYLE_CACHE.clear()
    uncached = list(stylize(content_array, style_array, config.replace(cache_targets=False), backbone=tiny_net,
                            device=CPU))[-1]
    cold = list(stylize(content_array, style_array, config, backbone=tiny_net, device=CPU))[-1]
    warm = list(stylize(content_array, style_array, config, backbone=tiny_net, device=CPU))[-1]
    assert STYLE_CACHE.hits == 1 and STYLE_CACHE.misses == 1
    assert torch.equal(cold.image, warm.image)
    assert torch.allclose(uncached.image, warm.image, atol=1e-6)


@pytest.mark.parametrize("changes, tolerance", [({"channels_last": True, "precision": "float32"}, 1e-4),
                                                ({"precision": "bf16"}, 5e-2)])
def test_tuned_network_calls_agree_with_float32(tiny_net, content_array, changes, tolerance):
    picture = load_image(content_array, 48, CPU)
    layers = ("relu1_1", "relu3_1", "relu5_1")
    reference = TunedNet(tiny_net, StyleConfig(precision="float32"), CPU)(picture, layers)
    tuned = TunedNet(tiny_net, StyleConfig(**changes), CPU)(picture, layers)
    for name in layers:
        expected, got = gram(reference[name]), gram(tuned[name])
        assert got.dtype == torch.float32  # Gram matrices are float32 whatever the convolutions ran in
        assert (got - expected).norm() / expected.norm() < tolerance


def test_channels_last_weights_are_laid_out_once_on_a_copy(tiny_net):
    first, second = (TunedNet(tiny_net, StyleConfig(channels_last=True), CPU) for _ in range(2))
    assert first.net is second.net is not tiny_net  # one copy for every run of the process
    weights = [module.weight for module in first.net.modules() if isinstance(module, torch.nn.Conv2d)]
    assert weights and all(weight.is_contiguous(memory_format=torch.channels_last) for weight in weights)
    shared = [module.weight for module in tiny_net.modules() if isinstance(module, torch.nn.Conv2d)]
    assert all(weight.is_contiguous() for weight in shared)  # the runs without it keep theirs as they were


@pytest.mark.parametrize("capability, chosen", [((7, 5), "float32"), ((8, 0), "bf16"), ((9, 0), "bf16")])
def test_auto_precision_on_a_card_takes_bf16_only_where_it_is_native(monkeypatch, capability, chosen):
    """torch.cuda stubbed (no GPU here): a Turing card emulates bf16, slower than float32."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert precision.resolve_precision("auto", torch.device("cuda")) == chosen


def test_bf16_runs_descend_and_stay_finite(tiny_net, content_array, style_array):
    config = StyleConfig(size=48, steps=20, preview_every=10, precision="bf16")
    steps = list(stylize(content_array, style_array, config, backbone=tiny_net, device=CPU))
    assert all(torch.isfinite(step.image).all() for step in steps)
    assert steps[-1].losses.total < steps[0].losses.total


def test_memory_is_held_only_while_runs_go_on(tiny_net, content_array, style_array, small_config):
    assert allocator._holders == 0
    run = stylize(content_array, style_array, small_config, backbone=tiny_net, device=CPU)
    next(run)
    assert allocator._holders == (1 if allocator.available() else 0)
    run.close()  # a stopped run lets go too
    assert allocator._holders == 0
    list(stylize(content_array, style_array, small_config.replace(hold_memory=False), backbone=tiny_net, device=CPU))
    assert allocator._holders == 0


def test_holds_nest(monkeypatch):
    if not allocator.available():
        pytest.skip("not glibc")
    allocator.hold()
    allocator.hold()
    allocator.release()
    assert allocator._holders == 1
    allocator.release()
    allocator.release()  # one too many is harmless
    assert allocator._holders == 0


def test_after_a_run_large_blocks_are_reused_not_faulted_in_again():
    """Released thresholds must not be glibc's starting 128 kB, which (fixed) maps every block anew."""
    if not allocator.available():
        pytest.skip("not glibc")
    allocator.hold()
    allocator.release()
    block = 4 * 1024**2  # floats: a 16 MB block, like a 256 px picture's first activations
    torch.ones(block)  # the first one may fault its pages in
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        torch.ones(block)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    pages = block * 4 // resource.getpagesize()
    assert faults < 5 * pages, f"{faults} page faults for 20 reused 16 MB blocks of {pages} pages"  # 20x: mapped anew


@pytest.mark.parametrize("speedup, chosen", [(0.3, "float32"), (1.05, "float32"), (1.8, "bf16")])
def test_auto_precision_on_a_cpu_follows_this_machines_measurement(tiny_net, tmp_path, monkeypatch, speedup,
                                                                      chosen):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    precision.cpu_bf16_speedup.cache_clear()
    folder = tmp_path / "tee-style-studio"
    folder.mkdir()
    (folder / "precision.json").write_text(json.dumps({precision.machine_key(): speedup}))
    try:
        assert precision.resolve_precision("auto", CPU) == chosen
        assert precision.resolve_precision("float32", CPU) == "float32"  # a choice made is kept
        assert (TunedNet(tiny_net, StyleConfig(), CPU).dtype is torch.bfloat16) == (chosen == "bf16")
    finally:
        precision.cpu_bf16_speedup.cache_clear()


def test_auto_precision_is_measured_once_per_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    precision.cpu_bf16_speedup.cache_clear()
    try:
        measured = precision.cpu_bf16_speedup()
        known = json.loads((tmp_path / "tee-style-studio" / "precision.json").read_text())
        assert known == {precision.machine_key(): pytest.approx(measured, abs=1e-3)}
        assert 0.001 < measured < 20  # a timing, not a default (bf16 measured 46x slower on a CPU without it)
    finally:
        precision.cpu_bf16_speedup.cache_clear()


@pytest.mark.parametrize("slow", [0, 1, 4])  # which timing a neighbour slows
@pytest.mark.parametrize("float32, bf16, chosen", [(1.0, 0.6, "bf16"),  # a CPU with bf16: its bf16 slowed 10x
                                                   (1.0, 3.5, "float32")])  # one without: its float32 slowed 10x
def test_one_slow_timing_cannot_flip_the_precision(tmp_path, monkeypatch, slow, float32, bf16, chosen):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    slowed = torch.bfloat16 if chosen == "bf16" else None
    timings = {dtype: iter([seconds * (10 if dtype is slowed and index == slow else 1) for index in range(20)])
               for dtype, seconds in ((None, float32), (torch.bfloat16, bf16))}
    monkeypatch.setattr(precision, "_time_convolutions", lambda dtype: next(timings[dtype]))
    precision.cpu_bf16_speedup.cache_clear()
    try:
        assert precision.resolve_precision("auto", CPU) == chosen
    finally:
        precision.cpu_bf16_speedup.cache_clear()


@pytest.mark.parametrize("speedup, chosen, words", [(1.8, "bf16", "measured 1.8× faster"),
                                                    (0.3, "float32", "measured 3.3× slower")])
def test_the_server_paints_in_the_precision_auto_chooses(tiny_net, tmp_path, monkeypatch, speedup, chosen, words):
    from nst_core.backbone import Backbone
    from studio import server
    from studio.costs import CostModel

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("NST_DEVICE", "cpu")
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    (tmp_path / "tee-style-studio").mkdir()
    (tmp_path / "tee-style-studio" / "precision.json").write_text(json.dumps({precision.machine_key(): speedup}))
    calibrated = []
    monkeypatch.setattr(server, "load_backbone", lambda: Backbone(tiny_net, "local", "a random VGG19"))
    monkeypatch.setattr(CostModel, "calibrate", classmethod(
        lambda cls, backbone, device, config, **options: calibrated.append(config.precision) or cls(0.05, 7.0)))
    precision.cpu_bf16_speedup.cache_clear()
    server.engine.cache_clear()
    try:
        engine = server.engine()
        assert engine.precision == chosen == precision.resolve_precision("auto", CPU)  # one decision
        assert calibrated == [chosen]  # and only that precision measured at start-up
        assert words in engine.words
    finally:
        server.engine.cache_clear()
        precision.cpu_bf16_speedup.cache_clear()
