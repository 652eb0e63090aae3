"""The CSF registry: exact names, declared inputs, unavailability reasons, compute_confidences."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.confidence import (
    CSF_INPUTS,
    KNN,
    ConfidenceScorer,
    available_csfs,
    compute_confidences,
    describe_csfs,
    get_csf,
    register_csf,
    registered_csfs,
)
from silentscope.confidence.base import _REGISTRY
from tests.support.audits import tiny_audit

EXPECTED = (
    "MSR", "MLS", "PE", "energy", "TS-MSR",
    "MCD-MSR", "MCD-PE", "MCD-EE", "MCD-MI", "MCD-SV", "MCD-WAIC",
    "Mahalanobis", "ViM", "ReAct", "kNN",
)  # fmt: skip


def full_audit(n=240, seed=0):
    """Every input present; logits carry signal about correctness."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    features = np.eye(3)[labels] * 2 + rng.normal(size=(n, 3)) * 1.2
    features = np.hstack([features, rng.normal(size=(n, 3)) * 0.3])
    weight = np.hstack([np.eye(3) * 2, np.zeros((3, 3))])
    logits = features @ weight.T
    mc = logits[:, :, None] + rng.normal(size=(n, 3, 8)) * 1.0
    train_labels = rng.integers(0, 3, 300)
    train = np.hstack(
        [
            np.eye(3)[train_labels] * 2 + rng.normal(size=(300, 3)) * 1.2,
            rng.normal(size=(300, 3)) * 0.3,
        ]
    )
    test_sets = np.where(np.arange(n) < n // 3, "val", "iid")
    return tiny_audit(
        logits, labels=labels, test_set=test_sets, mc_logits=mc, features=features,
        train_features=train, train_labels=train_labels, confidences={"DG": rng.random(n)},
    )  # fmt: skip


def test_every_registered_csf_declares_its_contract():
    # other packages register more CSFs (e.g. MisPred), after these; all obey the contract
    assert registered_csfs()[: len(EXPECTED)] == EXPECTED
    for name in registered_csfs():
        cls = _REGISTRY[name]
        assert cls.name == name and cls.display_name
        assert set(cls.requires) <= set(CSF_INPUTS) and "logits" in cls.requires
        assert cls.higher_is_better is True
    for name in EXPECTED:
        cls = _REGISTRY[name]
        assert cls.fitted == (name in {"TS-MSR", "Mahalanobis", "ViM", "ReAct", "kNN"})
        assert any(
            str(year) in cls.__doc__ or "ICLR 2023" in cls.__doc__ for year in range(2016, 2023)
        )


def test_lookup_is_by_exact_name_only():
    assert isinstance(get_csf("MCD-MSR"), ConfidenceScorer)
    with pytest.raises(ValueError, match="did you mean 'MSR'"):
        get_csf("msr")
    for partial in ("MCD", "MS", "mahalanobis_v2", "ext:"):
        with pytest.raises(ValueError, match="unknown CSF"):
            get_csf(partial)
    assert get_csf("kNN", k=3).k == 3


def test_registering_a_clashing_or_undocumented_csf_fails():
    class Clash(ConfidenceScorer):
        """A second MSR."""

        name = "MSR"
        display_name = "Clash"

    with pytest.raises(ValueError, match="already registered"):
        register_csf(Clash)

    class Uncertain(ConfidenceScorer):
        """Outputs an uncertainty."""

        name = "uncertain-test"
        display_name = "Uncertain"
        higher_is_better = False

    with pytest.raises(TypeError, match="higher = more confident"):
        register_csf(Uncertain)
    assert "uncertain-test" not in registered_csfs()


def test_missing_inputs_are_reported_with_the_reason_never_skipped():
    audit = tiny_audit([[2.0, 0.0], [0.0, 1.0]], labels=[0, 0])
    confidences, unavailable = compute_confidences(audit)
    assert sorted(confidences) == ["MLS", "MSR", "PE", "energy"]
    assert set(confidences) | set(unavailable) == set(registered_csfs())
    assert unavailable["MCD-MSR"].startswith(
        "MCD-MSR needs mc_logits, which this AuditSet does not have"
    )
    assert unavailable["TS-MSR"].startswith(
        "TS-MSR needs validation, which this AuditSet does not have"
    )
    assert unavailable["kNN"].startswith(
        "kNN needs features and train_features, which this AuditSet does not have"
    )
    assert "test set 'val'" in unavailable["TS-MSR"]


def test_an_explicitly_requested_external_confidence_that_is_absent_is_explained():
    audit = tiny_audit([[2.0, 0.0]], confidences={"DG": [0.5]})
    _, unavailable = compute_confidences(audit, ["ext:ConfidNet"])
    assert unavailable == {
        "ext:ConfidNet": "ext:ConfidNet needs the external confidence 'ConfidNet', which this "
        "AuditSet does not have (it declares: DG)"
    }


def test_fit_time_problems_become_reasons_too():
    audit = full_audit()
    _, unavailable = compute_confidences(audit, [KNN(k=1000), "MSR"])
    assert "k=1000 needs at least 1000 training features, got 300" in unavailable["kNN"]


def test_compute_confidences_runs_every_csf_with_higher_meaning_more_often_correct():
    audit = full_audit()
    available = available_csfs(audit)
    assert available[: len(EXPECTED)] == list(EXPECTED) and available[-1] == "ext:DG"
    confidences, unavailable = compute_confidences(audit, [*EXPECTED, "ext:DG"])
    assert unavailable == {}
    assert list(confidences) == [*EXPECTED, "ext:DG"]
    correct = audit.correct
    assert 0.1 < 1 - correct.mean() < 0.5  # enough errors for the comparison to mean something
    for name in EXPECTED:
        values = confidences[name]
        assert values.shape == (audit.n_samples,) and values.dtype == np.float64
        # the errors of this model are its ambiguous samples: every CSF must rank them lower
        assert values[correct].mean() > values[~correct].mean(), name
    np.testing.assert_array_equal(confidences["ext:DG"], audit.confidences["DG"])


def test_duplicate_and_unknown_requests_are_errors():
    audit = full_audit()
    with pytest.raises(ValueError, match="requested twice"):
        compute_confidences(audit, ["MSR", "MSR"])
    with pytest.raises(ValueError, match="unknown CSF 'Energy'; did you mean 'energy'"):
        compute_confidences(audit, ["Energy"])


def test_describe_lists_requirements_for_the_cli():
    table = describe_csfs().set_index("name")
    assert table.loc["MCD-MI", "requires"] == "logits, mc_logits"
    assert table.loc["kNN", "requires"] == "logits, features, train_features"
    assert bool(table.loc["ViM", "fitted"]) and not bool(table.loc["MSR", "fitted"])
    assert "ext:<name>" in table.index
