"""The CUDA-graph replay's bookkeeping, with a stand-in for torch.cuda (no GPU here): warm-up, one capture,
replays, and the eager fallback when capture fails. The capture itself is checked on a GPU (bench.loop)."""

import contextlib
import logging

import pytest
import torch

from nst_core import graphs
from nst_core.graphs import WARMUP, Replay


class _FakeCuda:
    """Records what Replay asks of torch.cuda; a replay counts instead of running kernels."""

    def __init__(self, fail_capture: bool = False):
        self.fail_capture = fail_capture
        self.captures = self.replays = self.side_stream_calls = 0
        self.on_side_stream = False
        fake = self

        class CUDAGraph:
            def replay(self):
                fake.replays += 1

        self.CUDAGraph = CUDAGraph

    def graph(self, graph, capture_error_mode="global"):
        assert capture_error_mode == "thread_local"
        self.captures += 1
        if self.fail_capture:
            raise RuntimeError("operation not permitted when stream is capturing")
        return contextlib.nullcontext()

    def Stream(self):
        return self

    def current_stream(self):
        return self

    def wait_stream(self, stream):
        pass

    @contextlib.contextmanager
    def stream(self, stream):
        self.on_side_stream = True
        yield
        self.on_side_stream = False

    def synchronize(self):
        pass


@pytest.fixture
def fake_cuda(monkeypatch):
    def install(**options):
        fake = _FakeCuda(**options)
        for name in ("CUDAGraph", "graph", "Stream", "current_stream", "stream", "synchronize"):
            monkeypatch.setattr(graphs.torch.cuda, name, getattr(fake, name))
        return fake

    return install


def _counting(fake: _FakeCuda):
    """An iteration that returns how many times it ran, and notes whether each run was on the side stream."""
    calls = []

    def iteration():
        calls.append(fake.on_side_stream)
        return torch.tensor(float(len(calls)))

    return calls, iteration


def test_warm_up_then_one_capture_then_only_replays(fake_cuda):
    fake = fake_cuda()
    calls, iteration = _counting(fake)
    replay = Replay(iteration, torch.device("cuda"))
    outputs = [replay() for _ in range(WARMUP + 5)]
    assert calls == [True] * WARMUP + [False]  # warm-up on a side stream, then the captured call
    assert fake.captures == 1 and fake.replays == 5  # the capture's own call replays once, then four more
    assert all(output is outputs[WARMUP] for output in outputs[WARMUP:])  # the graph's static output


def test_a_failed_capture_falls_back_to_eager_for_good(fake_cuda, caplog):
    fake = fake_cuda(fail_capture=True)
    calls, iteration = _counting(fake)
    replay = Replay(iteration, torch.device("cuda"))
    with caplog.at_level(logging.WARNING, logger="nst_core.graphs"):
        outputs = [float(replay()) for _ in range(WARMUP + 4)]
    assert outputs == [float(n) for n in range(1, WARMUP + 5)]  # every iteration ran, once each
    assert calls == [True] * WARMUP + [False] * 4
    assert fake.captures == 1 and fake.replays == 0
    assert "could not be captured" in caplog.text


@pytest.mark.parametrize("device, enabled", [("cpu", True), ("cuda", False)])
def test_off_cuda_or_disabled_it_is_the_iteration_itself(fake_cuda, device, enabled):
    fake = fake_cuda()
    calls, iteration = _counting(fake)
    replay = Replay(iteration, torch.device(device), enabled=enabled)
    assert [float(replay()) for _ in range(6)] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert calls == [False] * 6 and fake.captures == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: run with NST_DEVICE=cuda there")
@pytest.mark.parametrize("optimizer, lr", [("lbfgs", 1.0), ("adam", 0.02)])
def test_a_graphed_run_paints_what_an_eager_run_paints(tiny_net, monkeypatch, optimizer, lr):
    from nst_core import StyleConfig, stylize
    from tests.pictures import smooth_picture, stripes_picture

    config = StyleConfig(size=64, steps=10, preview_every=5, optimizer=optimizer, lr=lr, precision="float32")

    def run():
        return list(stylize(smooth_picture(1), stripes_picture(2), config, backbone=tiny_net, device="cuda"))

    graphed = run()
    monkeypatch.setattr(graphs, "ENABLED", False)
    eager = run()
    assert [step.iteration for step in graphed] == [step.iteration for step in eager] == [5, 10]
    for together, alone in zip(graphed, eager):
        assert together.losses.total == pytest.approx(alone.losses.total, rel=1e-3)
        assert (together.image - alone.image).abs().mean() < 1e-3
