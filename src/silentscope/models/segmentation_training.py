"""Training the segmentation U-Net: Dice + cross-entropy, seeded, checkpointed, health-checked.

:class:`SegmentationTrainer` is the segmentation form of :class:`~silentscope.models.Trainer`
and shares its machinery: the same loop state (AdamW with a cosine schedule, model
selection on the validation split, checkpoints after every epoch and exact resume), the
same rich progress bars, the same batch-norm recomputation before every validation pass
(:mod:`~silentscope.models.batchnorm`) and the same health rule, applied to voxels
(:func:`~silentscope.audit.health.check_segmentation`): a network that predicts background
everywhere is flagged degenerate exactly like a classifier that predicts one class.

Data are :class:`~silentscope.data.segmentation.SegmentationSet` objects, or anything with
``images`` (N, D, H, W, C) or (N, H, W, C) float32, ``labels`` (N, D, H, W) or (N, H, W)
int and ``class_names`` (background first).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn import functional

from silentscope.audit.health import check_segmentation, unpredicted_classes
from silentscope.models.batchnorm import refresh_batchnorm
from silentscope.models.checkpoint import atomic_save, read_checkpoint
from silentscope.models.objectives.base import Stage
from silentscope.models.progress import TrainingProgress
from silentscope.models.runtime import resolve_device, torch_threads
from silentscope.models.training_state import LoopState
from silentscope.models.unet import UNET_FORMAT, UNet

STATE_FILE = "training_state.pt"
#: Training volumes the batch-norm statistics are recomputed from after every epoch: each
#: holds ~10^5 voxels per channel, so 16 evenly spaced volumes give well over Wu & Johnson's
#: ~10^4 samples while costing a fraction of an epoch.
BN_VOLUMES = 16
HISTORY_COLUMNS = (
    "stage",
    "epoch",
    "train_loss",
    "val_loss",
    "val_dice",
    "lr",
    "seconds",
    "selected",
)


def volume_tensor(images) -> torch.Tensor:
    """Images (N, *spatial, C) float to a float32 tensor (N, C, *spatial).

    Examples
    --------
    >>> tuple(volume_tensor(np.zeros((2, 4, 5, 6, 1), np.float32)).shape)
    (2, 1, 4, 5, 6)
    """
    images = np.asarray(images)
    if images.ndim not in (4, 5):
        raise ValueError(
            f"images must have shape (N, D, H, W, C) or (N, H, W, C), got {images.shape}"
        )
    if not np.issubdtype(images.dtype, np.floating) or not np.isfinite(images).all():
        raise ValueError(
            f"images must be finite floats, got dtype {images.dtype} or NaN/inf values"
        )
    order = (0, images.ndim - 1, *range(1, images.ndim - 1))
    return (
        torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        .permute(*order)
        .contiguous()
    )


def check_segmentation_set(
    data, what: str = "data"
) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Images as (N, C, *spatial), labels as (N, *spatial) int64 and class names, checked."""
    for attribute in ("images", "labels", "class_names"):
        if not hasattr(data, attribute):
            raise ValueError(
                f"{what} must be a SegmentationSet (images, labels, class_names); it has no {attribute!r}"
            )
    x = volume_tensor(data.images)
    labels = np.asarray(data.labels)
    if labels.shape != (x.shape[0], *x.shape[2:]):
        raise ValueError(
            f"{what}: labels have shape {labels.shape} but the images need {(x.shape[0], *x.shape[2:])}"
        )
    names = tuple(str(c) for c in data.class_names)
    if (
        not np.issubdtype(labels.dtype, np.integer)
        or labels.min() < 0
        or labels.max() >= len(names)
    ):
        raise ValueError(
            f"{what}: labels must be integers in [0, {len(names) - 1}] (one per class name), "
            f"got {labels.dtype} from {labels.min()} to {labels.max()}"
        )
    return x, torch.from_numpy(labels.astype(np.int64)), names


def dice_ce_loss(logits: torch.Tensor, labels: torch.Tensor, smooth: float = 1e-5) -> torch.Tensor:
    """Cross-entropy plus ``1 -`` the soft Dice of the foreground classes over the batch.

    The soft Dice of class k is ``(2 sum p_k y_k + s) / (sum p_k + sum y_k + s)`` over all
    voxels of the batch (batch Dice, as nnU-Net); the foreground classes are 1..K-1.

    Examples
    --------
    >>> labels = torch.zeros(1, 4, 4, dtype=torch.long); labels[:, 1:3, 1:3] = 1
    >>> perfect = functional.one_hot(labels, 2).permute(0, 3, 1, 2).float() * 20
    >>> round(float(dice_ce_loss(perfect, labels)), 4)
    0.0
    """
    ce = functional.cross_entropy(logits, labels)
    probs = logits.softmax(1)
    onehot = functional.one_hot(labels, logits.shape[1]).movedim(-1, 1).to(probs.dtype)
    dims = (0, *range(2, logits.ndim))
    intersection = (probs * onehot).sum(dims)[1:]
    total = (probs.sum(dims) + onehot.sum(dims))[1:]
    dice = (2 * intersection + smooth) / (total + smooth)
    return ce + (1 - dice.mean())


