"""Inference of the segmentation U-Net: deterministic softmax and batched MC dropout.

:func:`segment_batches` streams volumes through the network and yields, per batch, what
the voxel confidences need (softmax, MC mean softmax and mean entropy) together with the
predicted label maps and pooled bottleneck features, so that no (N, M, K, D, H, W) array
is ever held. MC dropout draws each volume's masks from one seeded generator, volume after
volume, so the numbers do not depend on the batch size; the M samples of a batch run in
one batched pass (:meth:`~silentscope.models.unet.UNet.mc_logits`), or in a loop of M full
passes with ``mc_mode="looped"`` (the reference the benchmark compares with).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from silentscope.models.runtime import resolve_device, torch_threads
from silentscope.models.segmentation_training import volume_tensor
from silentscope.models.unet import UNet

MC_MODES = ("batched", "looped")


@dataclass
class SegmentationBatch:
    """One batch of inference outputs (rows ``start`` to ``start + len(predicted)``).

    Attributes
    ----------
    start : int
    probabilities : ndarray (B, K, *spatial) float32
    predicted : ndarray (B, *spatial) uint8
    features : ndarray (B, F) float32
        Bottleneck features averaged over space.
    mc_mean : ndarray (B, K, *spatial) float32, optional
        Softmax averaged over the MC-dropout passes.
    mc_expected_entropy : ndarray (B, *spatial) float32, optional
        Mean over the passes of each pass's entropy.
    """

    start: int
    probabilities: np.ndarray
    predicted: np.ndarray
    features: np.ndarray
    mc_mean: np.ndarray | None = None
    mc_expected_entropy: np.ndarray | None = None


def _entropy(p: torch.Tensor, dim: int) -> torch.Tensor:
    return -(p * torch.log(p.clamp_min(1e-30))).sum(dim)


def segment_batches(
    net: UNet,
    images,
    *,
    mc_samples: int = 0,
    batch_size: int = 1,
    random_state: int = 0,
    mc_mode: str = "batched",
    device: str = "auto",
    n_threads: int | None = None,
) -> Iterator[SegmentationBatch]:
    """Yield inference outputs batch by batch (see the module docstring).

    Parameters
    ----------
    net : UNet
    images : array (N, *spatial, C) float
    mc_samples : int, default 0
        M MC-dropout passes per volume (0: none).
    batch_size : int, default 1
    random_state : int, default 0
        Seed of the dropout masks.
    mc_mode : {"batched", "looped"}, default "batched"
    device, n_threads
        Where torch runs.

    Examples
    --------
    >>> net = UNet(n_classes=3, width=4, depth=2).eval()
    >>> batches = list(segment_batches(net, np.zeros((3, 8, 8, 8, 1), np.float32), mc_samples=4,
    ...                                batch_size=2, device="cpu"))
    >>> [b.start for b in batches], batches[0].mc_mean.shape
    ([0, 2], (2, 3, 8, 8, 8))
    """
    if mc_mode not in MC_MODES:
        raise ValueError(
            f"mc_mode must be one of {', '.join(map(repr, MC_MODES))}, got {mc_mode!r}"
        )
    if isinstance(mc_samples, bool) or int(mc_samples) < 0 or int(mc_samples) == 1:
        raise ValueError(
            f"mc_samples must be 0 (no MC dropout) or at least 2 passes, got {mc_samples!r}"
        )
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    x = volume_tensor(images)
    expected = net.config["in_channels"], net.config["spatial_dims"]
    if (x.shape[1], x.ndim - 2) != expected:
        raise ValueError(
            f"the images have {x.shape[1]} channel(s) and {x.ndim - 2} spatial dims but the network "
            f"expects {expected[0]} and {expected[1]}"
        )
    m = int(mc_samples)
    device = resolve_device(device)
    generator = torch.Generator().manual_seed(int(random_state))
    net = net.to(device).eval()
    with torch_threads(n_threads), torch.no_grad():
        for start in range(0, len(x), int(batch_size)):
            xb = x[start : start + int(batch_size)].to(device)
            logits, features = net.forward_with_features(xb)
            probs = logits.softmax(1)
            batch = SegmentationBatch(
                start=start,
                probabilities=probs.cpu().numpy(),
                predicted=probs.argmax(1).to(torch.uint8).cpu().numpy(),
                features=features.cpu().numpy(),
            )
            if m:
                # one volume at a time from the generator: masks independent of batch_size
                parts = [net.draw_masks(m, 1, generator) for _ in range(len(xb))]
                masks = {k: torch.cat([p[k] for p in parts], dim=1) for k in parts[0]}
                sample = net.mc_logits if mc_mode == "batched" else net.mc_logits_looped
                mc = sample(xb, masks).softmax(2)
                batch.mc_mean = mc.mean(0).cpu().numpy()
                batch.mc_expected_entropy = _entropy(mc, 2).mean(0).cpu().numpy()
            yield batch


__all__ = ["MC_MODES", "SegmentationBatch", "segment_batches"]
