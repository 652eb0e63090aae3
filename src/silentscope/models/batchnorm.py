"""Batch-norm statistics recomputed from the training images ("precise BN").

During training, batch-norm layers keep running averages of their batch statistics
with momentum 0.1, so after ``k`` updates the initial values (mean 0, variance 1) still
weigh ``0.9 ** k``, and the averages lag behind weights that are still changing fast.
On a small dataset an epoch is a handful of batches: after one or two epochs the
eval-mode network normalises with statistics that belong to neither the initial nor the
current weights, and it can predict one class for every image although its training
loss is low (measured on 550 PneumoniaMNIST images: every validation image called
"pneumonia" after 2 epochs, 88-91% accuracy once the statistics were recomputed).
Recomputing them with the current weights before every validation pass (Wu & Johnson,
"Rethinking 'Batch' in BatchNorm", 2021) makes validation, model selection and the
saved network see the network that was trained.
"""

from __future__ import annotations

import torch
from torch import nn

#: Training images used to recompute the statistics (Wu & Johnson find ~10^4 enough).
MAX_IMAGES = 10_000

_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@torch.no_grad()
def refresh_batchnorm(net, images, batch_size: int, max_images: int = MAX_IMAGES) -> int:
    """Recompute the running statistics of the backbone's trainable batch-norm layers.

    Only layers in training mode are refreshed (a frozen backbone keeps its statistics).
    The images are taken at evenly spaced positions (no randomness, so a resumed run
    gives the same numbers) and passed through ``net.features`` in batches of
    ``batch_size``; each layer's statistics become the average over those batches.

    Parameters
    ----------
    net : SilentNet or UNet
        A network with ``backbone`` and ``features`` (SilentNet) has the layers of its
        backbone refreshed through ``features``; any other network (the segmentation
        U-Net) has all its layers refreshed through its forward pass.
    images : ImageTensors
        The training images (anything with ``len`` and ``batch(indices)``).
    batch_size : int
    max_images : int, default 10000

    Returns
    -------
    int
        The number of layers refreshed.

    Examples
    --------
    >>> from silentscope.models.network import SilentNet
    >>> from silentscope.models.tensors import ImageTensors
    >>> import numpy as np
    >>> net = SilentNet(n_classes=2, in_channels=1, width=4).train()
    >>> images = ImageTensors(np.full((8, 28, 28), 200, np.uint8), 28, torch.device("cpu"))
    >>> refresh_batchnorm(net, images, batch_size=4)
    6
    >>> int(net.backbone.layers[0][1].num_batches_tracked)  # the 8 images in 2 batches
    2
    """
    root = getattr(net, "backbone", net)
    forward = getattr(net, "features", net)
    layers = [m for m in root.modules() if isinstance(m, _BATCHNORM) and m.training]
    n = len(images)
    if not layers or n < 2:
        return 0
    rows = torch.linspace(0, n - 1, min(n, int(max_images))).round().long()
    momenta = [m.momentum for m in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average over the batches below
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        if len(batch) > 1:  # batch norm cannot take a batch of one image in training mode
            forward(images.batch(batch))
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    return len(layers)