class _Volumes:
    """Training volumes as one tensor, batched by indices (what refresh_batchnorm reads)."""

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor

    def __len__(self) -> int:
        return self.tensor.shape[0]

    def batch(self, rows: torch.Tensor) -> torch.Tensor:
        return self.tensor[rows]


class SegmentationTrainer:
    """Train a :class:`~silentscope.models.unet.UNet` with Dice + cross-entropy.

    Parameters
    ----------
    width, depth, dropout, dropout_sites
        U-Net settings (see :class:`~silentscope.models.unet.UNet`).
    epochs : int, default 20
    batch_size : int, default 2
    lr : float, default 3e-3
    weight_decay : float, default 1e-4
    patience : int, default 0
        Stop after that many epochs without a better validation Dice (0: never).
    augment : sequence of callables, optional
        Training-time augmentations, each ``aug(x, generator) -> x`` on a float batch
        (B, C, *spatial) that leaves the geometry unchanged (intensity and texture
        transforms, e.g. the texture filters of :mod:`silentscope.data.segmentation`);
        all randomness from ``generator``. Recorded by name (``name`` attribute or
        class name) in the provenance.
    device : str, default "auto"
    n_threads : int, optional
    random_state : int, default 0
        Seeds initialisation, shuffling, augmentation and dropout.
    progress : bool, default True

    Attributes
    ----------
    network_ : UNet
        The selected network (best validation Dice), in eval mode.
    history_ : DataFrame
        One row per epoch: stage, epoch, train_loss, val_loss, val_dice, lr, seconds, selected.
    health_ : ModelHealth or None
        Voxel-level verdict on the validation volumes (a foreground class never predicted
        is not degenerate by the rule but is said in ``provenance_["caveats"]`` and warned)
        (:func:`~silentscope.audit.health.check_segmentation`); a
        :class:`~silentscope.audit.health.DegenerateModelWarning` when degenerate. Also in
        ``provenance_["health"]``.
    provenance_ : dict
    class_names_ : tuple of str

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> rng = np.random.default_rng(0)
    >>> labels = np.zeros((6, 8, 8, 8), np.int64); labels[:, 2:6, 2:6, 2:6] = 1
    >>> images = (labels[..., None] + rng.normal(0, 0.3, labels.shape + (1,))).astype(np.float32)
    >>> data = SimpleNamespace(images=images, labels=labels, class_names=("background", "blob"))
    >>> trainer = SegmentationTrainer(width=4, depth=2, epochs=2, progress=False).fit(data, data)
    >>> trainer.history_[["epoch", "selected"]].shape
    (2, 2)
    """

    def __init__(
        self,
        width: int = 8,
        depth: int = 3,
        dropout: float = 0.2,
        dropout_sites: str = "head",
        epochs: int = 20,
        batch_size: int = 2,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        patience: int = 0,
        augment: Sequence[Callable] | None = None,
        device: str = "auto",
        n_threads: int | None = None,
        random_state: int = 0,
        progress: bool = True,
    ):
        self.width = width
        self.depth = depth
        self.dropout = dropout
        self.dropout_sites = dropout_sites
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.augment = augment
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress

    def _settings(self) -> dict[str, Any]:
        for key in ("epochs", "batch_size"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{key} must be a positive integer, got {getattr(self, key)!r}")
        if float(self.lr) <= 0 or float(self.weight_decay) < 0 or int(self.patience) < 0:
            raise ValueError("lr must be > 0, weight_decay >= 0 and patience >= 0")
        return {
            "width": int(self.width),
            "depth": int(self.depth),
            "dropout": float(self.dropout),
            "dropout_sites": self.dropout_sites,
            "epochs": int(self.epochs),
            "batch_size": int(self.batch_size),
            "lr": float(self.lr),
            "weight_decay": float(self.weight_decay),
            "patience": int(self.patience),
            "seed": int(self.random_state),
            "augment": augmentation_names(self.augment),
        }

    def fit(
        self,
        train,
        val=None,
        *,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        stop_after: int | None = None,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
    ) -> SegmentationTrainer:
        """Train on ``train``, selecting the epoch of best mean foreground Dice on ``val``.

        Parameters
        ----------
        train : SegmentationSet or SegmentationSplits
            Training volumes; a splits object (``train``, ``val``) gives both.
        val : SegmentationSet, optional
            Validation volumes; without them the last epoch is kept (with a warning) and
            no health verdict is possible.
        checkpoint_dir, resume, stop_after, on_epoch
            As for :meth:`silentscope.models.Trainer.fit`.

        Returns
        -------
        self
        """
        if hasattr(train, "train") and hasattr(train, "val") and val is None:
            train, val = train.train, train.val
        if resume and checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir, the folder of the interrupted run")
        if stop_after is not None and stop_after < 1:
            raise ValueError(f"stop_after must be a positive number of epochs, got {stop_after}")
        settings = self._settings()
        x, y, names = check_segmentation_set(train, "the training set")
        if len(x) < 2:
            raise ValueError(f"the training set has {len(x)} volumes; training needs at least 2")
        val_data = None
        if val is not None:
            vx, vy, vnames = check_segmentation_set(val, "the validation set")
            if vnames != names:
                raise ValueError(
                    f"the validation set's class_names {list(vnames)} differ from the training set's {list(names)}"
                )
            val_data = (vx, vy)
        else:
            warnings.warn(
                "no validation volumes: the last epoch is kept and the network's health is not assessed",
                stacklevel=2,
            )
        device = resolve_device(self.device)
        with (
            torch_threads(self.n_threads),
            torch.random.fork_rng(devices=[] if device.type != "cuda" else None),
        ):
            self._fit(
                x,
                y,
                val_data,
                names,
                settings,
                device,
                checkpoint_dir,
                resume,
                stop_after,
                on_epoch,
            )
        return self

    def _fit(
        self, x, y, val_data, names, settings, device, checkpoint_dir, resume, stop_after, on_epoch
    ):
        torch.manual_seed(settings["seed"])
        generator = torch.Generator().manual_seed(settings["seed"])
        mean = x.mean(dim=(0, *range(2, x.ndim))).tolist()
        std = x.std(dim=(0, *range(2, x.ndim))).clamp_min(1e-6).tolist()
        net = UNet(
            n_classes=len(names),
            in_channels=x.shape[1],
            spatial_dims=x.ndim - 2,
            width=settings["width"],
            depth=settings["depth"],
            dropout=settings["dropout"],
            dropout_sites=settings["dropout_sites"],
            mean=mean,
            std=std,
        ).to(device)
        train_x = _Volumes(x.to(device))
        train_y = y.to(device)
        stage = Stage("segmentation", settings["epochs"], ("network",), monitor="dice")
        state = LoopState([stage])
        state_path = None if checkpoint_dir is None else Path(checkpoint_dir) / STATE_FILE
        record = {**settings, "n_train": len(x), "class_names": list(names)}
        if resume:
            state.load(state_path, record, net, generator, device)
        epochs_this_call = 0
        with TrainingProgress([stage], enabled=self.progress) as progress:
            progress.advance_to(state.stage_index, state.epoch)
            while state.stage_index < 1:
                if state.optimizer is None:
                    state.start_stage(net, stage, settings)
                if state.epoch >= stage.epochs or state.stopped_early:
                    state.finish_stage(net)
                    continue
                if stop_after is not None and epochs_this_call >= stop_after:
                    break
                row = self._epoch(net, state, train_x, train_y, val_data, generator, device)
                state.record(net, row, settings["patience"] if val_data is not None else 0)
                epochs_this_call += 1
                progress.update(stage, row)
                if state_path is not None:
                    state.save(state_path, record, net, generator, device)
                if on_epoch is not None:
                    on_epoch({**row, "done": state.epoch, "total": stage.epochs})
        self.finished_ = state.stage_index >= 1
        net.eval()
        net.requires_grad_(False)
        self.network_ = net
        self.class_names_ = names
        self.history_ = pd.DataFrame(state.history, columns=list(HISTORY_COLUMNS))
        self.provenance_ = {
            "task": "segmentation",
            "model": "unet",
            "network": dict(net.config, mean=None, std=None),
            "loss": "cross-entropy + (1 - soft Dice of the foreground classes, batch Dice)",
            "optimizer": "AdamW, cosine schedule",
            **{
                k: settings[k]
                for k in ("epochs", "batch_size", "lr", "weight_decay", "patience", "seed")
            },
            "augmentations": settings["augment"],
            "selected_epoch": state.selected.get(stage.name),
            "model_selection": "validation mean foreground Dice"
            if val_data is not None
            else "last epoch (no validation volumes)",
            "dataset": {
                "n_train": len(x),
                "n_val": 0 if val_data is None else len(val_data[0]),
                "class_names": list(names),
            },
            "torch": str(torch.__version__),
            "device": str(device),
            "finished": self.finished_,
        }
        self.health_ = None
        if val_data is not None:
            predicted = predict_labels(net, val_data[0], device)
            self.health_ = check_segmentation(val_data[1].numpy(), predicted, names, split="val")
            self.provenance_["health"] = self.health_.to_dict()
            self.health_.warn("the trained segmentation network", stacklevel=5)
            caveats = unpredicted_classes(val_data[1].numpy(), predicted, names)
            if caveats:
                self.provenance_["caveats"] = caveats
                warnings.warn(
                    "the trained segmentation network: " + "; ".join(caveats), stacklevel=5
                )

    def _epoch(self, net, state, train_x, train_y, val_data, generator, device) -> dict[str, Any]:
        start = time.perf_counter()
        net.set_trainable()
        n = len(train_x)
        batch_size = int(self.batch_size)
        order = torch.randperm(n, generator=generator)
        n_batches = math.ceil(n / batch_size)
        if n_batches > 1 and n % batch_size == 1:
            n_batches -= 1  # batch norm cannot train on a last batch of one volume
        total = torch.zeros((), device=device)
        seen = 0
        for i in range(n_batches):
            rows = order[i * batch_size : (i + 1) * batch_size].to(device)
            xb, yb = train_x.batch(rows), train_y[rows]
            for augmentation in self.augment or ():
                xb = augmentation(xb, generator)
            loss = dice_ce_loss(net(xb), yb)
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            state.optimizer.step()
            total += loss.detach() * len(rows)
            seen += len(rows)
        lr = state.optimizer.param_groups[0]["lr"]
        state.scheduler.step()
        refresh_batchnorm(net, train_x, batch_size, max_images=BN_VOLUMES)
        row = {
            "stage": "segmentation",
            "epoch": state.epoch + 1,
            "train_loss": float(total) / max(seen, 1),
            "val_loss": math.nan,
            "val_dice": math.nan,
            "lr": lr,
        }
        if val_data is not None:
            row["val_loss"], row["val_dice"] = _validate(net, *val_data, device)
        row["seconds"] = time.perf_counter() - start
        return row

    def save(self, path: str | Path) -> Path:
        """Save the trained U-Net as a weights-only checkpoint (see :func:`load_unet`)."""
        if not hasattr(self, "network_"):
            raise ValueError("this SegmentationTrainer is not fitted yet; call fit first")
        checkpoint = self.network_.to_checkpoint(self.provenance_)
        checkpoint["class_names"] = list(self.class_names_)
        return atomic_save(checkpoint, path)


def load_unet(path: str | Path) -> tuple[UNet, dict[str, Any]]:
    """A U-Net saved by :meth:`SegmentationTrainer.save`, and its provenance (with class names)."""
    checkpoint = read_checkpoint(path)
    if checkpoint.get("format") != UNET_FORMAT:
        raise ValueError(
            f"{path} is not a silentscope U-Net checkpoint; train one with SegmentationTrainer"
        )
    provenance = dict(checkpoint.get("provenance", {}), class_names=checkpoint.get("class_names"))
    return UNet.from_checkpoint(checkpoint), provenance


def augmentation_names(augment) -> list[str]:
    """Names of training augmentations for the provenance (``name`` attribute or type name)."""
    if augment is None:
        return []
    if callable(augment):
        augment = [augment]
    names = []
    for item in augment:
        if not callable(item):
            raise ValueError(
                f"augment must hold callables aug(x, generator) -> x, got {type(item).__name__}"
            )
        names.append(
            str(getattr(item, "name", None) or getattr(item, "__name__", type(item).__name__))
        )
    return names


@torch.no_grad()
def predict_labels(net: UNet, x: torch.Tensor, device, batch_size: int = 2) -> np.ndarray:
    """Arg-max label maps (N, *spatial) of the deterministic network (eval mode)."""
    net.eval()
    parts = [
        net(x[i : i + batch_size].to(device)).argmax(1).to(torch.uint8).cpu()
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(parts).numpy()


@torch.no_grad()
def _validate(net: UNet, x: torch.Tensor, y: torch.Tensor, device, batch_size: int = 2):
    from silentscope.metrics.segmentation import dice_per_class

    net.eval()
    losses, dices = [], []
    k = net.config["n_classes"]
    for i in range(0, len(x), batch_size):
        logits = net(x[i : i + batch_size].to(device))
        labels = y[i : i + batch_size].to(device)
        losses.append(float(dice_ce_loss(logits, labels)) * len(labels))
        predicted = logits.argmax(1).cpu().numpy()
        for true, pred in zip(labels.cpu().numpy(), predicted, strict=True):
            fg = dice_per_class(true, pred, k)[1:]
            dices.append(float(np.nanmean(fg)) if np.isfinite(fg).any() else 1.0)
    return sum(losses) / len(x), float(np.mean(dices))


__all__ = [
    "HISTORY_COLUMNS",
    "SegmentationTrainer",
    "augmentation_names",
    "check_segmentation_set",
    "dice_ce_loss",
    "load_unet",
    "predict_labels",
    "volume_tensor",
]
