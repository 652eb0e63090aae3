"""Batched inference for any classifier: logits, MC-dropout logits, features, confidences.

Three predictors share one interface:

- :class:`NetPredictor` for silentscope's own :class:`SilentNet` (features and external
  confidences native; MC dropout on repeated features, since dropout sits only before
  the head);
- :class:`EnsemblePredictor` for :class:`EnsembleNet` (members' logits as MC samples);
- :class:`ModulePredictor` for any ``nn.Module`` classifier: features captured by a
  forward hook, MC dropout batched by :class:`~silentscope.models.mc_batching.MCSampler`
  (the batch repeated M times at the first dropout layer, or at the input).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from silentscope.models.mc_batching import MCSampler
from silentscope.models.network import EnsembleNet, SilentNet
from silentscope.models.tensors import to_float_tensor

#: Dropout layer types switched on for MC dropout in arbitrary modules.
DROPOUT_TYPES = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)
_DROPOUT_NAMES = {t.__name__ for t in DROPOUT_TYPES}


@dataclass
class BatchOutputs:
    """Outputs for one batch, as CPU tensors."""

    logits: torch.Tensor
    features: torch.Tensor | None = None
    mc_logits: torch.Tensor | None = None
    confidences: dict[str, torch.Tensor] = field(default_factory=dict)


class NetPredictor:
    """Inference for a :class:`~silentscope.models.network.SilentNet`.

    MC dropout runs the encoder once per batch: the network's only dropout layer sits
    before the head, so repeating the features M times and applying dropout and head to
    the (M B, D) batch gives exactly the distribution of M full stochastic passes.
    """

    def __init__(self, net, device: torch.device):
        self.net = net.to(device).eval()
        self.device = device
        self.has_features = True
        self.supports_mc = net.dropout.p > 0

    def prepare(self, images: np.ndarray) -> torch.Tensor:
        return to_float_tensor(images, self.net.image_size)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, mc_samples: int = 0) -> BatchOutputs:
        out = self.net.forward_all(x.to(self.device))
        mc = self.net.mc_logits(out.features, mc_samples) if mc_samples else None
        return BatchOutputs(
            logits=out.logits.float().cpu(),
            features=out.features.float().cpu(),
            mc_logits=None if mc is None else mc.float().cpu(),
            confidences={k: v.float().cpu() for k, v in self.net.external_confidences(out).items()},
        )

    def close(self) -> None:
        pass


class EnsemblePredictor:
    """Inference for an :class:`~silentscope.models.network.EnsembleNet`.

    ``logits`` are the log of the members' mean softmax, ``mc_logits`` the K members'
    logits (so MC-based CSFs become their ensemble counterparts), ``features`` those of
    the first member and each external confidence the members' mean.
    """

    def __init__(self, ensemble, device: torch.device):
        self.ensemble = ensemble.to(device).eval()
        self.members = [NetPredictor(m, device) for m in ensemble.members]
        self.device = device
        self.has_features = True
        self.supports_mc = False

    def prepare(self, images: np.ndarray) -> torch.Tensor:
        return self.members[0].prepare(images)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, mc_samples: int = 0) -> BatchOutputs:
        outs = [member.predict(x) for member in self.members]
        member_logits = torch.stack([o.logits for o in outs], dim=2)  # (B, C, K)
        log_mean = torch.logsumexp(torch.log_softmax(member_logits, dim=1), dim=2) - np.log(
            len(outs)
        )
        confidences = {
            name: torch.stack([o.confidences[name] for o in outs]).mean(0)
            for name in outs[0].confidences
        }
        return BatchOutputs(log_mean, outs[0].features, member_logits, confidences)

    def close(self) -> None:
        pass


def _is_dropout(module: nn.Module) -> bool:
    return (
        isinstance(module, DROPOUT_TYPES)
        or getattr(module, "original_name", None) in _DROPOUT_NAMES
    )


def resolve_feature_layer(model: nn.Module, feature_layer: str | None) -> tuple[str | None, bool]:
    """The module whose output (or input) gives the features, checked against the model.

    Returns ``(name, use_input)``: with ``feature_layer=None`` the features are the
    *input* of the last ``nn.Linear`` (the penultimate representation of most
    classifiers); otherwise the *output* of the named module. ``(None, False)`` when no
    layer can be found automatically.

    Examples
    --------
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> resolve_feature_layer(model, None)
    ('3', True)
    >>> resolve_feature_layer(model, "2")
    ('2', False)
    """
    names = [name for name, _ in model.named_modules() if name]
    if feature_layer is None:
        linear = [name for name, m in model.named_modules() if name and isinstance(m, nn.Linear)]
        return (linear[-1], True) if linear else (None, False)
    if feature_layer not in names:
        close = difflib.get_close_matches(feature_layer, names, n=5, cutoff=0.4)
        hint = (
            f"close names: {', '.join(close)}"
            if close
            else f"layers include: {', '.join(names[:8])}"
        )
        raise ValueError(
            f"the model has no layer named {feature_layer!r} ({hint}); pass one of the names "
            "in model.named_modules()"
        )
    return feature_layer, False


class ModulePredictor:
    """Inference for any ``nn.Module`` that maps an image batch to class logits (B, C).

    Parameters
    ----------
    model : nn.Module
    device : torch.device
    feature_layer : str, optional
        Name of the module (in ``model.named_modules()``) whose output is recorded as
        features; spatial maps are averaged over their spatial axes. When None, the input
        of the last ``nn.Linear`` is recorded. TorchScript models refuse hooks, so they
        give no features.
    capture_features : bool, default True
    preprocess : callable, optional
        ``preprocess(images_uint8 (n, H, W, C)) -> tensor``; by default float
        (n, C, H, W) in [0, 1].
    batch_size : int, default 256
        Images per MC forward pass (see :class:`~silentscope.models.mc_batching.MCSampler`).
    """

    def __init__(
        self,
        model: nn.Module,
        device: torch.device,
        feature_layer: str | None = None,
        capture_features: bool = True,
        preprocess: Callable[[np.ndarray], torch.Tensor] | None = None,
        batch_size: int = 256,
    ):
        self.model = model.to(device).eval()
        self.batch_size = int(batch_size)
        self.device = device
        self.preprocess = preprocess
        self.dropouts = [m for m in model.modules() if _is_dropout(m)]
        self.supports_mc = bool(self.dropouts)
        self.mc_sampler = MCSampler(model, self.dropouts, self._forward, batch_size)
        self._captured: torch.Tensor | None = None
        self._capturing = False
        self._handle = None
        self.feature_layer = None
        if capture_features and isinstance(model, torch.jit.ScriptModule):
            if feature_layer is not None:
                raise ValueError(
                    f"cannot record layer {feature_layer!r}: TorchScript models do not support forward "
                    "hooks; save a state dict and load it with its class (--model-class) to get "
                    "features, or leave out the feature layer"
                )
        elif capture_features:
            name, use_input = resolve_feature_layer(model, feature_layer)
            if name is not None:
                self.feature_layer = name
                module = dict(model.named_modules())[name]
                if use_input:
                    self._handle = module.register_forward_pre_hook(self._pre_hook)
                else:
                    self._handle = module.register_forward_hook(self._hook)
        self.has_features = self._handle is not None

    def _pre_hook(self, module, inputs) -> None:
        if self._capturing:
            self._captured = inputs[0]

    def _hook(self, module, inputs, output) -> None:
        if self._capturing:
            self._captured = output

    def prepare(self, images: np.ndarray) -> torch.Tensor:
        if self.preprocess is None:
            return to_float_tensor(images)
        x = self.preprocess(images)
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"preprocess must return a torch.Tensor, got {type(x).__name__}")
        return x

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            out = self.model(x)
        except (RuntimeError, TypeError, ValueError, IndexError) as error:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ValueError(
                f"the model rejected an input batch of shape {tuple(x.shape)} ({x.dtype}): {first}; "
                "pass preprocess= to convert uint8 (n, H, W, C) images to what the model expects"
            ) from error
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"the model must return class logits of shape (batch, classes), got {shape}; "
                "wrap it so that forward returns one logits tensor"
            )
        return out

    @torch.no_grad()
    def predict(self, x: torch.Tensor, mc_samples: int = 0) -> BatchOutputs:
        x = x.to(self.device)
        self._capturing = self.has_features
        try:
            logits = self._forward(x)
        finally:
            self._capturing = False
        features = None
        if self.has_features:
            features = self._captured
            self._captured = None
            if not isinstance(features, torch.Tensor):
                raise ValueError(
                    f"layer {self.feature_layer!r} gave no tensor during the forward pass (it is "
                    "unused, or returns a tuple); choose a layer whose output is the features"
                )
            if features.ndim > 2:
                features = features.flatten(2).mean(2)  # average spatial maps to vectors
            features = features.float().cpu()
        mc = None
        if mc_samples:
            mc = self.mc_sampler.sample(x, mc_samples).float().cpu()
        return BatchOutputs(logits=logits.float().cpu(), features=features, mc_logits=mc)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def make_predictor(
    model: nn.Module,
    device: torch.device,
    feature_layer: str | None = None,
    capture_features: bool = True,
    preprocess: Callable | None = None,
    batch_size: int = 256,
):
    """The predictor for ``model``: native for silentscope networks, hooks for any other.

    A ``feature_layer`` or ``preprocess`` given for a silentscope network switches to the
    generic hook-based predictor.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch nn.Module, got {type(model).__name__}")
    generic = feature_layer is not None or preprocess is not None or not capture_features
    if isinstance(model, SilentNet) and not generic:
        return NetPredictor(model, device)
    if isinstance(model, EnsembleNet) and not generic:
        return EnsemblePredictor(model, device)
    return ModulePredictor(model, device, feature_layer, capture_features, preprocess, batch_size)
