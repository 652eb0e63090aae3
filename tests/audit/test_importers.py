from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from silentscope.audit import AuditSet, AuditSetError, softmax
from silentscope.audit.importers import from_arrays, from_fdshifts, from_table
from silentscope.audit.store import load_audit
from silentscope.cli import app


def prediction_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet([1, 1, 1], n)
    return pd.DataFrame(
        {
            "sample_id": [f"img{i}" for i in range(n)],
            "prob_normal": probs[:, 0],
            "prob_benign": probs[:, 1],
            "prob_malignant": probs[:, 2],
            "label": rng.choice(["normal", "benign", "malignant"], n),
            "test_set": rng.choice(["val", "iid", "acq/site_b"], n),
            "conf_confidnet": rng.random(n),
            "age": rng.integers(1, 90, n),
            "sex": rng.choice(["F", "M"], n),
            "report": rng.choice(["no effusion", "small nodule"], n),
        }
    )


def test_table_with_probabilities(tmp_path):
    table = prediction_table()
    table.to_csv(tmp_path / "preds.csv", index=False)
    audit = from_table(tmp_path / "preds.csv", text_column="report")
    assert audit.class_names == ("normal", "benign", "malignant")
    np.testing.assert_allclose(
        audit.probabilities, table[["prob_normal", "prob_benign", "prob_malignant"]], atol=1e-9
    )
    assert list(audit.metadata.columns) == ["age", "sex"]
    assert set(audit.confidences) == {"confidnet"}
    assert audit.text[0] == table.report[0]
    assert "clipped" in audit.provenance["logits"]
    expected_correct = table[["prob_normal", "prob_benign", "prob_malignant"]].to_numpy().argmax(
        1
    ) == table.label.map({"normal": 0, "benign": 1, "malignant": 2})
    np.testing.assert_array_equal(audit.correct, expected_correct)


def test_probabilities_passed_as_logits_are_refused_with_the_fix(tmp_path):
    """Softmax over probabilities keeps the prediction but flattens every confidence."""
    table = prediction_table().rename(columns=lambda c: c.replace("prob_", "logit_"))
    table.to_csv(tmp_path / "preds.csv", index=False)
    with pytest.raises(
        AuditSetError,
        match=r"logit columns logit_normal.*hold probabilities.*name them prob_<class>",
    ):
        from_table(tmp_path / "preds.csv")
    probs = prediction_table()[["prob_normal", "prob_benign", "prob_malignant"]].to_numpy()
    labels = np.zeros(len(probs), int)
    with pytest.raises(AuditSetError, match=r"the logits hold probabilities.*--probabilities"):
        from_arrays(probs, labels)
    # the same numbers as probabilities, and real logits, are taken
    assert from_arrays(probs, labels, probabilities=True).outputs == "probabilities"
    logits = np.log(probs) + 3.0  # a row shifted off the simplex: still logits of these probs
    np.testing.assert_allclose(from_arrays(logits, labels).probabilities, probs, atol=1e-9)


def test_an_auditset_built_in_python_refuses_probabilities_as_logits():
    """The constructor is the one place every path crosses: an AuditSet made by hand too."""
    probs = prediction_table()[["prob_normal", "prob_benign", "prob_malignant"]].to_numpy()
    base = dict(
        sample_id=[f"s{i}" for i in range(len(probs))], test_set=["iid"] * len(probs),
        label=np.zeros(len(probs), int), class_names=["normal", "benign", "malignant"],
    )  # fmt: skip
    with pytest.raises(AuditSetError, match=r"logits hold probabilities.*log-probabilities"):
        AuditSet(logits=probs, **base)
    # their logarithms are taken, and give back the same probabilities and predictions
    audit = AuditSet(logits=np.log(probs), **base)
    np.testing.assert_allclose(audit.probabilities, probs, atol=1e-9)


def test_the_probability_check_reads_every_row_when_the_first_ones_look_like_probabilities():
    from silentscope.audit.validation import reject_probabilities_as_logits

    simplex = np.tile([[0.3, 0.7]], (1000, 1))
    with pytest.raises(AuditSetError, match="hold probabilities"):
        reject_probabilities_as_logits(simplex, "the logits", "fix")
    late = simplex.copy()
    late[900] = [2.0, -1.0]  # a real logit row after the first rows: these are logits
    reject_probabilities_as_logits(late, "the logits", "fix")


