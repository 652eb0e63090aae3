"""Predictor features: model outputs, MC statistics, external confidences and metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from silentscope.audit import AuditSet
from silentscope.predictor import build_features, metadata_features, output_features


def audit_with_everything(n=50, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, 3))
    mc = logits[:, :, None] + rng.normal(0, 1, (n, 3, 6))
    meta = pd.DataFrame(
        {
            "age": np.where(rng.random(n) < 0.2, np.nan, rng.normal(60, 10, n)),
            "sex": rng.choice(["F", "M"], n),
            "site": ["one"] * n,
            "empty": [None] * n,
            "record": [f"r{i}" for i in range(n)],
        }
    )
    return AuditSet(sample_id=np.arange(n).astype(str), test_set=["iid"] * n, label=rng.integers(0, 3, n),
                    logits=logits, class_names=["a", "b", "c"], mc_logits=mc, metadata=meta,
                    confidences={"DG": rng.random(n)})  # fmt: skip


def test_output_features_match_their_definitions():
    audit = audit_with_everything()
    features = output_features(audit)
    p = softmax(audit.logits, axis=1)
    top = np.sort(p, axis=1)
    np.testing.assert_allclose(features["msr"], top[:, -1])
    np.testing.assert_allclose(features["margin"], top[:, -1] - top[:, -2])
    np.testing.assert_allclose(features["entropy"], -(p * np.log(p)).sum(axis=1))
    np.testing.assert_allclose(features["prob.b"], p[:, 1])
    assert features["predicted"].tolist() == [audit.class_names[i] for i in audit.predictions]
    np.testing.assert_array_equal(features["conf.DG"], audit.confidences["DG"])
    assert "conf.DG" not in output_features(audit, confidences=False)


def test_logit_features_only_where_the_audit_holds_logits():
    # On imported probabilities, "logits" are log p: the energy is 0 for every sample and
    # the maximum logit is log MSR, so neither may appear as a feature (or importance).
    from silentscope.audit.importers import from_arrays

    rng = np.random.default_rng(1)
    probs = softmax(rng.normal(size=(60, 3)), axis=1)
    imported = from_arrays(probs, rng.integers(0, 3, 60), probabilities=True)
    assert imported.outputs == "probabilities"
    features = output_features(imported)
    assert {"max_logit", "logit_margin", "energy"}.isdisjoint(features.columns)
    np.testing.assert_allclose(features["msr"], probs.max(axis=1))
    # with logits they stay
    with_logits = output_features(audit_with_everything())
    np.testing.assert_allclose(
        with_logits["energy"], np.log(np.exp(audit_with_everything().logits).sum(axis=1))
    )


def test_mc_features_are_consistent():
    features = output_features(audit_with_everything())
    assert (features["mc.mutual_information"] >= -1e-12).all()
    np.testing.assert_allclose(
        features["mc.mutual_information"], features["mc.entropy"] - features["mc.expected_entropy"]
    )
    assert features["mc.agreement"].between(0, 1).all() and (features["mc.std"] >= 0).all()


def test_metadata_features_keep_what_is_usable_and_say_why_not_the_rest():
    audit = audit_with_everything()
    frame, skipped = metadata_features(audit, ["age", "sex", "site", "empty"])
    assert list(frame.columns) == ["meta.age", "meta.sex"]
    assert frame["meta.age"].isna().sum() == audit.metadata["age"].isna().sum()  # kept, not imputed
    reasons = {s.what: s.reason for s in skipped}
    assert (
        "single value" in reasons["feature site"]
        and "all values are missing" in reasons["feature empty"]
    )
    _, skipped = metadata_features(audit_with_everything(n=150), ["record"])
    # a per-sample code is an identifier by the one rule of silentscope.audit.roles
    assert "names samples" in skipped[0].reason


def test_unknown_or_absent_metadata_is_an_error():
    audit = audit_with_everything()
    with pytest.raises(ValueError, match=r"metadata column\(s\) \['bmi'\] not found"):
        build_features(audit, ["bmi"])
    bare = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1], logits=np.eye(2) * 3,
                    class_names=["x", "y"])  # fmt: skip
    with pytest.raises(ValueError, match="has no metadata"):
        build_features(bare, ["age"])
    assert list(build_features(bare)[0].columns)[:2] == ["msr", "margin"]
