"""MCSampler: batching M dropout samples at the first dropout layer, only where it is exact."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from silentscope.models.mc_batching import MCSampler


class Head(nn.Module):
    """Encoder, then dropout and a linear head: the usual MC-dropout classifier."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU())
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.drop(self.encoder(x)))


class Residual(Head):
    """A skip connection joins the dropout branch: repeating at the dropout breaks shapes."""

    def forward(self, x):
        h = self.encoder(x)
        return self.fc(h + self.drop(h))


class BatchMixing(Head):
    """A layer before the dropout depends on the batch size: only input repetition is exact."""

    def forward(self, x):
        h = self.encoder(x) * x.shape[0]
        return self.fc(self.drop(h))


def _sampler(model, batch_size=64):
    model.eval()
    return MCSampler(model, [model.drop], model, batch_size)


def _input_repeated(model, x, m, seed):
    torch.manual_seed(seed)
    model.drop.train()
    with torch.no_grad():
        out = model(x.repeat(m, 1, 1, 1)).view(m, len(x), -1).permute(1, 2, 0)
    model.drop.eval()
    return out


def _separate(model, x, m, seed):
    torch.manual_seed(seed)
    model.drop.train()
    with torch.no_grad():
        out = torch.stack([model(x) for _ in range(m)], dim=2)
    model.drop.eval()
    return out


@pytest.mark.parametrize(
    ("model", "mode"), [(Head(), "first_dropout"), (Residual(), "input"), (BatchMixing(), "input")]
)
def test_the_fast_mode_is_kept_only_where_it_reproduces_input_repetition(model, mode):
    torch.manual_seed(0)
    x = torch.rand(6, 1, 4, 4)
    sampler = _sampler(model)
    torch.manual_seed(1)
    with torch.no_grad():
        samples = sampler.sample(x, 5)
    assert sampler.mode == mode
    assert samples.shape == (6, 3, 5)
    # Whatever the mode, the result is that of repeating the input batch M times...
    assert torch.allclose(samples, _input_repeated(model, x, 5, seed=1), atol=1e-5)
    assert not model.drop.training
    # ... which, for a model that treats samples independently, is M separate passes.
    if mode == "first_dropout" or isinstance(model, Residual):
        assert torch.allclose(samples, _separate(model, x, 5, seed=1), atol=1e-5)


def test_later_chunks_use_the_chosen_mode_and_stay_stochastic():
    torch.manual_seed(0)
    model = Head()
    sampler = _sampler(model, batch_size=8)  # the first chunk holds 8 // 4 = 2 images
    x = torch.rand(30, 1, 4, 4)
    with torch.no_grad():
        samples = sampler.sample(x, 4)
    assert sampler.mode == "first_dropout" and samples.shape == (30, 3, 4)
    assert (samples.std(dim=2) > 0).float().mean() > 0.8  # the M copies get their own masks
    # In distribution, the samples equal those of separate passes.
    with torch.no_grad():
        many = sampler.sample(x, 400).softmax(1).mean(2)
        separate = _separate(model, x, 400, seed=5).softmax(1).mean(2)
    assert torch.allclose(many, separate, atol=0.05)


def test_a_model_whose_dropout_does_nothing_is_refused():
    model = Head()
    model.drop.p = 0.0
    with pytest.raises(ValueError, match="M identical samples"), torch.no_grad():
        _sampler(model).sample(torch.rand(3, 1, 4, 4), 4)
