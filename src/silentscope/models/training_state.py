"""Where training stands (stage, epoch, optimiser, best epoch), saved after every epoch.

The saved state holds tensors and plain values only, with the RNG states of the data
generator and of torch, so that a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from silentscope.models.checkpoint import atomic_save, read_checkpoint
from silentscope.models.network import SilentNet
from silentscope.models.objectives import Stage

STATE_FORMAT = "silentscope.training_state"


class LoopState:
    """Where training stands: stage, epoch, optimiser, best epoch; saved after every epoch."""

    def __init__(self, stages: list[Stage]):
        self.stages = stages
        self.stage_index = 0
        self.epoch = 0
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler = None
        self.best_score: tuple[float, float] | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0
        self.stopped_early = False
        self.history: list[dict[str, Any]] = []
        self.selected: dict[str, int] = {}

    def start_stage(self, net: SilentNet, stage: Stage, hp: dict[str, Any]) -> None:
        params = net.set_trainable(stage.modules)
        self.optimizer = torch.optim.AdamW(
            params, lr=float(hp["lr"]), weight_decay=float(hp["weight_decay"])
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=stage.epochs
        )

    def record(self, net: SilentNet, row: dict[str, Any], patience: int) -> None:
        stage = self.stages[self.stage_index]
        self.epoch += 1
        if math.isnan(row["val_loss"]):
            score = (float(self.epoch), 0.0)  # no validation split: the last epoch wins
        elif stage.monitor == "accuracy":
            score = (row["val_accuracy"], -row["val_loss"])
        elif stage.monitor == "dice":  # segmentation: mean foreground Dice on validation
            score = (row["val_dice"], -row["val_loss"])
        else:
            score = (-row["val_loss"], 0.0)
        row["selected"] = self.best_score is None or score > self.best_score
        if row["selected"]:
            self.best_score = score
            self.best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            self.selected[stage.name] = self.epoch
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            self.stopped_early = patience > 0 and self.bad_epochs >= patience
        self.history.append(row)

    def finish_stage(self, net: SilentNet) -> None:
        if self.best_state is not None:
            net.load_state_dict(self.best_state)
        self.stage_index += 1
        self.epoch = 0
        self.optimizer = self.scheduler = None
        self.best_score = self.best_state = None
        self.bad_epochs = 0
        self.stopped_early = False

    def save(self, path: Path, settings, net: SilentNet, generator, device) -> None:
        atomic_save(
            {
                "format": STATE_FORMAT,
                "settings": settings,
                "network": net.to_checkpoint(),
                "stage_index": self.stage_index,
                "epoch": self.epoch,
                "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "best_score": None if self.best_score is None else list(self.best_score),
                "best_state": self.best_state,
                "bad_epochs": self.bad_epochs,
                "stopped_early": self.stopped_early,
                "history": self.history,
                "selected": self.selected,
                "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
            },
            path,
        )

    def load(self, path: Path, settings, net: SilentNet, generator, device) -> None:
        if not path.is_file():
            raise FileNotFoundError(
                f"no training state to resume at {path}; train without resume first"
            )
        saved = read_checkpoint(path)
        if saved.get("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not a silentscope training state")
        changed = {
            k: (saved["settings"].get(k), v)
            for k, v in settings.items()
            if saved["settings"].get(k) != v
        }
        if changed:
            detail = "; ".join(
                f"{k}: saved {old!r}, now {new!r}" for k, (old, new) in changed.items()
            )
            raise ValueError(
                f"cannot resume from {path}: it was trained with other settings ({detail}); "
                "use the same settings or a new checkpoint folder"
            )
        net.load_state_dict(saved["network"]["state_dict"])
        self.stage_index = saved["stage_index"]
        self.epoch = saved["epoch"]
        if saved["optimizer"] is not None:
            self.start_stage(net, self.stages[self.stage_index], settings)
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scheduler.load_state_dict(saved["scheduler"])
        self.best_score = None if saved["best_score"] is None else tuple(saved["best_score"])
        self.best_state = saved["best_state"]
        self.bad_epochs = saved["bad_epochs"]
        self.stopped_early = saved["stopped_early"]
        self.history = list(saved["history"])
        self.selected = dict(saved["selected"])
        generator.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        if saved["cuda_rng"] is not None and device.type == "cuda":
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
