"""Issue 13, case 8: CSFs only where meaningful.

After importing probabilities the logits are log p: the energy is 0 for every sample and the
maximum "logit" is log(MSR), yet both were reported; and ECE of CSFs that are not
probabilities was counted as "undefined" (170 values on the issue's store).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from silentscope.audit import AuditSet
from silentscope.audit.importers import from_arrays, from_table
from silentscope.audit.store import save_audit
from silentscope.cli import app
from silentscope.confidence import compute_confidences, describe_csfs
from silentscope.evaluation import evaluate

NEEDS_LOGITS = {"MLS", "energy", "ViM"}


def prediction_table(n=240, seed=0, logits=False):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2)) * 2
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    label = np.where(rng.random(n) < 0.85, p.argmax(1), 1 - p.argmax(1))
    values = z if logits else p
    prefix = "logit_" if logits else "prob_"
    return pd.DataFrame(
        {
            f"{prefix}normal": values[:, 0],
            f"{prefix}pneumonia": values[:, 1],
            "label": np.array(["normal", "pneumonia"])[label],
            "test_set": rng.choice(["val", "iid", "acq/site_b"], n),
        }
    )


@pytest.fixture
def from_probabilities(tmp_path):
    prediction_table().to_csv(tmp_path / "p.csv", index=False)
    return from_table(tmp_path / "p.csv")


def test_importers_record_whether_outputs_were_probabilities(tmp_path, from_probabilities):
    assert from_probabilities.provenance["outputs"] == "probabilities"
    assert from_probabilities.outputs == "probabilities"
    assert from_table(prediction_table(logits=True)).outputs == "logits"
    probs = np.array([[0.9, 0.1], [0.3, 0.7]])
    assert from_arrays(probs, np.array([0, 1]), probabilities=True).outputs == "probabilities"
    assert from_arrays(np.log(probs), np.array([0, 1])).outputs == "logits"


def test_csfs_that_need_logits_are_unavailable_on_probabilities(from_probabilities):
    energy = np.log(np.exp(from_probabilities.logits).sum(1))
    assert np.ptp(energy) < 1e-6  # the energy of log-probabilities is constant: meaningless
    confidences, unavailable = compute_confidences(from_probabilities)
    assert NEEDS_LOGITS <= set(unavailable) and not NEEDS_LOGITS & set(confidences)
    assert {"MSR", "PE", "TS-MSR"} <= set(confidences)
    assert unavailable["energy"].startswith(
        "energy needs the classifier's logits, but this AuditSet was imported from probabilities"
    )
    assert "logit_<class> columns" in unavailable["MLS"]
    # the same CSFs run where the table gave logits
    confidences, _ = compute_confidences(from_table(prediction_table(logits=True)))
    assert {"MLS", "energy"} <= set(confidences)


def test_stores_written_before_the_outputs_key_are_recognised():
    audit = AuditSet(
        sample_id=["a", "b"],
        test_set=["iid", "iid"],
        label=[0, 1],
        logits=np.log([[0.9, 0.1], [0.4, 0.6]]),
        class_names=["no", "yes"],
        provenance={"importer": "arrays", "logits": "log-probabilities"},
    )
    assert audit.outputs == "probabilities"
    assert "MLS" in compute_confidences(audit, ["MLS"])[1]


def test_every_csf_declares_whether_it_is_a_probability():
    table = describe_csfs().set_index("name")["probability_valued"]
    assert table[["MSR", "TS-MSR", "MCD-MSR"]].all()
    assert not table[["MLS", "PE", "energy", "MCD-PE", "Mahalanobis", "kNN", "ViM"]].any()


def test_ece_only_for_probability_csfs_and_never_counted_undefined(tmp_path, from_probabilities):
    result = evaluate(
        from_probabilities, csfs=["MSR", "PE", "TS-MSR"], metrics=["aurc", "ece"], n_bootstrap=20
    )
    ece = result.table[result.table["metric"] == "ece"]
    assert set(ece["csf"]) == {"MSR", "TS-MSR"} and ece["value"].notna().all()
    assert not result.table["value"].isna().any()
    assert result.settings["not_computed"]["ece"]["csfs"] == ["PE"]

    save_audit(from_probabilities, tmp_path / "store")
    result = CliRunner().invoke(
        app,
        ["evaluate", str(tmp_path / "store"), "--bootstrap", "20", "--out", str(tmp_path / "ev")],
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # rich wraps at the console width
    assert "metric values are undefined" not in output
    assert output.count("ECE is not computed for PE: the values of these CSFs are not") == 1
    assert "energy: energy needs the classifier's logits" in output