def test_table_single_probability_column_and_parquet(tmp_path):
    table = pd.DataFrame({"prob": [0.9, 0.2, 0.6], "label": [1, 0, 0]})
    table.to_parquet(tmp_path / "p.parquet")
    audit = from_table(tmp_path / "p.parquet")
    np.testing.assert_allclose(audit.probabilities[:, 1], [0.9, 0.2, 0.6])
    assert audit.correct.tolist() == [True, True, False]
    assert audit.test_sets == ("iid",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns="label"), "no label column 'label'"),
        (lambda t: t.assign(label="unknown"), r"values \['unknown'\] that are not class names"),
        (lambda t: t.assign(prob_normal=t.prob_normal * 0.5), "do not sum to 1 at rows 0"),
        (lambda t: t.assign(prob_normal=np.nan), "not finite at rows 0"),
        (
            lambda t: t.drop(columns=["prob_normal", "prob_benign", "prob_malignant"]),
            "no prediction columns",
        ),
        (lambda t: t.assign(logit_x=1.0), "both logit"),
        (lambda t: t.assign(test_set="train"), "unknown test-set name 'train'"),
        (lambda t: t.assign(sample_id="same"), "sample_id has duplicates"),
    ],
)
def test_table_errors_are_clear(change, message):
    with pytest.raises(AuditSetError, match=message):
        from_table(change(prediction_table()))


def test_arrays_from_npy_files(tmp_path):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(40, 2))
    np.save(tmp_path / "logits.npy", logits)
    np.save(tmp_path / "labels.npy", rng.integers(0, 2, 40).astype(float))
    np.save(tmp_path / "features.npy", rng.normal(size=(40, 5)))
    audit = from_arrays(
        tmp_path / "logits.npy", tmp_path / "labels.npy", features=tmp_path / "features.npy"
    )
    np.testing.assert_allclose(audit.logits, logits)
    assert audit.features.shape == (40, 5) and audit.label.dtype == np.int64
    with pytest.raises(FileNotFoundError, match="no such file"):
        from_arrays(tmp_path / "missing.npy", tmp_path / "labels.npy")


