"""The networks' checkpoints: each round-trips, and each refuses the other's format."""

from __future__ import annotations

import pytest
import torch

from silentscope.models.network import EnsembleNet, SilentNet


def _members() -> list[SilentNet]:
    torch.manual_seed(0)
    return [SilentNet(n_classes=2, in_channels=1, width=4).eval() for _ in range(2)]


def test_checkpoints_round_trip():
    x = torch.rand(3, 1, 28, 28)
    net, other = _members()
    ensemble = EnsembleNet([net, other]).eval()
    with torch.no_grad():
        assert torch.allclose(SilentNet.from_checkpoint(net.to_checkpoint())(x), net(x))
        assert torch.allclose(EnsembleNet.from_checkpoint(ensemble.to_checkpoint())(x), ensemble(x))


def test_each_checkpoint_refuses_the_other_format():
    net, other = _members()
    ensemble = EnsembleNet([net, other])
    with pytest.raises(
        ValueError, match="not a silentscope model checkpoint .*'silentscope.ensemble'"
    ):
        SilentNet.from_checkpoint(ensemble.to_checkpoint())
    with pytest.raises(
        ValueError, match="not a silentscope ensemble checkpoint .*'silentscope.model'"
    ):
        EnsembleNet.from_checkpoint(net.to_checkpoint())
