"""Image encoders in plain torch: a small CNN for 28 px inputs and a ResNet-18 for 64-256 px.

A backbone maps images (B, C, H, W) to penultimate features (B, D); the classifier head,
and the dropout before it that makes MC dropout meaningful, live in
:class:`silentscope.models.network.SilentNet`. Each backbone is registered by exact name.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

BACKBONES: dict[str, Callable[..., nn.Module]] = {}


def register_backbone(name: str):
    """Class decorator adding a backbone to :data:`BACKBONES` under ``name``."""

    def decorator(cls):
        if name in BACKBONES:
            raise ValueError(f"backbone {name!r} is already registered")
        BACKBONES[name] = cls
        cls.registry_name = name
        return cls

    return decorator


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


@register_backbone("small_cnn")
class SmallCNN(nn.Module):
    """A VGG-like CNN for small (about 28 px) images: 3 stages of two 3x3 convolutions.

    Widths are ``width``, ``2 width``, ``4 width``; the first two stages end in 2x2 max
    pooling and the last in global average pooling, so any input size works.

    Parameters
    ----------
    in_channels : int
        1 for grey, 3 for RGB.
    width : int, default 32
        Channels of the first stage; the feature dimension is ``4 * width``.

    Examples
    --------
    >>> net = SmallCNN(in_channels=1, width=8)
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 32])
    """

    def __init__(self, in_channels: int = 1, width: int = 32):
        super().__init__()
        w = int(width)
        self.layers = nn.Sequential(
            _conv_bn_relu(in_channels, w),
            _conv_bn_relu(w, w),
            nn.MaxPool2d(2),
            _conv_bn_relu(w, 2 * w),
            _conv_bn_relu(2 * w, 2 * w),
            nn.MaxPool2d(2),
            _conv_bn_relu(2 * w, 4 * w),
            _conv_bn_relu(4 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.out_features = 4 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class _BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016): two 3x3 convolutions and an identity shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


def stem_stride_for(image_size: int) -> int:
    """Down-sampling of the ResNet stem so that the first stage sees at most about 32-64 px.

    Examples
    --------
    >>> [stem_stride_for(s) for s in (28, 64, 128, 256)]
    [1, 2, 4, 4]
    """
    if image_size <= 32:
        return 1
    if image_size <= 64:
        return 2
    return 4


@register_backbone("resnet18")
class ResNet18(nn.Module):
    """ResNet-18 (He et al. 2016): 4 stages of 2 basic blocks, widths w, 2w, 4w, 8w.

    The stem adapts to the input size (see :func:`stem_stride_for`): a stride-1 3x3
    convolution for inputs up to 32 px (as in CIFAR ResNets), a stride-2 3x3 convolution
    up to 64 px, and the ImageNet 7x7 stride-2 convolution plus max pooling above.

    Parameters
    ----------
    in_channels : int
        1 for grey, 3 for RGB.
    width : int, default 64
        Channels of the first stage; the feature dimension is ``8 * width``.
    image_size : int, default 64
        Expected input side length, used only to choose the stem.

    Examples
    --------
    >>> net = ResNet18(in_channels=3, width=8, image_size=64)
    >>> net(torch.zeros(2, 3, 64, 64)).shape
    torch.Size([2, 64])
    """

    def __init__(self, in_channels: int = 3, width: int = 64, image_size: int = 64):
        super().__init__()
        w = int(width)
        stride = stem_stride_for(int(image_size))
        if stride == 4:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, w, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2, padding=1),
            )
        else:
            self.stem = _conv_bn_relu(in_channels, w, stride=stride)
        blocks = []
        c_in = w
        for stage, c_out in enumerate((w, 2 * w, 4 * w, 8 * w)):
            for block in range(2):
                blocks.append(_BasicBlock(c_in, c_out, 2 if stage > 0 and block == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_features = 8 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.blocks(self.stem(x)))


def build_backbone(
    name: str, in_channels: int, width: int | None = None, image_size: int = 28
) -> nn.Module:
    """Instantiate a registered backbone by exact name.

    Parameters
    ----------
    name : str
        ``small_cnn``, ``resnet18`` or ``auto`` (``small_cnn`` below 64 px, else ``resnet18``).
    in_channels : int
    width : int, optional
        First-stage channels; the backbone's default when None.
    image_size : int
        Input side length (chooses ``auto`` and the ResNet stem).

    Examples
    --------
    >>> build_backbone("auto", in_channels=1, width=8, image_size=28).out_features
    32
    """
    if name == "auto":
        name = auto_backbone(image_size)
    if name not in BACKBONES:
        raise ValueError(
            f"unknown backbone {name!r}; choose from auto, {', '.join(sorted(BACKBONES))}"
        )
    kwargs = {"in_channels": int(in_channels)}
    if width is not None:
        if int(width) < 1:
            raise ValueError(f"width must be a positive integer, got {width}")
        kwargs["width"] = int(width)
    if name == "resnet18":
        kwargs["image_size"] = int(image_size)
    return BACKBONES[name](**kwargs)


def auto_backbone(image_size: int) -> str:
    """The backbone ``auto`` resolves to for a given input side length.

    Examples
    --------
    >>> auto_backbone(28), auto_backbone(128)
    ('small_cnn', 'resnet18')
    """
    return "small_cnn" if int(image_size) < 64 else "resnet18"
