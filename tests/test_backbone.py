"""The feature network and where its weights come from: local files, torchvision's cache, no network."""

import socket

import pytest
import torch
import torchvision

from nst_core import FeatureNet, load_backbone
from nst_core.backbone import BackboneUnavailable, load_local, load_torchvision_vgg19, torchvision_layout

VGG19_RELU_INDEX = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu4_2": 22, "relu5_1": 29}
VGG16_RELU_INDEX = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 18, "relu4_2": 20, "relu5_1": 25}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach the internet fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def torchvision_activations(features: torch.nn.Sequential, image: torch.Tensor, index: dict) -> dict:
    x = torchvision.transforms.functional.normalize(image, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    out = {}
    for position, layer in enumerate(features):
        x = layer(x)
        for name, wanted in index.items():
            if wanted == position:
                out[name] = x.clone()
    return out


@pytest.mark.parametrize("build, arch, index", [
    (torchvision.models.vgg19, "vgg19", VGG19_RELU_INDEX),
    (torchvision.models.vgg16, "vgg16", VGG16_RELU_INDEX),
])
def test_a_torchvision_state_dict_of_either_layout_gives_torchvision_activations(tmp_path, build, arch, index):
    torch.manual_seed(0)
    features = build().features.eval()
    path = tmp_path / f"{arch}.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    backbone = load_local(path)
    assert backbone.arch == arch and backbone.source == "local" and str(path) in backbone.description
    image = torch.rand(1, 3, 40, 48)
    ours = backbone.net(image, tuple(index))
    theirs = torchvision_activations(features, image, index)
    for name in index:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-4, atol=1e-5)


def test_the_forward_pass_stops_after_the_deepest_layer_asked_for(tiny_net, monkeypatch):
    called = []
    for name, conv in tiny_net.convs.items():
        monkeypatch.setattr(conv, "forward", lambda x, conv=conv, name=name: called.append(name) or
                            torch.nn.Conv2d.forward(conv, x))
    out = tiny_net(torch.rand(1, 3, 32, 32), ("relu2_1", "relu1_1"))
    assert set(out) == {"relu1_1", "relu2_1"}
    assert called == ["conv1_1", "conv1_2", "conv2_1"]


def test_the_network_is_frozen_and_in_eval_mode(tiny_net):
    assert not tiny_net.training
    assert not any(p.requires_grad for p in tiny_net.parameters())


def test_unknown_layers_and_bad_files_are_refused(tiny_net, tmp_path):
    with pytest.raises(ValueError, match="has no layer relu6_1"):
        tiny_net(torch.rand(1, 3, 32, 32), ("relu6_1",))
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        load_local(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not read"):
        load_local(tmp_path / "junk.pth")
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="found 1 convolution weights"):
        load_local(tmp_path / "partial.pth")


def test_the_weights_environment_variable_names_a_local_file(tmp_path, monkeypatch, no_network):
    path = tmp_path / "mine.pth"
    torch.save(torchvision_layout(FeatureNet("vgg16")), path)
    monkeypatch.setenv("NST_WEIGHTS", str(path))
    backbone = load_backbone()
    assert backbone.source == "local" and backbone.arch == "vgg16"


def test_vgg19_in_the_torch_home_cache_is_found_without_the_network(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("NST_WEIGHTS", raising=False)
    torch.manual_seed(3)
    reference = FeatureNet("vgg19")
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(torchvision_layout(reference), checkpoints / "vgg19-dcbb9e9d.pth")

    backbone = load_backbone()
    assert backbone.source == "torchvision" and backbone.arch == "vgg19"
    assert "cache" in backbone.description
    for ours, theirs in zip(backbone.net.parameters(), reference.parameters()):
        assert torch.equal(ours, theirs)


def test_without_cache_and_downloads_off_torchvision_is_unavailable(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(BackboneUnavailable, match="not in torch's cache"):
        load_torchvision_vgg19(download=False)


def test_a_failed_download_falls_back_to_the_offline_backbone(tmp_path, monkeypatch, real_backbone):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("NST_WEIGHTS", raising=False)
    monkeypatch.setenv("NST_CACHE", str(tmp_path / "nst"))
    monkeypatch.delenv("NST_OFFLINE", raising=False)

    def no_route(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "getaddrinfo", no_route)
    backbone = load_backbone()
    assert backbone.source == "offline" and backbone.arch == "vgg16"
    assert "could not be downloaded" in backbone.description