def write_fdshifts_run(root, n=90, c=3, m=4, d=5, seed=0, val_tuning=True):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, c))
    labels = rng.integers(0, c, n)
    dataset_idx = np.repeat([0, 1, 2], n // 3)
    results = root / "test_results"
    results.mkdir(parents=True)
    np.savez_compressed(results / "raw_logits.npz", np.column_stack([logits, labels, dataset_idx]))
    features = rng.normal(size=(n, d))
    np.savez_compressed(results / "encoded_output.npz", np.column_stack([features, dataset_idx]))
    np.savez_compressed(results / "external_confids.npz", rng.random((n, 1)))
    mc = rng.normal(size=(n, c, m))
    # FD-Shifts writes dropout samples sample-major: (N*M) x C
    np.savez_compressed(results / "raw_logits_dist.npz", mc.transpose(0, 2, 1).reshape(n * m, c))
    (root / "hydra").mkdir()
    config = {
        "eval": {
            "val_tuning": val_tuning,
            "query_studies": {"iid_study": "isic", "in_class_study": ["derm7pt"]},
        }
    }
    (root / "hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    return logits, labels, features, mc


def test_fdshifts_folder(tmp_path):
    logits, labels, features, mc = write_fdshifts_run(tmp_path / "run")
    audit = from_fdshifts(tmp_path / "run")
    assert audit.test_sets == ("val", "iid", "shift/derm7pt")  # FD-Shifts records no shift kind
    np.testing.assert_allclose(audit.logits, logits)
    np.testing.assert_array_equal(audit.label, labels)
    np.testing.assert_allclose(audit.features, features)
    np.testing.assert_allclose(audit.mc_logits, mc)
    assert set(audit.confidences) == {"external"}
    # the test_results folder itself and explicit names work too
    named = from_fdshifts(
        tmp_path / "run" / "test_results", test_set_names=["val", "iid", "acq/site_b"]
    )
    assert named.test_sets == ("val", "iid", "acq/site_b")
    with pytest.raises(AuditSetError, match="dataset_idx goes up to 2"):
        from_fdshifts(tmp_path / "run", test_set_names=["val", "iid"])


def test_fdshifts_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an FD-Shifts test_results folder"):
        from_fdshifts(tmp_path)


def test_cli_import_and_info(tmp_path):
    prediction_table().to_csv(tmp_path / "preds.csv", index=False)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "import",
            "table",
            str(tmp_path / "preds.csv"),
            "--out",
            str(tmp_path / "store"),
            "--text-column",
            "report",
        ],
    )
    assert result.exit_code == 0, result.output
    assert load_audit(tmp_path / "store").n_samples == 120
    result = runner.invoke(app, ["info", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert "acq/site_b" in result.output and "needs mc_logits" in result.output
    again = runner.invoke(
        app, ["import", "table", str(tmp_path / "preds.csv"), "--out", str(tmp_path / "store")]
    )
    assert again.exit_code == 2 and "already exists" in again.output
    write_fdshifts_run(tmp_path / "run")
    result = runner.invoke(
        app, ["import", "fdshifts", str(tmp_path / "run"), "--out", str(tmp_path / "fd")]
    )
    assert result.exit_code == 0, result.output
    assert load_audit(tmp_path / "fd").mc_logits.shape == (90, 3, 4)


def test_softmax_of_imported_logits_is_stable():
    big = np.array([[1000.0, 0.0], [-1000.0, 0.0]])
    np.testing.assert_allclose(softmax(big), [[1, 0], [0, 1]])


def test_a_bad_value_in_an_array_file_names_the_file(tmp_path):
    # "logits contains NaN at rows 3" did not say which file to fix
    from silentscope.audit.importers import from_arrays

    logits = np.random.default_rng(0).normal(size=(20, 3))
    logits[3, 1] = np.nan
    np.save(tmp_path / "logits.npy", logits)
    np.save(tmp_path / "labels.npy", np.r_[np.zeros(19, int), 3])
    np.save(tmp_path / "ok.npy", np.nan_to_num(logits))
    with pytest.raises(AuditSetError, match=r"logits\.npy: logits contains NaN at rows 3"):
        from_arrays(tmp_path / "logits.npy", np.zeros(20, int))
    with pytest.raises(AuditSetError, match=r"labels\.npy: label out of range"):
        from_arrays(tmp_path / "ok.npy", tmp_path / "labels.npy")
    with pytest.raises(AuditSetError, match=r"^logits contains NaN"):  # in-memory: no file
        from_arrays(logits, np.zeros(20, int))


def test_imported_images_are_measured_and_an_unreadable_one_is_named(tmp_path):
    """`import table --image-column` adds appearance measures from the images themselves."""
    from silentscope.data.appearance import APPEARANCE_COLUMNS

    runner = CliRunner()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (6, 12, 12, 3), dtype=np.uint8)
    images[:3] = 30  # three dark, flat images
    np.save(tmp_path / "images.npy", images)
    frame = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(6)], "label": [0, 1] * 3,
            "prob_a": [0.8, 0.3, 0.6, 0.2, 0.9, 0.4], "prob_b": [0.2, 0.7, 0.4, 0.8, 0.1, 0.6],
            "image": [f"images.npy#{i}" for i in range(6)],
        }
    )  # fmt: skip
    frame.to_csv(tmp_path / "preds.csv", index=False)
    args = ["import", "table", str(tmp_path / "preds.csv"), "--image-column", "image",
            "--class-names", "a,b"]  # fmt: skip
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    audit = load_audit(tmp_path / "store")
    assert set(APPEARANCE_COLUMNS) <= set(audit.metadata.columns)
    assert audit.metadata["image brightness"].tolist()[:3] == [30.0, 30.0, 30.0]
    assert audit.metadata_roles["image noise"].role == "acquisition"
    plain = runner.invoke(app, [*args, "--no-appearance", "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    assert load_audit(tmp_path / "plain").metadata is None
    frame.loc[4, "image"] = "missing.png"
    frame.to_csv(tmp_path / "preds.csv", index=False)
    broken = runner.invoke(app, [*args, "--out", str(tmp_path / "broken")])
    assert broken.exit_code != 0 and "'missing.png' (row 4)" in broken.output
    assert "--no-appearance" in broken.output
