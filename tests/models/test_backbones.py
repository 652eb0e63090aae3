"""Backbones and SilentNet: shapes, the features path, and where dropout sits."""

from __future__ import annotations

import pytest
import torch

from silentscope.models import SilentNet, build_backbone
from silentscope.models.backbones import ResNet18


@pytest.mark.parametrize("size", [28, 64, 128, 256])
@pytest.mark.parametrize("channels", [1, 3])
def test_backbones_map_any_size_and_channels_to_features(size, channels):
    backbone = build_backbone("auto", in_channels=channels, width=2, image_size=size)
    assert type(backbone).__name__ == ("SmallCNN" if size < 64 else "ResNet18")
    features = backbone(torch.rand(2, channels, size, size))
    assert features.shape == (2, backbone.out_features)


def test_resnet18_has_eighteen_weighted_layers():
    net = ResNet18(in_channels=3, width=2, image_size=64)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1)]
    assert len(convs) == 17  # + the classifier head of SilentNet = 18


@pytest.mark.parametrize(
    ("objective", "extra"), [("ce", 0), ("dg", 1), ("confidnet", 0), ("devries", 0)]
)
def test_forward_returns_class_logits_and_features_are_penultimate(objective, extra):
    net = SilentNet(n_classes=5, in_channels=3, objective=objective, width=4).eval()
    x = torch.rand(3, 3, 28, 28)
    assert net(x).shape == (3, 5)
    assert net.head.out_features == 5 + extra
    out = net.forward_all(x)
    assert torch.equal(out.features, net.features(x)) and out.features.shape == (3, net.feature_dim)
    assert torch.allclose(net.head(out.features)[:, :5], net(x))


def test_dropout_sits_only_before_the_head():
    net = SilentNet(n_classes=2, in_channels=1, width=4, dropout=0.5)
    dropouts = [name for name, m in net.named_modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == ["dropout"]
    net.eval()
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(net(x), net(x))  # deterministic in eval mode
    net.dropout.train()
    assert not torch.equal(net(x), net(x))  # stochastic with dropout on


def test_network_arguments_are_validated():
    with pytest.raises(ValueError, match="at least 2 classes"):
        SilentNet(n_classes=1, in_channels=1)
    with pytest.raises(ValueError, match="in_channels must be 1"):
        SilentNet(n_classes=2, in_channels=4)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        SilentNet(n_classes=2, in_channels=1, dropout=1.0)
    with pytest.raises(
        ValueError, match="unknown backbone 'vit'; choose from auto, resnet18, small_cnn"
    ):
        SilentNet(n_classes=2, in_channels=1, backbone="vit")
