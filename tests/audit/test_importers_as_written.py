"""Issue 13, cases 7 and 9: importers keep the data as written, and say clearly what is wrong.

Each test writes a tiny file and fails on the old behaviour (classes matched by column
position, ids parsed as numbers, duplicate headers renamed, negative dataset indices wrapped,
unreadable files reported without their name or with an unsafe-loading hint).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from silentscope.audit import AuditSetError
from silentscope.audit.importers import from_arrays, from_fdshifts, from_table
from silentscope.audit.store import load_audit
from silentscope.cli import app


def write(path, text: str):
    path.write_text(text)
    return path


# ------------------------------------------------------------------ classes by name
def test_reordered_columns_with_integer_labels_keep_accuracy(tmp_path):
    path = write(tmp_path / "p.csv", "prob_1,prob_0,label\n0.9,0.1,1\n0.2,0.8,0\n")
    audit = from_table(path)
    assert audit.correct.tolist() == [True, True]
    assert audit.class_names == ("0", "1")
    np.testing.assert_allclose(audit.probabilities[:, 1], [0.9, 0.2])
    assert audit.provenance["class_columns"] == {"0": "prob_0", "1": "prob_1"}


def test_binary_file_with_reordered_columns(tmp_path):
    rng = np.random.default_rng(0)
    p1 = rng.random(200)
    label = (p1 > 0.5).astype(int)
    label[:7] = 1 - label[:7]
    pd.DataFrame({"prob_1": p1, "prob_0": 1 - p1, "label": label}).to_csv(
        tmp_path / "b.csv", index=False
    )
    assert from_table(tmp_path / "b.csv").correct.mean() == pytest.approx(193 / 200)


def test_named_columns_are_matched_to_class_names_not_positions(tmp_path):
    table = pd.DataFrame(
        {"prob_b": [0.8, 0.3], "prob_a": [0.2, 0.7], "label": [0, 1], "sample_id": ["x", "y"]}
    )
    with pytest.raises(AuditSetError, match=r"holds class numbers \(0, 1\).*a\), b|class numbers"):
        from_table(table)
    # the order of the given names fixes what 0 and 1 mean, whatever the column order
    audit = from_table(table, class_names=["a", "b"])
    assert audit.class_names == ("a", "b")
    np.testing.assert_allclose(audit.probabilities[:, 0], [0.2, 0.7])
    assert audit.correct.tolist() == [False, False]
    assert from_table(table.assign(label=["b", "a"])).correct.tolist() == [True, True]


def test_single_probability_column_needs_a_known_positive_class():
    table = pd.DataFrame({"prob_malignant": [0.9, 0.2], "label": ["malignant", "benign"]})
    with pytest.raises(AuditSetError, match="other class is unknown"):
        from_table(table)
    audit = from_table(table, class_names=["benign", "malignant"])
    assert audit.correct.tolist() == [True, True]


# ------------------------------------------------------------------ values as written
@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_ids_are_read_exactly_as_written(tmp_path, suffix):
    table = pd.DataFrame(
        {
            "sample_id": ["000", "001", "1e0"],
            "prob_a": [0.9, 0.2, 0.6],
            "prob_b": [0.1, 0.8, 0.4],
            "label": ["a", "b", "a"],
            "code": ["007", "012", "100"],
            "age": ["40", "", "71"],
        }
    )
    path = tmp_path / f"ids.{suffix}"
    if suffix == "csv":
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path)
    audit = from_table(path)
    assert audit.sample_id.tolist() == ["000", "001", "1e0"]
    assert audit.metadata["code"].tolist() == ["007", "012", "100"]
    age = audit.metadata["age"]
    assert age.dtype == np.float64 and age.isna().tolist() == [False, True, False]


def test_duplicate_headers_are_refused(tmp_path):
    path = write(tmp_path / "dup.csv", "prob_a,prob_a,prob_b,label\n0.5,0.4,0.1,a\n")
    with pytest.raises(AuditSetError, match=r"dup.csv has the column 'prob_a' more than once"):
        from_table(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"e.csv is empty \(0 bytes\)"),
        ("prob_a,prob_b,label\n", "e.csv has a header but no rows"),
        (
            "prob_a,prob_b,label\n0.9,0.1,a\n0.2,0.8",
            "e.csv line 3 has 2 fields but the header has 3.*truncated",
        ),
        ("prob_a,prob_b,label\n0.9,0.1,a\nabc,0.8,b\n", "'prob_a' of .*e.csv holds 'abc' at row 1"),
        ("prob_a,prob_b,label\n0.9,0.1,a\n,0.8,b\n", "'prob_a' of .*e.csv is empty at rows 1"),
    ],
)
def test_bad_table_files_name_the_file_and_place(tmp_path, text, message):
    with pytest.raises(AuditSetError, match=message):
        from_table(write(tmp_path / "e.csv", text))


def test_truncated_parquet_names_the_file(tmp_path):
    pd.DataFrame({"prob_a": [0.9], "prob_b": [0.1], "label": ["a"]}).to_parquet(tmp_path / "t.pq")
    data = (tmp_path / "t.pq").read_bytes()
    (tmp_path / "t.pq").write_bytes(data[: len(data) // 2])
    with pytest.raises(AuditSetError, match=r"cannot read .*t.pq as Parquet.*truncated"):
        from_table(tmp_path / "t.pq")


# ------------------------------------------------------------------ arrays
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"logits file .*bad.npy is empty \(0 bytes\)"),
        (np.random.default_rng(0).bytes(200), r"bad.npy is not a NumPy .npy file"),
    ],
    ids=["empty", "random-bytes"],
)
def test_unreadable_npy_names_the_file_and_never_suggests_pickle(tmp_path, content, message):
    (tmp_path / "bad.npy").write_bytes(content)
    np.save(tmp_path / "labels.npy", np.array([0, 1]))
    with pytest.raises(AuditSetError, match=message) as error:
        from_arrays(tmp_path / "bad.npy", tmp_path / "labels.npy")
    assert "allow_pickle" not in str(error.value)


def test_object_npy_is_refused_without_unsafe_hint(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(tmp_path / "logits.npy", np.zeros((2, 2)))
    with pytest.raises(
        AuditSetError, match="holds Python objects; silentscope never loads"
    ) as error:
        from_arrays(tmp_path / "logits.npy", tmp_path / "obj.npy")
    assert "allow_pickle" not in str(error.value)


def test_truncated_npy_names_the_file(tmp_path):
    np.save(tmp_path / "logits.npy", np.zeros((50, 2)))
    data = (tmp_path / "logits.npy").read_bytes()
    (tmp_path / "logits.npy").write_bytes(data[:200])
    np.save(tmp_path / "labels.npy", np.zeros(50, dtype=int))
    with pytest.raises(AuditSetError, match="logits file .*logits.npy.*truncated"):
        from_arrays(tmp_path / "logits.npy", tmp_path / "labels.npy")


# ------------------------------------------------------------------ FD-Shifts
def _fd_run(root, dataset_idx, truncate=False):
    results = root / "test_results"
    results.mkdir(parents=True)
    n = len(dataset_idx)
    logits = np.random.default_rng(0).normal(size=(n, 2))
    raw = np.column_stack([logits, np.arange(n) % 2, dataset_idx])
    np.savez_compressed(results / "raw_logits.npz", raw)
    if truncate:
        data = (results / "raw_logits.npz").read_bytes()
        (results / "raw_logits.npz").write_bytes(data[: len(data) // 2])
    return root


def test_fdshifts_negative_dataset_idx_is_refused(tmp_path):
    run = _fd_run(tmp_path / "run", [0, 0, 1, 1, -1, -1])
    with pytest.raises(
        AuditSetError, match=r"raw_logits.npz has negative dataset_idx .* rows 4, 5"
    ):
        from_fdshifts(run, test_set_names=["iid", "acq/b"])


def test_fdshifts_out_of_range_dataset_idx_names_the_rows(tmp_path):
    run = _fd_run(tmp_path / "run", [0, 0, 1, 2])
    with pytest.raises(AuditSetError, match=r"raw_logits.npz: dataset_idx goes up to 2 \(rows 3\)"):
        from_fdshifts(run, test_set_names=["iid", "acq/b"])


def test_fdshifts_truncated_npz_names_the_file(tmp_path):
    run = _fd_run(tmp_path / "run", [0, 0, 0, 0], truncate=True)
    with pytest.raises(
        AuditSetError, match=r"cannot read the FD-Shifts raw_logits file .*truncated"
    ):
        from_fdshifts(run)


def test_cli_import_errors_are_one_line(tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    np.save(tmp_path / "labels.npy", np.array([0, 1]))
    result = CliRunner().invoke(
        app,
        [
            "import",
            "arrays",
            "--logits",
            str(tmp_path / "empty.npy"),
            "--labels",
            str(tmp_path / "labels.npy"),
            "--out",
            str(tmp_path / "store"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "empty.npy is empty (0 bytes)" in result.output and "Aborted" not in result.output
    write(tmp_path / "p.csv", "prob_1,prob_0,label\n0.9,0.1,1\n0.2,0.8,0\n")
    result = CliRunner().invoke(
        app, ["import", "table", str(tmp_path / "p.csv"), "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 0, result.output
    assert load_audit(tmp_path / "s").correct.all()


def test_info_lists_class_names_that_hold_a_comma_unambiguously(tmp_path):
    # Issue 13, case 9: "2 classes: malignant, normal, benign" (BreastMNIST's second class is
    # "normal, benign"): the count disagreed with the list as printed.
    table = pd.DataFrame(
        {"prob_malignant": [0.9, 0.2], "prob_normal, benign": [0.1, 0.8], "label": [0, 1]}
    )
    audit = from_table(table, class_names=["malignant", "normal, benign"])
    from silentscope.audit.store import save_audit

    save_audit(audit, tmp_path / "store")
    result = CliRunner().invoke(app, ["info", str(tmp_path / "store")], terminal_width=200)
    assert result.exit_code == 0, result.output
    # the console wraps at its width (80 columns without a terminal), so compare words
    assert "2 classes: 'malignant', 'normal, benign'" in " ".join(result.output.split())


def test_random_bytes_npz_is_not_called_pickled(tmp_path):
    results = tmp_path / "run" / "test_results"
    results.mkdir(parents=True)
    (results / "raw_logits.npz").write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(AuditSetError, match="raw_logits.npz is not an .npz archive") as error:
        from_fdshifts(tmp_path / "run")
    assert "pickle" not in str(error.value)


def test_parquet_predictions_read_as_numbers_keep_every_value(tmp_path):
    """Prediction and confidence columns of a Parquet file are not turned into text (a
    million rows of logits would cost hundreds of MB of strings): float32 values widen
    exactly, every other column is still read as written, and a missing value is refused."""
    rng = np.random.default_rng(0)
    n = 50
    logits = rng.normal(size=(n, 2)).astype(np.float32)
    table = pd.DataFrame(
        {
            "logit_a": logits[:, 0],
            "logit_b": logits[:, 1],
            "conf_ext": rng.random(n).astype(np.float32),
            "label": rng.choice(["a", "b"], n),
            "weight": rng.random(n).astype(np.float32),  # metadata: parsed as before
            "empty": np.full(n, np.nan),
        }
    )
    table.to_parquet(tmp_path / "p.parquet")
    audit = from_table(tmp_path / "p.parquet")
    np.testing.assert_array_equal(audit.logits, logits.astype(np.float64))
    np.testing.assert_array_equal(
        audit.confidences["ext"], table["conf_ext"].to_numpy(dtype=np.float64)
    )
    np.testing.assert_array_equal(audit.metadata["weight"], table["weight"].astype(np.float64))
    assert (
        audit.metadata["empty"].dtype == object
    )  # an all-missing column, as the text path reads it
    table.loc[7, "logit_b"] = np.nan
    table.to_parquet(tmp_path / "nan.parquet")
    with pytest.raises(AuditSetError, match=r"'logit_b' of .*nan.parquet is empty at rows 7"):
        from_table(tmp_path / "nan.parquet")
