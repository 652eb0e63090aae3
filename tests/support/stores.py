"""Audit stores for the viewer tests: ODIR fundus photographs, MedMNIST arrays, and synthetic clusters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from silentscope.audit import AuditSet
from silentscope.audit.store import save_audit
from silentscope.shifts import corrupt, records_to_json

ODIR_CLASSES = {"N": "normal", "D": "diabetic retinopathy", "C": "cataract"}


def _logits(model, features):
    return (
        model.decision_function(features)
        if len(model.classes_) > 2
        else np.column_stack(
            [-model.decision_function(features) / 2, model.decision_function(features) / 2]
        )
    )


def build_odir_store(
    odir_dir: Path, out: Path, n_per_class: int = 100, size: int = 24, seed: int = 0
) -> Path:
    """A real store: ODIR-5K photographs (3 classes), a pixel logistic-regression classifier,
    an iid test set and a Gaussian-noise test set, with age, sex, eye and the diagnostic keywords."""
    table = pd.read_csv(odir_dir / "metadata.csv")
    table = table[table["label_code"].isin(list(ODIR_CLASSES)) & (table["n_files_same_bytes"] == 1)]
    rng = np.random.default_rng(seed)
    picked = [g.iloc[rng.permutation(len(g))[:n_per_class]] for _, g in table.groupby("label_code")]
    table = pd.concat(picked).reset_index(drop=True)
    paths = [str((odir_dir / "images" / f).resolve()) for f in table["file"]]
    images = np.stack(
        [np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.BOX)) for p in paths]
    )
    labels = table["label_code"].map({code: i for i, code in enumerate(ODIR_CLASSES)}).to_numpy()
    order = rng.permutation(len(table))
    train, test = order[: len(order) // 2], order[len(order) // 2 :]

    def features_of(batch):
        return batch.reshape(len(batch), -1).astype(np.float32) / 255.0

    pca = PCA(n_components=32, random_state=seed).fit(features_of(images[train]))
    model = LogisticRegression(C=0.5, max_iter=500).fit(
        pca.transform(features_of(images[train])), labels[train]
    )
    noisy, records = corrupt(images[test], "gaussian_noise", 4, seed=seed, modality="fundus")
    clean_features = pca.transform(features_of(images[test]))
    noisy_features = pca.transform(features_of(noisy))
    n = len(test)
    meta = table.iloc[np.concatenate([test, test])].reset_index(drop=True)
    audit = AuditSet(
        sample_id=[f"iid/{f}" for f in table["file"].iloc[test]]
        + [f"noise/{f}" for f in table["file"].iloc[test]],
        test_set=["iid"] * n + ["cor/gaussian_noise/4"] * n,
        label=np.concatenate([labels[test], labels[test]]),
        logits=np.vstack([_logits(model, clean_features), _logits(model, noisy_features)]),
        class_names=list(ODIR_CLASSES.values()),
        features=np.vstack([clean_features, noisy_features]).astype(np.float32),
        metadata=meta[["age", "sex", "eye"]],
        text=meta["keywords"].to_numpy(),
        image_ref=np.asarray(paths, dtype=object)[np.concatenate([test, test])],
        shift_params=np.concatenate([np.full(n, "", dtype=object), records_to_json(records)]),
        provenance={"data": "ODIR-5K", "model": "logistic regression on 24 px pixels"},
    )
    return save_audit(audit, out)


def build_medmnist_store(medmnist_dir: Path, out: Path, n: int = 300, seed: int = 0) -> Path:
    """A real store whose image references point into the PneumoniaMNIST npz (``file#key/index``)."""
    path = (medmnist_dir / "pneumoniamnist.npz").resolve()
    rng = np.random.default_rng(seed)
    with np.load(path) as npz:
        train = np.sort(rng.choice(len(npz["train_labels"]), 1000, replace=False))
        train_x, train_y = npz["train_images"][train], npz["train_labels"][train, 0]
        test_x, test_y = npz["test_images"][:n], npz["test_labels"][:n, 0]
    model = LogisticRegression(C=0.05, max_iter=500).fit(
        train_x.reshape(len(train_x), -1) / 255.0, train_y
    )
    features = test_x.reshape(len(test_x), -1).astype(np.float32) / 255.0
    audit = AuditSet(
        sample_id=[f"pneumoniamnist/test/{i}" for i in range(n)],
        test_set=["iid"] * n,
        label=test_y.astype(np.int64),
        logits=_logits(model, features),
        class_names=["normal", "pneumonia"],
        features=features,
        image_ref=np.asarray([f"{path}#test_images/{i}" for i in range(n)], dtype=object),
    )
    return save_audit(audit, out)


def build_synthetic_store(out: Path, n_per_cluster: int = 400, seed: int = 0) -> tuple[Path, dict]:
    """Four well-separated clusters whose layout is known, for screenshot checks.

    Cluster 0 (iid, class a) is all correct; cluster 3 (shifted, class b) is all wrong and
    confident: the silent failures. Images are small npy arrays (one bright square per cluster).
    """
    rng = np.random.default_rng(seed)
    centres = np.array([[-6.0, -6.0], [6.0, -6.0], [-6.0, 6.0], [6.0, 6.0]])
    cluster = np.repeat(np.arange(4), n_per_cluster)
    features = np.hstack(
        [
            centres[cluster] + rng.normal(0, 0.8, (len(cluster), 2)),
            rng.normal(0, 0.05, (len(cluster), 6)),
        ]
    )
    label = np.where(cluster % 2 == 0, 0, 1)
    correct = np.array([1.0, 0.9, 0.7, 0.0])[cluster] > rng.random(len(cluster))
    predicted = np.where(correct, label, 1 - label)
    margin = np.where(cluster == 3, 4.0, rng.uniform(0.2, 3.0, len(cluster)))
    logits = np.zeros((len(cluster), 2))
    logits[np.arange(len(cluster)), predicted] = margin
    test_set = np.where(cluster >= 2, "cor/gaussian_blur/3", "iid")
    images = np.zeros((len(cluster), 16, 16, 1), dtype=np.uint8)
    for c in range(4):
        images[cluster == c, 4 + c : 8 + c, 4:12, 0] = 60 * (c + 1)
    folder = Path(out).parent
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "images.npy", images)
    audit = AuditSet(
        sample_id=[f"s{i:05d}" for i in range(len(cluster))],
        test_set=test_set,
        label=label,
        logits=logits,
        class_names=["benign", "malignant"],
        features=features.astype(np.float32),
        metadata=pd.DataFrame(
            {"site": np.where(cluster < 2, "A", "B"), "age": rng.integers(20, 90, len(cluster))}
        ),
        text=np.where(cluster == 3, "irregular border, no effusion", "regular border"),
        image_ref=np.asarray([f"images.npy#{i}" for i in range(len(cluster))], dtype=object),
    )
    return save_audit(audit, out), {"centres": centres, "cluster": cluster, "correct": correct}


def store_after_commands(source: Path, out: Path, *commands: list[str]) -> Path:
    """A copy of ``source`` at ``out`` after the ``silentscope`` commands (STORE for the store)."""
    import shutil

    from typer.testing import CliRunner

    from silentscope.cli import app

    shutil.copytree(source, out)
    for command in commands:
        result = CliRunner().invoke(app, [str(out) if a == "STORE" else a for a in command])
        assert result.exit_code == 0, result.output
    return out
