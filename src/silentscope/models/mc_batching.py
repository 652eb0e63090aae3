"""MC dropout for any module, with the M stochastic samples batched into one forward pass.

Two ways to batch M samples of a batch of B images:

- ``input``: repeat the input batch M times (M B rows through every layer). Always valid,
  but it does the work of M separate passes, so on a CPU it is no faster than a loop.
- ``first_dropout``: run the batch once and repeat the activations M times where they
  reach the first dropout layer (a forward pre-hook), so only the layers after it run
  on M B rows. For the usual classifier with dropout before its head this costs little
  more than one pass.

Both draw the same dropout masks from the same random state, so they give the same
numbers whenever the layers before the first dropout treat samples independently. The
sampler checks exactly that on the first chunk (both ways, same random state) and keeps
``first_dropout`` only if the outputs agree; otherwise it uses ``input``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

#: Activations (elements) allowed after repeating, per chunk, in ``first_dropout`` mode.
_REPEATED_ELEMENTS = 64 * 1024**2


def _rng_state(device: torch.device) -> torch.Tensor | None:
    if device.type == "cpu":
        return torch.get_rng_state()
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    return None


def _set_rng_state(device: torch.device, state: torch.Tensor) -> None:
    if device.type == "cpu":
        torch.set_rng_state(state)
    else:
        torch.cuda.set_rng_state(state, device)


def _repeat(x: torch.Tensor, m: int) -> torch.Tensor:
    return x.repeat(m, *([1] * (x.ndim - 1)))


class MCSampler:
    """Draw MC-dropout logits (B, C, M) from a module with dropout layers.

    Parameters
    ----------
    model : nn.Module
    dropouts : sequence of nn.Module
        The model's dropout layers, switched to training mode while sampling.
    forward : callable
        ``forward(x) -> logits (rows, C)``, raising a clear error for bad outputs.
    batch_size : int
        Rows per forward pass in ``input`` mode (``batch_size // M`` images).

    Attributes
    ----------
    mode : {"first_dropout", "input"} or None
        Chosen on the first call.

    Examples
    --------
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))
    >>> sampler = MCSampler(model.eval(), [model[3]], model, batch_size=64)
    >>> sampler.sample(torch.rand(5, 1, 2, 2), 10).shape, sampler.mode
    (torch.Size([5, 2, 10]), 'first_dropout')
    """

    def __init__(
        self,
        model: nn.Module,
        dropouts: Sequence[nn.Module],
        forward: Callable[[torch.Tensor], torch.Tensor],
        batch_size: int,
    ):
        self.model = model
        self.dropouts = list(dropouts)
        self.forward = forward
        self.batch_size = int(batch_size)
        self.mode: str | None = None
        self._per_sample = 0  # elements per sample entering the first dropout layer

    def _first_dropout_pass(self, x: torch.Tensor, m: int) -> torch.Tensor:
        done = False

        def repeat_at_first(module, inputs):
            nonlocal done
            if done:
                return None
            done = True
            self._per_sample = inputs[0][0].numel()
            return (_repeat(inputs[0], m), *inputs[1:])

        handles = [d.register_forward_pre_hook(repeat_at_first) for d in self.dropouts]
        try:
            return self.model(x)
        finally:
            for handle in handles:
                handle.remove()

    def _choose(self, chunk: torch.Tensor, m: int) -> torch.Tensor:
        """Run ``chunk`` both ways from the same random state; keep the fast way if equal."""
        state = _rng_state(chunk.device)
        fast = None
        if state is not None and not isinstance(self.model, torch.jit.ScriptModule):
            try:
                fast = self._first_dropout_pass(chunk, m)
            except (RuntimeError, ValueError, TypeError, IndexError):
                fast = None  # e.g. a skip connection meets the repeated batch: shapes differ
            _set_rng_state(chunk.device, state)
        reference = self.forward(_repeat(chunk, m))
        agree = (
            isinstance(fast, torch.Tensor)
            and fast.shape == reference.shape
            and torch.allclose(fast, reference, rtol=1e-4, atol=1e-5)
        )
        self.mode = "first_dropout" if agree else "input"
        return reference

    def _chunk_rows(self, m: int) -> int:
        if self.mode == "first_dropout":
            return max(1, min(self.batch_size, _REPEATED_ELEMENTS // max(1, self._per_sample * m)))
        return max(1, self.batch_size // m)

    def sample(self, x: torch.Tensor, m: int) -> torch.Tensor:
        """MC logits (B, C, M) of the batch ``x``."""
        for module in self.dropouts:
            module.train()
        outputs = []
        try:
            start = 0
            while start < x.shape[0]:
                if self.mode is None:
                    chunk = x[: max(1, self.batch_size // m)]
                    out = self._choose(chunk, m)
                else:
                    chunk = x[start : start + self._chunk_rows(m)]
                    if self.mode == "first_dropout":
                        out = self._first_dropout_pass(chunk, m)
                    else:
                        out = self.forward(_repeat(chunk, m))
                outputs.append(out.view(m, chunk.shape[0], -1).permute(1, 2, 0))
                start += chunk.shape[0]
        finally:
            for module in self.dropouts:
                module.eval()
        samples = torch.cat(outputs)
        if m > 1 and torch.equal(samples, samples[..., :1].expand_as(samples)):
            raise ValueError(
                "MC dropout gave M identical samples: switching the dropout layers on has no "
                "effect in this model (a traced TorchScript model keeps its eval-mode graph); "
                "use a scripted or state-dict model, or set mc_samples=0"
            )
        return samples
