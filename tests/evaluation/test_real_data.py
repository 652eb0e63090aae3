"""evaluate() on real chest X-rays: PneumoniaMNIST with a small linear classifier."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from silentscope.audit import AuditSet
from silentscope.evaluation import evaluate


def _pixels(images: np.ndarray) -> np.ndarray:
    """28 x 28 uint8 -> 14 x 14 block means in [0, 1], flattened."""
    small = images.reshape(len(images), 14, 2, 14, 2).mean(axis=(2, 4)) / 255.0
    return small.reshape(len(images), -1)


@pytest.fixture(scope="module")
def pneumonia_audit(medmnist_dir) -> AuditSet:
    data = np.load(medmnist_dir / "pneumoniamnist.npz")
    rng = np.random.default_rng(0)
    train = _pixels(data["train_images"][:1500])
    train_labels = data["train_labels"][:1500, 0].astype(int)
    val, val_labels = _pixels(data["val_images"][:300]), data["val_labels"][:300, 0].astype(int)
    test, test_labels = _pixels(data["test_images"][:400]), data["test_labels"][:400, 0].astype(int)
    noisy = np.clip(test + rng.normal(0, 0.25, test.shape), 0, 1)
    low_contrast = 0.5 + (test - 0.5) * 0.3

    pca = PCA(n_components=24, random_state=0).fit(train)
    classifier = LogisticRegression(max_iter=1000).fit(pca.transform(train), train_labels)
    # the binary log-odds as two logits, a linear head on the PCA "features" (as ViM assumes)
    weight = np.stack([-classifier.coef_[0], classifier.coef_[0]]) / 2
    bias = np.array([-classifier.intercept_[0], classifier.intercept_[0]]) / 2

    sets = {"val": (val, val_labels), "iid": (test, test_labels),
            "cor/gaussian_noise/3": (noisy, test_labels), "cor/contrast/3": (low_contrast, test_labels)}  # fmt: skip
    features = np.concatenate([pca.transform(x) for x, _ in sets.values()])
    names = np.concatenate([[name] * len(x) for name, (x, _) in sets.items()])
    return AuditSet(
        sample_id=[f"{name}#{i}" for name, (x, _) in sets.items() for i in range(len(x))],
        test_set=names,
        label=np.concatenate([y for _, y in sets.values()]),
        logits=features @ weight.T + bias,
        class_names=["normal", "pneumonia"],
        features=features,
        train_features=pca.transform(train),
        train_labels=train_labels,
    )


def test_confidence_detects_failures_on_real_chest_xrays(pneumonia_audit):
    result = evaluate(
        pneumonia_audit,
        csfs=["MSR", "TS-MSR", "Mahalanobis", "ViM", "kNN"],
        metrics=["aurc", "auroc_f", "accuracy"],
        n_bootstrap=100,
    )
    assert result.unavailable == {}
    assert result.groups == ["iid", "cor/contrast/3", "cor/gaussian_noise/3", "cor (pooled)"]
    table = result.table.set_index(["csf", "test_set", "metric"])
    iid = table.xs("iid", level="test_set")
    error_rate = 1 - iid.loc[("MSR", "aurc"), "accuracy"]
    assert 0.03 < error_rate < 0.3
    # a random CSF has AURC ~ the error rate and AUROC_f ~ 0.5; MSR must do clearly better
    assert iid.loc[("MSR", "aurc"), "value"] < 0.8 * error_rate
    assert iid.loc[("MSR", "auroc_f"), "ci_low"] > 0.5
    # the head recovered by least squares is the classifier's, to rounding
    assert result.csf_params["ViM"]["head_residual_"] < 1e-8
    assert not table["value"].isna().any()
