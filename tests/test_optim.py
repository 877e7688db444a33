"""The batched optimisers against torch's own, and the loop's promise not to read the device between previews."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from nst_core import StyleConfig, stylize
from nst_core.optim import LBFGS, Adam
from tests.pictures import smooth_picture, stripes_picture

DOUBLE = torch.float64


def _problem(batch: int, device: torch.device, size: int = 12, seed: int = 0):
    """A smooth, non-quadratic objective per picture (a different one for each), summed over the batch."""
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(batch, size, size, generator=generator, dtype=DOUBLE)
    a = (a @ a.transpose(1, 2) + 0.5 * torch.eye(size, dtype=DOUBLE)).to(device)
    c = torch.randn(batch, size, generator=generator, dtype=DOUBLE).to(device)
    start = torch.randn(batch, size, generator=generator, dtype=DOUBLE).to(device)

    def objective(x: torch.Tensor) -> torch.Tensor:  # (B, N) -> (B,)
        return 0.5 * torch.einsum("bi,bij,bj->b", x, a, x) - (c * x).sum(1) + 0.1 * x.pow(4).sum(1)

    return objective, start


def _with_torch(objective, start, index, optimizer, iterations):
    """Picture `index` optimised alone by torch's optimiser."""
    x = start[index:index + 1].clone().requires_grad_(True)
    torch_optimizer = optimizer([x])

    def closure():
        torch_optimizer.zero_grad()
        value = objective(torch.cat((start[:index], x, start[index + 1:])))[index]
        value.backward()
        return value

    for _ in range(iterations):
        torch_optimizer.step(closure)
    return x.detach()[0]


def _batched(objective, start, make, iterations, between=None):
    """Every picture optimised together by the optimiser `make(x)` builds; `between` sees each iteration."""
    x = start.clone().requires_grad_(True)
    optimizer = make(x)
    for iteration in range(iterations):
        x.grad = None
        objective(x).sum().backward()
        optimizer.step(x, x.grad)
        if between:
            between(iteration, x, optimizer)
    return x.detach()


@pytest.mark.parametrize("history", [3, 50])  # 3: the ring of pairs wraps round many times
@pytest.mark.parametrize("whole", [False, True])  # the slots in use only, or all (a CUDA graph's one shape)
def test_batched_lbfgs_is_torchs_lbfgs_for_each_picture(device, history, whole):
    objective, start = _problem(3, device)
    lrs = [1.0, 0.8, 0.5]
    rates = torch.tensor(lrs, dtype=DOUBLE, device=device)
    together = _batched(objective, start, lambda x: LBFGS(x, rates, history, whole), 25)
    for index, lr in enumerate(lrs):
        alone = _with_torch(objective, start, index, lambda p, lr=lr: torch.optim.LBFGS(
            p, lr=lr, max_iter=1, history_size=history, tolerance_grad=0.0, tolerance_change=0.0), 25)
        torch.testing.assert_close(together[index], alone, rtol=0, atol=1e-10)


def test_batched_lbfgs_in_float32_stays_close_to_torchs(device):
    objective, start = _problem(2, device)
    start = start.float()
    objective64 = objective

    def objective32(x):
        return objective64(x.double()).float()

    together = _batched(objective32, start, lambda x: LBFGS(x, torch.ones(2, device=device), 10), 10)
    for index in range(2):
        alone = _with_torch(objective32, start, index, lambda p: torch.optim.LBFGS(
            p, max_iter=1, history_size=10, tolerance_grad=0.0, tolerance_change=0.0), 10)
        torch.testing.assert_close(together[index], alone, rtol=1e-4, atol=1e-4)


def test_batched_adam_is_torchs_adam_for_each_picture(device):
    objective, start = _problem(3, device)
    lrs = [0.01, 0.03, 0.1]
    together = _batched(objective, start, lambda x: Adam(x, torch.tensor(lrs, dtype=DOUBLE, device=device)), 30)
    for index, lr in enumerate(lrs):
        alone = _with_torch(objective, start, index, lambda p, lr=lr: torch.optim.Adam(p, lr=lr), 30)
        torch.testing.assert_close(together[index], alone, rtol=0, atol=1e-12)


@pytest.mark.parametrize("make", [lambda x, lr: LBFGS(x, lr, 5), lambda x, lr: LBFGS(x, lr, 5, whole=True),
                                  lambda x, lr: Adam(x, lr)])
def test_a_reset_picture_starts_afresh_and_the_others_go_on(device, make):
    objective, start = _problem(2, device)
    resumed = {}

    def reset_second_at_ten(iteration, x, optimizer):
        if iteration == 9:
            resumed["from"] = x.detach()[1].clone()
            optimizer.reset(torch.tensor([False, True], device=device), torch.tensor([0.0, 0.1], dtype=DOUBLE, device=device))

    together = _batched(objective, start, lambda x: make(x, torch.full((2,), 0.05, dtype=DOUBLE, device=device)), 20,
                        between=reset_second_at_ten)
    untouched = _batched(objective, start, lambda x: make(x, torch.full((2,), 0.05, dtype=DOUBLE, device=device)), 20)
    torch.testing.assert_close(together[0], untouched[0], rtol=0, atol=1e-12)
    # The second picture's last ten iterations are a fresh optimiser's, from where it was, at lr 0.1.
    fresh_start = torch.stack((start[0], resumed["from"]))
    fresh = _batched(objective, fresh_start, lambda x: make(x, torch.tensor([0.05, 0.1], dtype=DOUBLE, device=device)), 10)
    torch.testing.assert_close(together[1], fresh[1], rtol=0, atol=1e-10)


def test_lbfgs_leaves_a_picture_with_a_zero_gradient_where_it_is():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=DOUBLE)
    optimizer = LBFGS(x, torch.ones(2, dtype=DOUBLE), 5)
    optimizer.step(x, torch.tensor([[0.0, 0.0], [0.5, -0.5]], dtype=DOUBLE))
    assert x[0].tolist() == [1.0, 2.0] and x[1].tolist() != [3.0, 4.0]
    assert optimizer.iterations.tolist() == [0, 1]  # its first real step is still to come


class _ReadBacks(TorchDispatchMode):
    """Counts the operations that bring a tensor's value to Python (item, float, bool, if tensor)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("optimizer, lr", [("lbfgs", 1.0), ("adam", 0.02)])
def test_the_loop_reads_nothing_back_between_previews(tiny_net, optimizer, lr):
    def read_backs(steps: int) -> int:
        config = StyleConfig(size=40, steps=steps, preview_every=steps, optimizer=optimizer, lr=lr)
        with _ReadBacks() as counter:
            results = list(stylize(smooth_picture(1), stripes_picture(2), config, backbone=tiny_net, device="cpu"))
        assert len(results) == 1
        return counter.count

    assert read_backs(12) == read_backs(3)  # set-up and the one preview only, whatever the iterations between
