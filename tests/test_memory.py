"""The memory a run may take: PyTorch's cache counted as free on a GPU (torch.cuda's queries stubbed: no GPU here),
emulated CUDA with no card to ask, and the claims that keep runs starting together from each planning on all of it."""

from __future__ import annotations

import importlib
import threading
import time

import pytest
import torch

from nst_core import StyleConfig, stylize
from nst_core.memory import GIB, Claims, DoesNotFitError, available_bytes

CUDA = torch.device("cuda")


@pytest.fixture
def card(monkeypatch):
    """A stand-in for torch.cuda's memory queries: `free` GB free to the driver, `reserved` GB held by PyTorch's
    allocator, `allocated` GB of it in tensors."""
    numbers = {"free": 2.0, "reserved": 10.0, "allocated": 4.0, "total": 80.0}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (int(numbers["free"] * GIB),
                                                                         int(numbers["total"] * GIB)))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: int(numbers["reserved"] * GIB))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: int(numbers["allocated"] * GIB))
    return numbers


def test_the_cache_pytorch_holds_counts_as_free(card):
    assert available_bytes(CUDA) == int(0.9 * (2 + 10 - 4) * GIB)  # not 0.9 * 2 GB: a tiled print's cache is reused
    card.update(reserved=4.0)  # nothing cached
    assert available_bytes(CUDA) == int(0.9 * 2 * GIB)


def test_a_card_that_cannot_be_asked_is_planned_for_whole(monkeypatch):
    def no_card(device=None):
        raise RuntimeError("Low-level CUDA init (`torch._C._cuda_init`) reached")

    class Properties:
        total_memory = 70 * GIB

    monkeypatch.setattr(torch.cuda, "mem_get_info", no_card)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: Properties)
    assert available_bytes(CUDA) == int(0.9 * 70 * GIB)


def test_a_run_plans_against_what_the_runs_before_it_claimed(card):
    claims, budgets = Claims(), []

    def plan(need: float, kept: float):
        def planned(budget: int):
            budgets.append(budget / GIB)
            return int(need * GIB), int(kept * GIB)
        return planned

    print_job = claims.claim(CUDA, plan(5.0, 2.0))
    live = claims.claim(CUDA, plan(1.0, 0.5))
    assert budgets == pytest.approx([7.2, 2.2], abs=1e-6)  # 0.9 * 8 GB, then that less the print's 5 GB
    print_job.started = True  # its 2 GB are allocated now (the stub says so below); its activations come and go
    card.update(allocated=6.0)
    claims.claim(CUDA, plan(0.1, 0.1))
    assert budgets[-1] == pytest.approx(0.9 * 6 - 3.0 - 1.0, abs=1e-6)
    claims.release(print_job)
    claims.release(print_job)  # twice is harmless
    claims.release(live)
    assert claims.unseen(CUDA) == int(0.1 * GIB)


def test_runs_starting_together_each_see_the_others_claim(card):
    claims, budgets = Claims(), []

    def slow_plan(budget: int):
        budgets.append(budget)
        time.sleep(0.05)  # the other thread tries to plan meanwhile
        return 3 * GIB, GIB

    threads = [threading.Thread(target=claims.claim, args=(CUDA, slow_plan)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(budgets, reverse=True) == [int(0.9 * 8 * GIB), int(0.9 * 8 * GIB) - 3 * GIB]


@pytest.fixture
def claims(monkeypatch):
    """The engine's claims as a ledger of this test's own (the launched studio of other tests may paint meanwhile),
    on a machine with `claims.free` bytes available."""
    ledger = Claims(available=lambda device: ledger.free)
    ledger.free = 16 * GIB
    monkeypatch.setattr(importlib.import_module("nst_core.stylize"), "CLAIMS", ledger)
    return ledger


def test_a_run_gives_its_claim_back_when_it_ends_or_is_closed(claims, tiny_net, content_array, style_array):
    config = StyleConfig(size=48, steps=6, preview_every=3, scales=(32,), scale_steps=(3,))
    cpu = torch.device("cpu")
    steps = stylize(content_array, style_array, config, backbone=tiny_net, device=cpu)
    next(steps)
    assert claims.unseen(cpu) > 0  # painting: its activations are claimed
    steps.close()
    assert claims.unseen(cpu) == 0
    list(stylize(content_array, style_array, config, backbone=tiny_net, device=cpu))
    assert claims.unseen(cpu) == 0


def test_a_run_that_would_not_fit_beside_anothers_claim_says_so(claims, tiny_net, content_array, style_array):
    claims.free = 600 * 2**20
    config = StyleConfig(size=64, steps=2, preview_every=2)
    cpu = torch.device("cpu")
    other = claims.claim(cpu, lambda budget: (590 * 2**20, 0))  # a print that started a moment before
    with pytest.raises(DoesNotFitError, match="choose a smaller size"):
        list(stylize(content_array, style_array, config, backbone=tiny_net, device=cpu))
    claims.release(other)
    assert len(list(stylize(content_array, style_array, config, backbone=tiny_net, device=cpu))) == 1
