"""A small U-Net for 2D and 3D segmentation, with dropout that MC sampling can batch.

One class serves both forms: ``spatial_dims=3`` for volumes (N, C, D, H, W) and
``spatial_dims=2`` for images (N, C, H, W). Each level is two convolutions with batch
norm and ReLU; levels are joined by max pooling on the way down and transposed
convolutions on the way up, with skip connections (Ronneberger et al. 2015; Cicek et al.
2016 for 3D). Inputs whose sides are not a multiple of ``2 ** (depth - 1)`` are padded and
the output cropped back.

Dropout is channel-wise (a whole feature map is kept or dropped, as ``nn.Dropout3d``) and
sits at named *sites*: ``"head"`` (default) only on the last decoder features before the
1x1 classifier, as the classifiers of this package place dropout before their head;
``"decoder"`` also after the bottleneck and after every decoder level. MC dropout draws
its masks up front (:meth:`UNet.draw_masks`) so that the M samples can be computed in one
batched pass that runs everything before the first dropout site once
(:meth:`UNet.mc_logits`) and gives the same numbers as a loop over the M masks
(:meth:`UNet.mc_logits_looped`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional

UNET_FORMAT = "silentscope.unet"
DROPOUT_SITES = ("head", "decoder")


def _layers(spatial_dims: int):
    if spatial_dims == 3:
        return nn.Conv3d, nn.BatchNorm3d, nn.ConvTranspose3d, functional.max_pool3d
    if spatial_dims == 2:
        return nn.Conv2d, nn.BatchNorm2d, nn.ConvTranspose2d, functional.max_pool2d
    raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")


class _Block(nn.Module):
    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int):
        super().__init__()
        conv, norm, _, _ = _layers(spatial_dims)
        self.body = nn.Sequential(
            conv(in_channels, out_channels, 3, padding=1, bias=False),
            norm(out_channels),
            nn.ReLU(inplace=True),
            conv(out_channels, out_channels, 3, padding=1, bias=False),
            norm(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class UNet(nn.Module):
    """A U-Net for 2D or 3D segmentation with channel dropout at named sites.

    Parameters
    ----------
    n_classes : int
        Output classes (background included), at least 2.
    in_channels : int, default 1
    spatial_dims : {3, 2}, default 3
    width : int, default 8
        Channels of the first level; doubled at every level below.
    depth : int, default 3
        Levels, the bottleneck included (``depth - 1`` poolings).
    dropout : float, default 0.2
        Probability of dropping a feature map at each dropout site (0 disables dropout,
        and with it MC dropout).
    dropout_sites : {"head", "decoder"}, default "head"
        Where dropout acts (see the module docstring).
    mean, std : sequence of float, optional
        Per-channel input normalisation (from the training images).

    Examples
    --------
    >>> net = UNet(n_classes=4, width=4, depth=2).eval()
    >>> tuple(net(torch.zeros(2, 1, 10, 12, 8)).shape)
    (2, 4, 10, 12, 8)
    >>> tuple(UNet(n_classes=3, spatial_dims=2, width=4).eval()(torch.zeros(1, 1, 16, 16)).shape)
    (1, 3, 16, 16)
    """

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 1,
        spatial_dims: int = 3,
        width: int = 8,
        depth: int = 3,
        dropout: float = 0.2,
        dropout_sites: str = "head",
        mean=None,
        std=None,
    ):
        super().__init__()
        _layers(spatial_dims)
        if int(n_classes) < 2:
            raise ValueError(
                f"n_classes must be at least 2 (background and one class), got {n_classes}"
            )
        if int(depth) < 1 or int(width) < 1 or int(in_channels) < 1:
            raise ValueError("depth, width and in_channels must be positive integers")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        if dropout_sites not in DROPOUT_SITES:
            raise ValueError(
                f"dropout_sites must be one of {', '.join(map(repr, DROPOUT_SITES))}, got {dropout_sites!r}"
            )
        self.config: dict[str, Any] = {
            "n_classes": int(n_classes),
            "in_channels": int(in_channels),
            "spatial_dims": int(spatial_dims),
            "width": int(width),
            "depth": int(depth),
            "dropout": float(dropout),
            "dropout_sites": dropout_sites,
            "mean": None if mean is None else [float(v) for v in mean],
            "std": None if std is None else [float(v) for v in std],
        }
        self.spatial_dims = int(spatial_dims)
        self.dropout = float(dropout)
        self.dropout_sites = dropout_sites
        shape = (1, int(in_channels)) + (1,) * self.spatial_dims
        self.register_buffer(
            "mean", torch.zeros(shape) if mean is None else torch.tensor(mean).view(shape)
        )
        self.register_buffer(
            "std", torch.ones(shape) if std is None else torch.tensor(std).view(shape)
        )
        conv, _, up, pool = _layers(self.spatial_dims)
        self._pool = pool
        channels = [int(width) * 2**i for i in range(int(depth))]
        self.encoders = nn.ModuleList()
        previous = int(in_channels)
        for c in channels:
            self.encoders.append(_Block(self.spatial_dims, previous, c))
            previous = c
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for c in reversed(channels[:-1]):
            self.ups.append(up(previous, c, 2, stride=2))
            self.decoders.append(_Block(self.spatial_dims, 2 * c, c))
            previous = c
        self.head = conv(previous, int(n_classes), 1)

    # ------------------------------------------------------------------ dropout sites
    def site_channels(self) -> dict[str, int]:
        """Channels at each active dropout site, in the order the forward pass meets them."""
        if self.dropout == 0:
            return {}
        sites: dict[str, int] = {}
        if self.dropout_sites == "decoder":
            sites["bottleneck"] = self.encoders[-1].body[3].out_channels
            for i, block in enumerate(self.decoders):
                sites[f"decoder{i}"] = block.body[3].out_channels
        sites["head"] = self.head.in_channels
        return sites

    def draw_masks(self, m: int, batch: int, generator: torch.Generator | None = None):
        """Keep-masks for ``m`` MC samples of ``batch`` inputs: site -> (m, batch, channels).

        Drawn on the CPU from ``generator`` (seeded by the caller), so that a batched and
        a looped computation can use the very same masks.
        """
        if not self.site_channels():
            raise ValueError(
                "this U-Net has dropout=0, so MC dropout has nothing to sample; train with dropout > 0"
            )
        keep = 1.0 - self.dropout
        return {
            site: (torch.rand(m, batch, c, generator=generator) < keep).float()
            for site, c in self.site_channels().items()
        }

    def _drop(self, h: torch.Tensor, site: str, masks) -> torch.Tensor:
        if site not in self.site_channels():
            return h
        if masks is None:
            if not self.training:
                return h
            drop = functional.dropout3d if self.spatial_dims == 3 else functional.dropout2d
            return drop(h, self.dropout, training=True)
        mask = masks[site].reshape(-1, h.shape[1]).to(h.device, h.dtype)
        return h * mask.view(*mask.shape, *([1] * self.spatial_dims)) / (1.0 - self.dropout)

    # ------------------------------------------------------------------ forward passes
    def _pad(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        multiple = 2 ** (len(self.encoders) - 1)
        sides = tuple(x.shape[2:])
        pads: list[int] = []
        for side in reversed(sides):
            pads += [0, (-side) % multiple]
        if any(pads):
            x = functional.pad(x, pads, mode="replicate")
        return x, sides

    def _encode(self, x: torch.Tensor):
        x = (x - self.mean) / self.std
        skips = []
        h = x
        for i, block in enumerate(self.encoders):
            if i:
                h = self._pool(h, 2)
            h = block(h)
            skips.append(h)
        return h, skips[:-1]

    def _decode(self, h, skips, masks, m: int):
        """Decoder and head; repeats activations ``m`` times at the first dropout site."""
        repeated = m == 1

        def repeat(t: torch.Tensor) -> torch.Tensor:
            return t.repeat(m, *([1] * (t.ndim - 1)))

        if self.dropout_sites == "decoder" and self.site_channels() and not repeated:
            h, skips, repeated = repeat(h), [repeat(s) for s in skips], True
        h = self._drop(h, "bottleneck", masks)
        for i, (up, block) in enumerate(zip(self.ups, self.decoders, strict=True)):
            h = up(h)
            h = block(torch.cat([h, skips[-1 - i]], dim=1))
            h = self._drop(h, f"decoder{i}", masks)
        if not repeated:
            h = repeat(h)
        features = h
        h = self._drop(h, "head", masks)
        return self.head(h), features

    def _crop(self, out: torch.Tensor, sides) -> torch.Tensor:
        return out[(..., *(slice(0, s) for s in sides))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes, *spatial); dropout acts only in training mode."""
        return self.forward_with_features(x)[0]

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the bottleneck features averaged over space, (N, channels)."""
        x, sides = self._pad(x)
        h, skips = self._encode(x)
        pooled = h.mean(dim=tuple(range(2, h.ndim)))
        logits, _ = self._decode(h, skips, None, 1)
        return self._crop(logits, sides), pooled

    def mc_logits(self, x: torch.Tensor, masks) -> torch.Tensor:
        """Logits of the M MC samples given by ``masks``, in one batched pass: (M, N, K, *spatial).

        Everything before the first dropout site runs once; from there the activations
        (and the skip connections still needed) are repeated M times.
        """
        m = next(iter(masks.values())).shape[0]
        x, sides = self._pad(x)
        h, skips = self._encode(x)
        logits, _ = self._decode(h, skips, masks, m)
        logits = self._crop(logits, sides)
        return logits.view(m, x.shape[0], *logits.shape[1:])

    def mc_logits_looped(self, x: torch.Tensor, masks) -> torch.Tensor:
        """The same as :meth:`mc_logits`, one full forward pass per sample (the reference)."""
        m = next(iter(masks.values())).shape[0]
        x, sides = self._pad(x)
        outputs = []
        for i in range(m):
            h, skips = self._encode(x)
            logits, _ = self._decode(h, skips, {k: v[i : i + 1] for k, v in masks.items()}, 1)
            outputs.append(self._crop(logits, sides))
        return torch.stack(outputs)

    # ------------------------------------------------------------------ training support
    def set_trainable(self, modules=("network",)) -> list[nn.Parameter]:
        """Train every parameter (the U-Net has one stage); returns them."""
        self.train()
        self.requires_grad_(True)
        return list(self.parameters())

    def to_checkpoint(self, provenance: dict[str, Any] | None = None) -> dict[str, Any]:
        """Plain values and tensors, loadable with ``torch.load(weights_only=True)``."""
        return {
            "format": UNET_FORMAT,
            "version": 1,
            "config": dict(self.config),
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "provenance": provenance or {},
        }

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> UNet:
        """Rebuild a U-Net saved with :meth:`to_checkpoint`."""
        if checkpoint.get("format") != UNET_FORMAT:
            raise ValueError(
                f"not a silentscope U-Net checkpoint (format {checkpoint.get('format')!r})"
            )
        net = cls(**checkpoint["config"])
        net.load_state_dict(checkpoint["state_dict"])
        return net.eval()


__all__ = ["DROPOUT_SITES", "UNET_FORMAT", "UNet"]
