"""Planted-failure AuditSets built from real ODIR metadata and keywords (simulated classifier)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSet
from silentscope.slices import simulate_logits


def odir_audit(odir_dir, n=1200, seed=0, slice_error=0.7, base_error=0.06):
    """An AuditSet on real ODIR rows: errors concentrate in women over 65 with a disease.

    The 'image' features are a noisy code of the diagnosis (what a fundus classifier's
    features would carry); text is the real per-eye keyword report; metadata is real.
    Predictions are simulated (see silentscope.slices.simulation).
    """
    frame = pd.read_csv(odir_dir / "metadata.csv").drop_duplicates("md5")
    frame = frame.sample(n=n, random_state=seed).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    label = (frame["label_code"] != "N").to_numpy().astype(int)
    planted = ((frame["age"] > 65) & (frame["sex"] == "Female") & (label == 1)).to_numpy()
    logits = simulate_logits(
        label, 2, np.where(planted, slice_error, base_error), random_state=seed
    )
    codes = pd.factorize(frame["label_code"])[0]
    features = np.eye(codes.max() + 1)[codes] * 2 + rng.normal(size=(n, codes.max() + 1))
    features = np.hstack([features, rng.normal(size=(n, 20))])
    metadata = frame[["age", "sex"]].assign(gt_slice_planted=planted)
    audit = AuditSet(
        sample_id=frame["file"].to_numpy(), test_set=["iid"] * n, label=label, logits=logits,
        class_names=["normal", "abnormal"], features=features, metadata=metadata,
        text=frame["keywords"].to_numpy(),
    )  # fmt: skip
    return audit, planted


@pytest.fixture(scope="session")
def odir_planted(odir_dir):
    return odir_audit(odir_dir)
