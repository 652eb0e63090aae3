"""A small AuditSet with one failure slice in its metadata, for slices, subgroups and CLI tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from silentscope.audit import AuditSet


def small_slice_audit(n=500, n_small=18, seed=0) -> AuditSet:
    """Errors in 18 old patients: about 9 per split, so min_support 5 confirms them and 10 cannot."""
    rng = np.random.default_rng(seed)
    small = np.arange(n) < n_small
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < np.where(small, 0.85, 0.08)
    logits = np.eye(2)[np.where(wrong, 1 - label, label)] * 3
    age = np.where(small, 85, 40) + rng.integers(0, 10, n)
    metadata = pd.DataFrame({"age": age, "site": rng.choice(["x", "y", "z"], n)})
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label, logits=logits,
        class_names=["a", "b"], metadata=metadata,
    )  # fmt: skip
