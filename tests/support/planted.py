"""AuditSets with planted failures: simulated classifier outputs on real ODIR-5K metadata.

Shared by the subgroup, predictor and slice tests and by ``benchmarks/subgroups.py``.

The metadata (age, sex, eye, patient) and the labels (normal fundus or not, per eye) are
real; the classifier is simulated so that the truth is known: errors are planted in one
risk group (age >= 65), optionally only for one class or more strongly in a shifted test
set, and the errors of that group are confident ones (silent failures). ``scanner`` is a
pure-noise attribute, ``clinic`` a confounder that follows the risk group.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.audit import AuditSet
from silentscope.slices import simulate_logits

RISK_AGE = 65
CLASS_NAMES = ("normal", "abnormal")


def load_odir_metadata(odir_dir: Path) -> pd.DataFrame:
    """One row per distinct image (the 176 byte-identical DH copies dropped)."""
    meta = pd.read_csv(odir_dir / "metadata.csv")
    meta = meta.drop_duplicates("md5").reset_index(drop=True)
    meta["label"] = (meta["label_code"] != "N").astype(int)
    return meta[["file", "patient_id", "eye", "age", "sex", "label"]]


def simulate_audit(
    meta: pd.DataFrame,
    seed: int,
    *,
    base_error: float = 0.08,
    risk_error: float = 0.30,
    shifted_risk_error: float | None = None,
    class_specific: int | None = None,
    n_patients: int | None = None,
) -> AuditSet:
    """A simulated binary classifier on real ODIR metadata with a planted risk group.

    Patients are split into ``val`` (30%) and ``iid`` (the rest), or, with
    ``shifted_risk_error``, into ``val`` 25%, ``iid`` 45% and ``acq/site_B`` 30%, where the
    risk group fails at ``shifted_risk_error`` instead of ``risk_error``. With
    ``class_specific=c`` the risk group fails more only on samples of true class ``c``.
    """
    rng = np.random.default_rng(seed)
    patients = rng.permutation(meta["patient_id"].unique())
    if n_patients is not None:
        patients = patients[:n_patients]
    meta = meta[meta["patient_id"].isin(patients)].reset_index(drop=True)
    position = pd.Series(np.arange(len(patients)) / len(patients), index=patients)
    share = position.loc[meta["patient_id"]].to_numpy()
    if shifted_risk_error is None:
        test_set = np.where(share < 0.3, "val", "iid")
    else:
        test_set = np.select([share < 0.25, share < 0.7], ["val", "iid"], "acq/site_B")
    n = len(meta)
    label = meta["label"].to_numpy()
    risk = meta["age"].to_numpy() >= RISK_AGE
    group_error = np.full(n, risk_error)
    if shifted_risk_error is not None:
        group_error[test_set == "acq/site_B"] = shifted_risk_error
    affected = risk if class_specific is None else risk & (label == class_specific)
    wrong = rng.random(n) < np.where(affected, group_error, base_error)
    prediction = np.where(wrong, 1 - label, label)
    # Errors outside the risk group are unconfident; those inside are confident (silent).
    margin = np.where(
        wrong,
        np.where(affected, rng.gamma(4.0, 0.5, n), rng.gamma(1.5, 0.5, n)),
        rng.gamma(4.0, 0.6, n),
    )
    logits = np.zeros((n, 2))
    logits[np.arange(n), prediction] = margin
    metadata = pd.DataFrame(
        {
            "age": meta["age"].to_numpy(),
            "sex": meta["sex"].to_numpy(),
            "eye": meta["eye"].to_numpy(),
            "scanner": rng.choice(["A", "B", "C"], n),  # pure noise
            # follows the risk group: associated with errors, but not independently of age
            "clinic": np.where(rng.random(n) < np.where(risk, 0.8, 0.15), "geriatric", "general"),
            "patient_id": meta["patient_id"].to_numpy(),
        }
    )
    return AuditSet(
        sample_id=meta["file"].to_numpy(),
        test_set=test_set,
        label=label,
        logits=logits,
        class_names=CLASS_NAMES,
        metadata=metadata,
        provenance={"simulation": "tests/support/planted.py", "seed": seed},
    )


def synthetic_audit(
    n: int = 600, seed: int = 0, *, n_val: int | None = None, **metadata
) -> AuditSet:
    """A small binary AuditSet without real data: errors planted where ``risky`` is 'yes'.

    The first ``n_val`` samples (half by default) are the validation split, the rest ``iid``.
    """
    n_val = n // 2 if n_val is None else n_val
    rng = np.random.default_rng(seed)
    risky = rng.choice(["no", "yes"], n)
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < np.where(risky == "yes", 0.35, 0.08)
    margin = np.where(wrong, rng.gamma(2.0, 0.5, n), rng.gamma(4.0, 0.6, n))
    logits = np.zeros((n, 2))
    logits[np.arange(n), np.where(wrong, 1 - label, label)] = margin
    frame = pd.DataFrame({"risky": risky, "noise": rng.choice(["u", "v"], n), **metadata})
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=np.where(np.arange(n) < n_val, "val", "iid"),
        label=label,
        logits=logits,
        class_names=["neg", "pos"],
        metadata=frame,
    )


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
