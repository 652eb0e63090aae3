"""Small imbalanced data: networks train (batch-norm statistics), and a collapse is recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from silentscope.audit.health import DegenerateModelWarning
from silentscope.audit.store import load_audit
from silentscope.data.dataset import ImageDataset
from silentscope.models import Trainer
from tests.support.training import TINY


def imbalanced(
    seed: int = 0, signal: float = 60.0, n: int = 160, constant_eval: bool = False
) -> ImageDataset:
    """12 px noise images, 27% minority class marked by a brighter centre; 112 train, 48 val."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.27).astype(int)
    images = rng.normal(100, 30, (n, 12, 12))
    images[labels == 1, 3:9, 3:9] += signal
    split = ["train"] * 112 + ["val"] * 24 + ["test"] * 24
    if constant_eval:
        images[112:] = 100
    return ImageDataset(
        "imbalanced",
        np.clip(images, 0, 255).astype(np.uint8),
        labels,
        ["common", "rare"],
        split,
        [str(i) for i in range(n)],
    )


@pytest.mark.parametrize("objective", ["ce", "confidnet"])
def test_a_few_epochs_on_small_imbalanced_data_train_a_classifier(objective):
    # Issue 13: with 4 batches an epoch, the batch-norm running statistics were still
    # mostly their initial values, so in eval mode every image got one class
    # (validation accuracy 0.271, the minority rate) although the training loss fell.
    ds = imbalanced()
    with_val = ds.subset(np.flatnonzero(ds.split != "test"))
    trainer = Trainer(objective=objective, epochs=4, random_state=0, **TINY).fit(with_val)
    assert not trainer.health_.degenerate, trainer.health_.reason
    val = trainer.history_[trainer.history_.stage == "classifier"].val_accuracy.max()
    assert val > trainer.health_.majority_rate + 0.1
    assert trainer.health_.balanced_accuracy > 0.75


def test_a_collapsed_network_is_recorded_and_warned_about(tmp_path):
    # Validation and test images all alike: whatever it learnt, one class for all of them.
    ds = imbalanced(constant_eval=True)
    trainer = Trainer(objective="ce", epochs=2, random_state=0, **TINY)
    with pytest.warns(DegenerateModelWarning, match="trained network is degenerate"):
        trainer.fit(ds)
    assert trainer.health_.degenerate
    assert trainer.provenance_["health"]["reason"] == trainer.health_.reason
    with _no_warning():
        audit = trainer.audit(ds, out=tmp_path / "audit")  # said once, at fit
    recorded = load_audit(tmp_path / "audit").provenance["health"]
    assert recorded["degenerate"] and recorded["split"] == "val"
    assert recorded["reason"] == audit.provenance["health"]["reason"]
    json.dumps(recorded)  # plain JSON in the manifest


class _no_warning:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self.records = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        assert not [r for r in self.records if issubclass(r.category, DegenerateModelWarning)]
