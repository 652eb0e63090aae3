"""Rich progress bars for training: one bar per stage, with loss and validation accuracy."""

from __future__ import annotations

import math
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from silentscope.models.objectives import Stage


class TrainingProgress:
    """Context manager showing epochs per stage; does nothing when ``enabled`` is False.

    Examples
    --------
    >>> stage = Stage("classifier", 2, ("backbone", "head"))
    >>> with TrainingProgress([stage], enabled=False) as progress:
    ...     progress.update(stage, {"epoch": 1, "train_loss": 0.5, "val_accuracy": 0.9})
    """

    def __init__(self, stages: list[Stage], enabled: bool = True):
        self.stages = stages
        self.enabled = enabled
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> TrainingProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.fields[stage]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("epochs"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[metrics]}"),
            )
            self._progress.__enter__()
            for stage in self.stages:
                self._tasks[stage.name] = self._progress.add_task(
                    stage.name, total=stage.epochs, stage=stage.name, metrics=""
                )
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def advance_to(self, stage_index: int, epoch: int) -> None:
        """Mark earlier stages complete and ``epoch`` epochs of the current one (on resume)."""
        if self._progress is None:
            return
        for i, stage in enumerate(self.stages):
            done = stage.epochs if i < stage_index else (epoch if i == stage_index else 0)
            self._progress.update(self._tasks[stage.name], completed=done)

    def update(self, stage: Stage, row: dict[str, Any]) -> None:
        """Show one finished epoch: its loss and validation accuracy."""
        if self._progress is None:
            return
        metrics = f"loss {row['train_loss']:.4f}"
        accuracy = row.get("val_accuracy", math.nan)
        if not math.isnan(accuracy):
            metrics += f"  val acc {accuracy:.3f}"
        dice = row.get("val_dice", math.nan)
        if not math.isnan(dice):
            metrics += f"  val Dice {dice:.3f}"
        self._progress.update(self._tasks[stage.name], completed=row["epoch"], metrics=metrics)
