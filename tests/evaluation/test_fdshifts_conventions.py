"""New-class (ood/) test sets and the MC correctness convention, against FD-Shifts' formulas.

The reference values are computed here by brute force from FD-Shifts' definitions (not its
code): mcd_correct = arg-max of the softmax averaged over the MC passes == label; a
new-class study keeps the correctly classified iid samples (by ``correct`` for deterministic
CSFs, by ``mcd_correct`` for MC ones) plus every new-class sample, each a failure; AURC is
the trapezoid area over the selective risks at coverages 0, 1/n, ..., 1 (continuous
confidences, so no ties), AUROC_f the share of (success, failure) pairs ranked right.
"""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.audit import UNKNOWN_LABEL, AuditSet
from silentscope.evaluation import evaluate
from silentscope.study.results import ood_caption

C, M = 4, 7


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def brute_aurc(confidence, correct):
    order = np.argsort(-confidence)
    errors = np.cumsum(~correct[order])
    k = np.arange(1, len(order) + 1)
    risk = errors / k
    coverage = k / len(order)
    xs, ys = np.r_[0.0, coverage], np.r_[risk[0], risk]
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2))


def brute_auroc_f(confidence, correct):
    good, bad = confidence[correct], confidence[~correct]
    pairs = (good[:, None] > bad[None, :]).sum() + 0.5 * (good[:, None] == bad[None, :]).sum()
    return float(pairs / (len(good) * len(bad)))


@pytest.fixture(scope="module")
def audit():
    rng = np.random.default_rng(3)
    n_iid, n_cor, n_ood = 300, 200, 120
    n = n_iid + n_cor + n_ood
    test_set = np.array(["iid"] * n_iid + ["cor/noise/2"] * n_cor + ["ood/svhn"] * n_ood)
    label = rng.integers(0, C, n)
    logits = rng.normal(size=(n, C))
    logits[np.arange(n), label] += np.where(test_set == "iid", 1.8, 0.8)
    # dropout passes scattered around the logits: the MC-averaged prediction differs from
    # the deterministic one on a good share of the samples
    mc = logits[:, :, None] + rng.normal(size=(n, C, M)) * 1.5
    label[test_set == "ood/svhn"] = UNKNOWN_LABEL
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=test_set,
        label=label,
        logits=logits,
        mc_logits=mc,
        class_names=[f"c{k}" for k in range(C)],
    )


def fdshifts_reference(audit, mcd: bool, test_set: str):
    """(confidence, correct) of FD-Shifts' study for MSR (mcd False) or MCD-MSR (mcd True)."""
    if mcd:
        mean = softmax(audit.mc_logits, axis=1).mean(axis=2)
        confidence, correct = mean.max(axis=1), mean.argmax(axis=1) == audit.label
    else:
        probs = softmax(audit.logits, axis=1)
        confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == audit.label
    if test_set.startswith("ood/"):
        correct = correct & (audit.test_set != test_set)  # every new-class sample a failure
        keep = (audit.test_set == test_set) | ((audit.test_set == "iid") & correct)
    else:
        keep = audit.test_set == test_set
    return confidence[keep], correct[keep]


def values(result, csf, test_set, metric):
    rows = result.table.query("csf == @csf and test_set == @test_set and metric == @metric")
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.mark.parametrize("test_set", ["iid", "cor/noise/2", "ood/svhn"])
def test_mc_mean_rows_equal_fdshifts(audit, test_set):
    result = evaluate(
        audit, csfs=["MSR", "MCD-MSR"], metrics=["aurc", "auroc_f"], n_bootstrap=0,
        mc_correctness="mc_mean",
    )  # fmt: skip
    for csf, mcd in (("MSR", False), ("MCD-MSR", True)):
        confidence, correct = fdshifts_reference(audit, mcd, test_set)
        aurc = values(result, csf, test_set, "aurc")
        assert aurc["value"] == pytest.approx(brute_aurc(confidence, correct), abs=1e-9)
        assert aurc["n"] == len(correct) and aurc["n_errors"] == int((~correct).sum())
        auroc = values(result, csf, test_set, "auroc_f")["value"]
        assert auroc == pytest.approx(brute_auroc_f(confidence, correct), abs=1e-9)
    assert result.settings["mc_correctness"]["convention"] == "mc_mean"
    assert result.settings["mc_correctness"]["mc_csfs"] == ["MCD-MSR"]
    assert "MC-averaged" in values(result, "MCD-MSR", test_set, "aurc")["note"]
    assert "MC-averaged" not in values(result, "MSR", test_set, "aurc")["note"]


def test_deterministic_convention_differs_and_is_recorded(audit):
    kwargs = dict(csfs=["MCD-MSR"], metrics=["aurc"], n_bootstrap=0, test_sets=["iid"])
    deterministic = evaluate(audit, **kwargs)
    mc_mean = evaluate(audit, mc_correctness="mc_mean", **kwargs)
    assert deterministic.settings["mc_correctness"]["convention"] == "deterministic"
    confidence, _ = fdshifts_reference(audit, True, "iid")
    det_correct = audit.correct[audit.test_set == "iid"]
    expected = brute_aurc(confidence, det_correct)
    assert values(deterministic, "MCD-MSR", "iid", "aurc")["value"] == pytest.approx(
        expected, abs=1e-9
    )
    assert values(mc_mean, "MCD-MSR", "iid", "aurc")["value"] != pytest.approx(expected, abs=1e-6)


def test_ood_all_iid_convention(audit):
    result = evaluate(
        audit, csfs=["MSR"], metrics=["aurc", "accuracy"], n_bootstrap=0, test_sets=["ood/svhn"],
        ood_convention="all_iid",
    )  # fmt: skip
    row = values(result, "MSR", "ood/svhn", "aurc")
    iid = audit.test_set == "iid"
    assert row["n"] == iid.sum() + 120
    assert row["n_errors"] == (~audit.correct[iid]).sum() + 120  # misclassified iid or any ood
    keep = iid | (audit.test_set == "ood/svhn")
    probs = softmax(audit.logits, axis=1)
    expected = brute_aurc(probs.max(axis=1)[keep], audit.correct[keep])
    assert row["value"] == pytest.approx(expected, abs=1e-9)
    assert "every iid sample" in result.settings["ood_convention"]["definition"]
    # study tables and the report say how ood/ sets were judged, from the rows' notes
    assert "every iid sample" in ood_caption(result.table)
    assert ood_caption(result.table[result.table["test_set_kind"] != "ood"]) == ""
    # classification metrics need known classes: undefined, with the reason
    accuracy = result.classification.query("test_set == 'ood/svhn' and metric == 'accuracy'")
    assert (
        accuracy["value"].isna().all()
        and "no class the classifier knows" in accuracy["note"].iloc[0]
    )


def test_ood_needs_iid_and_conventions_are_checked(audit):
    no_iid = audit.select("cor/noise/2", "ood/svhn")
    with pytest.raises(ValueError, match="no 'iid' test set"):
        evaluate(no_iid, csfs=["MSR"], metrics=["aurc"], n_bootstrap=0)
    with pytest.raises(ValueError, match="mc_correctness must be one of"):
        evaluate(audit, csfs=["MSR"], mc_correctness="mc")
    plain = AuditSet(sample_id=["a", "b"], test_set=["iid"] * 2, label=[0, 1],
                     logits=np.eye(2) * 3, class_names=["no", "yes"])  # fmt: skip
    with pytest.raises(ValueError, match="no mc_logits"):
        evaluate(plain, csfs=["MSR"], mc_correctness="mc_mean", n_bootstrap=0)
