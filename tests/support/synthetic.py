"""A seeded synthetic AuditSet whose confidences carry signal about errors."""

from __future__ import annotations

import numpy as np

from silentscope.audit import AuditSet

#: test set -> (extra feature noise, samples); shifts add noise, so accuracy falls with severity
TEST_SETS = {
    "val": (0.0, 150),
    "iid": (0.0, 150),
    "cor/gaussian_noise/1": (0.5, 100),
    "cor/gaussian_noise/3": (1.5, 100),
    "cor/blur/3": (1.0, 100),
    "acq/site_b": (0.8, 100),
    "man/easy": (-1.0, 40),  # noise below the training level: no errors at all
}


def make_synthetic_audit(
    seed: int = 0, n_classes: int = 3, mc: bool = True, test_sets=None
) -> AuditSet:
    """Features = class prototype + noise; logits = linear head; errors are ambiguous samples.

    ``man/easy`` has every prediction right, to exercise metrics that need failures.
    """
    rng = np.random.default_rng(seed)
    n_dims = 8
    prototypes = np.zeros((n_classes, n_dims))
    prototypes[np.arange(n_classes), np.arange(n_classes)] = 2.5
    head = prototypes.copy()
    parts = {"ids": [], "sets": [], "labels": [], "features": []}
    for name, (extra_noise, n) in (test_sets or TEST_SETS).items():
        labels = rng.integers(0, n_classes, n)
        if extra_noise < 0:  # no-error set: features right on the prototypes
            features = prototypes[labels] + rng.normal(size=(n, n_dims)) * 0.05
        else:
            features = prototypes[labels] + rng.normal(size=(n, n_dims)) * (1.0 + extra_noise)
        parts["ids"] += [f"{name}#{i}" for i in range(n)]
        parts["sets"] += [name] * n
        parts["labels"].append(labels)
        parts["features"].append(features)
    labels = np.concatenate(parts["labels"])
    features = np.concatenate(parts["features"])
    logits = features @ head.T + 0.1
    train_labels = rng.integers(0, n_classes, 400)
    train = prototypes[train_labels] + rng.normal(size=(400, n_dims))
    mc_logits = None
    if mc:
        mc_logits = logits[:, :, None] + rng.normal(size=(*logits.shape, 6)) * 0.8
    correct = logits.argmax(axis=1) == labels
    # an external confidence with weaker signal than MSR
    external = correct.astype(float) * 0.3 + rng.random(len(labels))
    return AuditSet(
        sample_id=parts["ids"],
        test_set=parts["sets"],
        label=labels,
        logits=logits,
        class_names=[f"class{c}" for c in range(n_classes)],
        mc_logits=mc_logits,
        features=features,
        train_features=train,
        train_labels=train_labels,
        confidences={"DG": external},
        provenance={"generator": "tests.evaluation.synthetic", "seed": seed},
    )
