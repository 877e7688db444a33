"""The CUDA-graph replay's bookkeeping, with a stand-in for torch.cuda (no GPU here): warm-up, one capture,
replays, and the eager fallback when capture fails. The capture itself is checked on a GPU (bench.loop)."""

import contextlib
import gc
import logging
import threading
import time

import pytest
import torch

from nst_core import graphs
from nst_core.graphs import WARMUP, Replay


class _FakeCuda:
    """Records what Replay asks of torch.cuda; a replay counts instead of running kernels."""

    def __init__(self, fail_capture: bool = False, capture_seconds: float = 0.0):
        self.fail_capture, self.capture_seconds = fail_capture, capture_seconds
        self.captures = self.replays = 0
        self.capturing = self.most_capturing = 0  # captures under way at once, now and at most
        self.on_side_stream = False
        self.devices: list = []  # the device current at each capture and replay
        self.streams: list = []  # the devices streams were made on
        self.local = threading.local()  # the current device is each thread's own, as CUDA's is
        self._lock = threading.Lock()
        fake = self

        class CUDAGraph:
            def capture_begin(self, capture_error_mode="global"):
                assert capture_error_mode == "thread_local"
                assert fake.on_side_stream, "captured on the current stream"
                with fake._lock:
                    fake.captures += 1
                    fake.capturing += 1
                    fake.most_capturing = max(fake.most_capturing, fake.capturing)
                fake.devices.append(getattr(fake.local, "device", None))
                time.sleep(fake.capture_seconds)  # another thread may try to capture meanwhile
                if fake.fail_capture:
                    raise RuntimeError("operation not permitted when stream is capturing")

            def capture_end(self):
                with fake._lock:
                    fake.capturing -= 1

            def replay(self):
                fake.replays += 1
                fake.devices.append(getattr(fake.local, "device", None))

        self.CUDAGraph = CUDAGraph

    def graph(self, *args, **kwargs):
        raise AssertionError("torch.cuda.graph collects garbage and empties the cache before each capture")

    def Stream(self, device=None):
        self.streams.append(device)
        return self

    def current_stream(self, device=None):
        return self

    def wait_stream(self, stream):
        pass

    @contextlib.contextmanager
    def stream(self, stream):
        self.on_side_stream = True
        try:
            yield
        finally:
            self.on_side_stream = False

    @contextlib.contextmanager
    def device(self, device):
        before, self.local.device = getattr(self.local, "device", None), device
        yield
        self.local.device = before

    def synchronize(self, device=None):
        pass


@pytest.fixture
def fake_cuda(monkeypatch):
    def install(**options):
        fake = _FakeCuda(**options)
        for name in ("CUDAGraph", "graph", "Stream", "current_stream", "stream", "device", "synchronize"):
            monkeypatch.setattr(graphs.torch.cuda, name, getattr(fake, name))
        monkeypatch.setattr(graphs.torch.cuda, "empty_cache", lambda: pytest.fail("the cache was emptied"))
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
    assert calls == [True] * (WARMUP + 1)  # warm-up on a side stream, then the call captured on a stream of its own
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


def test_two_runs_capture_one_at_a_time_on_their_own_cards(fake_cuda, monkeypatch):
    fake = fake_cuda(capture_seconds=0.1)
    collections = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args) or 0)
    cards = [torch.device("cuda", index) for index in (0, 1)]  # the second as --device cuda:1 would give it
    replays = [Replay(_counting(fake)[1], card) for card in cards]

    def run(replay):
        for _ in range(WARMUP + 3):
            replay()

    threads = [threading.Thread(target=run, args=(replay,)) for replay in replays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.captures == 2 and fake.most_capturing == 1  # the second waited for the first
    assert sorted(fake.devices, key=str) == [cards[0]] * 4 + [cards[1]] * 4  # captures and replays on their cards
    assert set(map(str, fake.streams)) == {"cuda:0", "cuda:1"}  # streams on the run's card, not the current one
    assert collections == []  # no garbage collection on the way to the first frame


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
