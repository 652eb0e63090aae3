"""Per-epoch progress reports from Trainer.fit (used by studies to show per-run progress)."""

import numpy as np

from silentscope.data.dataset import ImageDataset
from silentscope.models import Trainer


def test_on_epoch_reports_every_epoch_of_every_stage():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 64)
    images = (rng.random((64, 12, 12)) * 60 + labels[:, None, None] * 120).astype(np.uint8)
    ds = ImageDataset(
        "toy",
        images,
        labels,
        ["a", "b"],
        ["train"] * 48 + ["val"] * 16,
        [str(i) for i in range(64)],
    )
    rows = []
    trainer = Trainer(objective="confidnet", epochs=4, width=4, batch_size=16, patience=0)
    trainer.progress = False
    trainer.fit(ds, on_epoch=rows.append)
    assert [(r["stage"], r["done"], r["total"]) for r in rows] == [
        ("classifier", 1, 4),
        ("classifier", 2, 4),
        ("confidnet", 3, 4),
        ("confidnet", 4, 4),
    ]
    assert all(0 <= r["val_accuracy"] <= 1 for r in rows)
    assert len(rows) == len(trainer.history_)
