"""Training a SilentNet with any registered objective: staged, seeded, resumable.

The loop keeps per-batch Python work small: the images are pre-converted to one float
tensor when they fit, batches are taken by indexing it, losses are summed on the device
and synchronised once per epoch.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from silentscope.audit.health import DegenerateModelWarning, check_predictions
from silentscope.data.dataset import ImageDataset
from silentscope.models.audit_model import audit_model
from silentscope.models.augmentations import build_augmentations, describe_augmentations
from silentscope.models.backbones import auto_backbone
from silentscope.models.batchnorm import refresh_batchnorm
from silentscope.models.checkpoint import save_model
from silentscope.models.defaults import default_hyperparameters
from silentscope.models.network import SilentNet
from silentscope.models.objectives import OBJECTIVES, Stage, make_objective
from silentscope.models.progress import TrainingProgress
from silentscope.models.runtime import resolve_device, torch_threads
from silentscope.models.tensors import DEFAULT_MAX_BYTES, ImageTensors
from silentscope.models.training_state import LoopState

STATE_FILE = "training_state.pt"


def dataset_fingerprint(dataset: ImageDataset) -> str:
    """A short hash of a dataset's ids, labels, split and targets (not its pixels), for resume checks.

    Examples
    --------
    >>> import numpy as np
    >>> ds = ImageDataset("toy", np.zeros((2, 4, 4), np.uint8), [0, 1], ["a", "b"],
    ...                   ["train", "val"], ["x", "y"])
    >>> len(dataset_fingerprint(ds))
    16
    """
    digest = hashlib.sha256()
    for values in (dataset.sample_ids, dataset.labels.astype(np.int64), dataset.split):
        digest.update(np.ascontiguousarray(values).astype(str).tobytes())
    digest.update(json.dumps(list(dataset.class_names)).encode())
    if dataset.targets is not None:  # absent for single-label data, so their hashes are unchanged
        digest.update(np.ascontiguousarray(dataset.targets).tobytes())
        digest.update(json.dumps(list(dataset.target_names)).encode())
    return digest.hexdigest()[:16]


def _image_side(dataset: ImageDataset) -> tuple[int, int]:
    first = np.asarray(dataset.images[np.arange(1)])
    if first.ndim == 3:
        first = first[..., None]
    return int(first.shape[1]), int(first.shape[-1])


class Trainer:
    """Train a classifier with a failure-detection objective on an ImageDataset.

    Parameters
    ----------
    objective : str, default "ce"
        Registered objective: ``ce``, ``dg``, ``confidnet`` or ``devries``; ``bce`` trains
        a multi-label network on the dataset's ``targets`` (one sigmoid output per finding,
        selected on the lowest validation BCE; ``val_accuracy`` is then the mean per-finding
        accuracy at probability 0.5). Audit it with
        :func:`~silentscope.models.multilabel.audit_multilabel`.
    objective_params : dict, optional
        Objective parameters (e.g. ``{"reward": 3.0}`` for ``dg``).
    backbone : str, default "auto"
        ``small_cnn`` below 64 px, ``resnet18`` from 64 px.
    width : int, optional
        Backbone width (first-stage channels).
    image_size : int, optional
        Resize images to this side length; the dataset's own size when None.
    dropout : float, default 0.3
        Dropout before the classifier head (needed for MC dropout).
    epochs, batch_size, lr, weight_decay, patience : optional
        Defaults from :func:`~silentscope.models.defaults.default_hyperparameters`.
        ``patience`` stops a stage after that many epochs without improvement on the
        validation split (0 disables early stopping).
    augment : "default", "none", or sequence of names / callables
        Training augmentations (see :mod:`silentscope.models.augmentations`).
    device : str, default "auto"
        GPU when present, else CPU.
    n_threads : int, optional
        CPU threads; all available cores when None.
    random_state : int, default 0
        Seeds initialisation, shuffling, augmentation and dropout.
    progress : bool, default True
        Show rich progress bars (epoch, loss, validation accuracy).
    max_tensor_bytes : int
        Largest float tensor a split is pre-converted to.

    Attributes
    ----------
    network_ : SilentNet
        The trained network (best validation epoch of each stage), in eval mode.
    history_ : DataFrame
        One row per epoch: stage, epoch, train_loss, val_loss, val_accuracy, lr, seconds.
    hyperparameters_ : dict
        The resolved hyper-parameters.
    finished_ : bool
        False when ``fit`` stopped early because of ``stop_after``.
    provenance_ : dict
        Objective, hyper-parameters, seed and data: recorded in every audit.
    health_ : ModelHealth or None
        Whether the selected network is degenerate on the validation split (one class
        predicted, or no better than the majority class; see
        :func:`~silentscope.audit.health.check_predictions`); also in
        ``provenance_["health"]``, and a :class:`DegenerateModelWarning` when it is. None
        without a validation split or for a multi-label objective.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.data.dataset import ImageDataset
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 2, 64)
    >>> images = (rng.random((64, 12, 12)) * 60 + labels[:, None, None] * 120).astype(np.uint8)
    >>> ds = ImageDataset("toy", images, labels, ["a", "b"], ["train"] * 48 + ["val"] * 16,
    ...                   [str(i) for i in range(64)])
    >>> trainer = Trainer(epochs=2, width=4, batch_size=16, progress=False).fit(ds)
    >>> trainer.history_[["stage", "epoch"]].values.tolist()
    [['classifier', 1], ['classifier', 2]]
    """

    def __init__(
        self,
        objective: str = "ce",
        objective_params: dict[str, Any] | None = None,
        backbone: str = "auto",
        width: int | None = None,
        image_size: int | None = None,
        dropout: float = 0.3,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        weight_decay: float | None = None,
        patience: int | None = None,
        augment="default",
        device: str = "auto",
        n_threads: int | None = None,
        random_state: int = 0,
        progress: bool = True,
        max_tensor_bytes: int = DEFAULT_MAX_BYTES,
    ):
        self.objective = objective
        self.objective_params = objective_params
        self.backbone = backbone
        self.width = width
        self.image_size = image_size
        self.dropout = dropout
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
        self.max_tensor_bytes = max_tensor_bytes

    # ------------------------------------------------------------------ setup
    def _resolve(self, dataset: ImageDataset) -> dict[str, Any]:
        if not isinstance(dataset, ImageDataset):
            hint = (
                "; segmentation data train with silentscope.segmentation.SegmentationTrainer"
                if hasattr(dataset, "labels") and hasattr(dataset, "class_names")
                else ""
            )
            raise ValueError(f"fit needs an ImageDataset, got {type(dataset).__name__}{hint}")
        multi_label = getattr(OBJECTIVES.get(self.objective), "multi_label", False)
        if multi_label and not dataset.multi_label:
            raise ValueError(
                f"objective {self.objective!r} is multi-label but dataset {dataset.name!r} has no "
                "targets; pass an ImageDataset with targets= and target_names=, or a single-label "
                "objective such as 'ce'"
            )
        n_train = int((dataset.split == "train").sum())
        if n_train < 2:
            raise ValueError(
                f"dataset {dataset.name!r} has {n_train} training images; training needs at least 2 "
                "(split='train')"
            )
        side, channels = _image_side(dataset)
        image_size = int(self.image_size or side)
        hp = default_hyperparameters(n_train, image_size)
        for key in ("epochs", "batch_size", "lr", "weight_decay", "patience"):
            value = getattr(self, key)
            if value is not None:
                hp[key] = value
        for key in ("epochs", "batch_size"):
            if int(hp[key]) < 1:
                raise ValueError(f"{key} must be a positive integer, got {hp[key]}")
        if float(hp["lr"]) <= 0 or float(hp["weight_decay"]) < 0 or int(hp["patience"]) < 0:
            raise ValueError("lr must be > 0, weight_decay >= 0 and patience >= 0")
        return {
            **hp,
            "objective": self.objective,
            "objective_params": dict(self.objective_params or {}),
            "backbone": auto_backbone(image_size) if self.backbone == "auto" else self.backbone,
            "width": self.width,
            "image_size": image_size,
            "in_channels": channels,
            "dropout": float(self.dropout),
            "seed": int(self.random_state),
        }

    # ------------------------------------------------------------------ public API
    def fit(
        self,
        dataset: ImageDataset,
        *,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        stop_after: int | None = None,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
    ) -> Trainer:
        """Train on the ``train`` split, selecting epochs on the ``val`` split.

        Parameters
        ----------
        dataset : ImageDataset
        checkpoint_dir : path, optional
            Where the training state is written after every epoch (``training_state.pt``).
        resume : bool, default False
            Continue from the state in ``checkpoint_dir``; the result equals an
            uninterrupted run with the same settings.
        stop_after : int, optional
            Stop (with a checkpoint) after this many epochs in this call, e.g. to split
            training over jobs with a time limit; resume later with ``resume=True``.
        on_epoch : callable, optional
            Called after every epoch with that epoch's history row plus ``done`` and
            ``total`` (epochs over all stages), e.g. to report progress to a study.

        Returns
        -------
        self
        """
        if resume and checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir, the folder of the interrupted run")
        if stop_after is not None and stop_after < 1:
            raise ValueError(f"stop_after must be a positive number of epochs, got {stop_after}")
        hp = self._resolve(dataset)
        device = resolve_device(self.device)
        with (
            torch_threads(self.n_threads),
            torch.random.fork_rng(devices=[] if device.type != "cuda" else None),
        ):
            self._fit(dataset, hp, device, checkpoint_dir, resume, stop_after, on_epoch)
        return self

    def save(self, path: str | Path) -> Path:
        """Save the trained network as a weights-only checkpoint (see :func:`load_model`)."""
        self._check_fitted()
        return save_model(self.network_, path, self.provenance_)

    def audit(self, dataset: ImageDataset, **kwargs):
        """Run inference on val, the iid test split and shifts: see :func:`audit_model`."""
        self._check_fitted()
        provenance = {**self.provenance_, **kwargs.pop("provenance", {})}
        kwargs.setdefault("device", self.device)
        kwargs.setdefault("n_threads", self.n_threads)
        with warnings.catch_warnings():
            if self.health_ is not None and self.health_.degenerate:  # fit said so already
                warnings.simplefilter("ignore", DegenerateModelWarning)
            return audit_model(self.network_, dataset, provenance=provenance, **kwargs)

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise ValueError("this Trainer is not fitted yet; call fit(dataset) first")

    # ------------------------------------------------------------------ the loop
    def _fit(self, dataset, hp, device, checkpoint_dir, resume, stop_after, on_epoch) -> None:
        torch.manual_seed(hp["seed"])
        generator = torch.Generator().manual_seed(hp["seed"])
        train = dataset.split_of("train")
        val = dataset.split_of("val") if (dataset.split == "val").any() else None
        if val is None:
            warnings.warn(
                f"dataset {dataset.name!r} has no validation split: every stage keeps its last "
                "epoch and early stopping is off",
                stacklevel=3,
            )
        image_size = hp["image_size"]
        train_x = ImageTensors(train.images, image_size, device, self.max_tensor_bytes)
        objective = make_objective(hp["objective"], **hp["objective_params"])
        if objective.multi_label:
            objective = objective.for_targets(train.targets, dataset.target_names)
        train_y = _training_targets(train, objective, device)
        val_x = (
            None
            if val is None
            else ImageTensors(val.images, image_size, device, self.max_tensor_bytes)
        )
        val_y = None if val is None else _training_targets(val, objective, device)
        mean, std = train_x.channel_stats()
        net = SilentNet(
            n_classes=len(dataset.target_names) if objective.multi_label else dataset.n_classes,
            in_channels=hp["in_channels"],
            objective=objective,
            backbone=hp["backbone"],
            width=hp["width"],
            image_size=image_size,
            dropout=hp["dropout"],
            mean=mean,
            std=std,
        ).to(device)
        stages = objective.stages(int(hp["epochs"]))
        augmentations = build_augmentations(self.augment, dataset.modality)
        fingerprint = dataset_fingerprint(dataset)
        settings = {**hp, "augment": describe_augmentations(augmentations), "dataset": fingerprint}
        state = LoopState(stages)
        state_path = None if checkpoint_dir is None else Path(checkpoint_dir) / STATE_FILE
        if resume:
            state.load(state_path, settings, net, generator, device)
        epochs_this_call = 0
        with TrainingProgress(stages, enabled=self.progress) as progress:
            progress.advance_to(state.stage_index, state.epoch)
            while state.stage_index < len(stages):
                stage = stages[state.stage_index]
                if state.optimizer is None:
                    state.start_stage(net, stage, hp)
                if state.epoch >= stage.epochs or state.stopped_early:
                    state.finish_stage(net)
                    continue
                if stop_after is not None and epochs_this_call >= stop_after:
                    break
                row = self._epoch(
                    net,
                    objective,
                    stage,
                    state,
                    train_x,
                    train_y,
                    val_x,
                    val_y,
                    augmentations,
                    generator,
                    int(hp["batch_size"]),
                )
                state.record(net, row, int(hp["patience"]) if val is not None else 0)
                epochs_this_call += 1
                progress.update(stage, row)
                if state_path is not None:
                    state.save(state_path, settings, net, generator, device)
                if on_epoch is not None:
                    done = sum(s.epochs for s in stages[: state.stage_index]) + state.epoch
                    total = sum(s.epochs for s in stages)
                    on_epoch({**row, "stage": stage.name, "done": done, "total": total})
        self.finished_ = state.stage_index >= len(stages)
        net.eval()
        net.requires_grad_(False)
        self.network_ = net
        self.history_ = pd.DataFrame(state.history, columns=list(_HISTORY_COLUMNS))
        self.hyperparameters_ = {
            k: hp[k] for k in ("epochs", "batch_size", "lr", "weight_decay", "patience")
        }
        self.stages_ = stages
        self.provenance_ = {
            "objective": objective.name,
            "objective_params": objective.get_params(),
            "backbone": hp["backbone"],
            "width": net.config["width"],
            "image_size": image_size,
            "dropout": hp["dropout"],
            "hyperparameters": self.hyperparameters_,
            "optimizer": "AdamW, cosine schedule per stage",
            "augmentations": describe_augmentations(augmentations),
            "seed": hp["seed"],
            "stages": [{"name": s.name, "epochs": s.epochs, "monitor": s.monitor} for s in stages],
            "selected_epochs": dict(state.selected),
            "model_selection": "validation split"
            if val is not None
            else "last epoch (no validation split)",
            "dataset": {
                "name": dataset.name,
                "fingerprint": fingerprint,
                "n_train": len(train),
                "n_val": 0 if val is None else len(val),
                "class_names": list(dataset.class_names),
                **({"target_names": list(dataset.target_names)} if objective.multi_label else {}),
            },
            "torch": str(torch.__version__),
            "device": str(device),
            "finished": self.finished_,
        }
        self.health_ = None
        if val is not None and not objective.multi_label:
            self.health_ = check_predictions(
                val.labels, _predict(net, val_x), dataset.class_names, split="val"
            )
            self.provenance_["health"] = self.health_.to_dict()
            self.health_.warn("the trained network", stacklevel=4)

    def _epoch(
        self,
        net,
        objective,
        stage,
        state,
        train_x,
        train_y,
        val_x,
        val_y,
        augmentations,
        generator,
        batch_size,
    ) -> dict[str, Any]:
        start = time.perf_counter()
        net.set_trainable(stage.modules)
        n = len(train_x)
        order = torch.randperm(n, generator=generator)
        n_batches = math.ceil(n / batch_size)
        if n_batches > 1 and n % batch_size == 1:
            n_batches -= 1  # batch-norm cannot train on a last batch of one image
        total = torch.zeros((), device=train_y.device)
        seen = 0
        for i in range(n_batches):
            rows = order[i * batch_size : (i + 1) * batch_size]
            x = train_x.batch(rows)
            y = train_y[rows.to(train_y.device)]
            for augmentation in augmentations:
                x = augmentation(x, generator)
            out = net.forward_all(x)
            loss = objective.loss(stage, out, y, net, train=True, generator=generator)
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            state.optimizer.step()
            total += loss.detach() * len(rows)
            seen += len(rows)
        lr = state.optimizer.param_groups[0]["lr"]
        state.scheduler.step()
        # Stale running statistics made small-data networks predict one class in eval mode.
        refresh_batchnorm(net, train_x, batch_size)
        row = {
            "stage": stage.name,
            "epoch": state.epoch + 1,
            "train_loss": float(total) / max(seen, 1),
            "val_loss": math.nan,
            "val_accuracy": math.nan,
            "lr": lr,
        }
        if val_x is not None:
            row["val_loss"], row["val_accuracy"] = _evaluate(net, objective, stage, val_x, val_y)
        row["seconds"] = time.perf_counter() - start
        return row


_HISTORY_COLUMNS = (
    "stage",
    "epoch",
    "train_loss",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
    "selected",
)


@torch.no_grad()
def _evaluate(net, objective, stage: Stage, images: ImageTensors, labels, batch_size: int = 1024):
    net.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=labels.device)
    correct = torch.zeros((), dtype=torch.int64, device=labels.device)
    for start in range(0, len(images), batch_size):
        rows = torch.arange(start, min(start + batch_size, len(images)))
        y = labels[rows.to(labels.device)]
        out = net.forward_all(images.batch(rows))
        loss_sum += objective.loss(stage, out, y, net, train=False).double() * len(rows)
        if objective.multi_label:
            correct += ((out.logits > 0) == (y > 0.5)).sum()
        else:
            correct += (out.logits.argmax(1) == y).sum()
    # Multi-label: the mean over findings of the accuracy at probability 0.5.
    return float(loss_sum) / len(images), float(correct) / labels.numel()


@torch.no_grad()
def _predict(net, images: ImageTensors, batch_size: int = 1024) -> np.ndarray:
    """Predicted class per image (eval mode)."""
    net.eval()
    parts = [
        net(images.batch(torch.arange(start, min(start + batch_size, len(images))))).argmax(1)
        for start in range(0, len(images), batch_size)
    ]
    return torch.cat(parts).cpu().numpy()


def _training_targets(split: ImageDataset, objective, device) -> torch.Tensor:
    """Class indices, or the (N, K) float 0/1 findings for a multi-label objective."""
    if objective.multi_label:
        return torch.as_tensor(split.targets, dtype=torch.float32, device=device)
    return torch.as_tensor(split.labels, device=device)
