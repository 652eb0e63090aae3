"""Small AuditSets for unit tests: every optional input present, or around hand-written logits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from silentscope.audit import AuditSet


def make_audit(n: int = 300, n_classes: int = 3, seed: int = 0, **overrides) -> AuditSet:
    """A small seeded AuditSet with every optional input present."""
    rng = np.random.default_rng(seed)
    test_sets = rng.choice(["val", "iid", "cor/gaussian_noise/3", "acq/site_b"], n)
    fields = dict(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=test_sets,
        label=rng.integers(0, n_classes, n),
        logits=rng.normal(size=(n, n_classes)).astype(np.float32),
        class_names=[f"class{c}" for c in range(n_classes)],
        mc_logits=rng.normal(size=(n, n_classes, 4)).astype(np.float32),
        features=rng.normal(size=(n, 6)).astype(np.float32),
        train_features=rng.normal(size=(50, 6)).astype(np.float32),
        train_labels=rng.integers(0, n_classes, 50),
        confidences={"confidnet": rng.random(n)},
        metadata=pd.DataFrame(
            {
                "age": rng.integers(1, 95, n),
                "sex": pd.Categorical(rng.choice(["Female", "Male"], n)),
                "site": rng.choice(["A", "B"], n),
                "bmi": np.where(rng.random(n) < 0.1, np.nan, rng.normal(25, 4, n)),
            }
        ),
        text=np.where(rng.random(n) < 0.5, "no pneumothorax", "small effusion"),
        image_ref=[f"images/{i}.png" for i in range(n)],
        shift_params=['{"severity": 3}'] * n,
        provenance={"seed": seed, "model": "test"},
    )
    fields.update(overrides)
    return AuditSet(**fields)


def tiny_audit(logits, labels=None, test_set=None, **fields) -> AuditSet:
    """An AuditSet around hand-written logits; every row is 'iid' unless test_set says otherwise."""
    logits = np.asarray(logits, dtype=np.float64)
    n, c = logits.shape
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=["iid"] * n if test_set is None else test_set,
        label=np.zeros(n, dtype=int) if labels is None else np.asarray(labels),
        logits=logits,
        class_names=[f"c{k}" for k in range(c)],
        **fields,
    )


def imbalanced_audit(
    constant: bool, n: int = 300, seed: int = 0, n_val: int | None = None, **fields
) -> AuditSet:
    """27% minority class, the first ``n_val`` rows ``val`` (default a third), the rest ``iid``.

    The logits are either informative or collapsed.

    ``constant=True`` is the degenerate classifier of the "fail loudly" guard: it calls every
    image "normal" (the majority class), with varying confidence.
    """
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.27).astype(int)
    logits = rng.normal(size=(n, 2))
    if constant:
        logits[:, 0] += 5.0
    else:
        logits[np.arange(n), label] += 2.5
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=np.where(np.arange(n) < (n // 3 if n_val is None else n_val), "val", "iid"),
        label=label,
        logits=logits,
        class_names=["normal", "pneumonia"],
        **fields,
    )
