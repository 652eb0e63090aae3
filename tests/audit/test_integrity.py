"""A store cannot be silently altered: each corruption measured in issue 15 fails on load."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from silentscope.audit import AuditSetError, integrity
from silentscope.audit.integrity import UnverifiedStoreWarning, rehash_store
from silentscope.audit.manifest import MANIFEST, contract_digest
from silentscope.audit.store import load_audit, read_manifest, save_audit


@pytest.fixture
def store(tmp_path, audit):
    return save_audit(audit, tmp_path / "store")


def edit_manifest(store, change, *, consistent=False):
    """Apply ``change`` to the manifest; ``consistent``: also re-record its own hash, as a
    careful editor (or an old store without the hash) would, so only the data checks remain."""
    manifest = json.loads((store / MANIFEST).read_text())
    change(manifest)
    if consistent and isinstance(manifest, dict):
        manifest["contract_sha256"] = contract_digest(manifest)
    (store / MANIFEST).write_text(json.dumps(manifest))


def make_legacy(store, *, hashes="lazy"):
    """The manifest as silentscope wrote it before verify-on-load (no contract hash)."""

    def change(manifest):
        del manifest["contract_sha256"]
        for name, entry in manifest["files"].items():
            digest = entry.pop("sha256")
            if hashes == "lazy" and name != "samples.parquet":
                entry["sha256_lazy"] = digest
            elif hashes == "lazy":
                entry["sha256"] = digest

    edit_manifest(store, change)


# ------------------------------------------------------------------ same-size content edits
def test_swapped_logit_columns_fail_and_load_without_verify(store):
    logits = np.load(store / "logits.npy")
    np.save(store / "logits.npy", logits[:, ::-1].copy())  # same size, other predictions
    with pytest.raises(AuditSetError, match="logits.npy does not match its checksum"):
        load_audit(store)
    skipped = load_audit(store, verify=False)  # a trusted store: hashes are skipped
    np.testing.assert_array_equal(skipped.logits, logits[:, ::-1])


def test_flipped_bytes_fail(store):
    path = store / "logits.npy"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # one bit of one float
    path.write_bytes(bytes(data))
    with pytest.raises(AuditSetError, match="logits.npy does not match its checksum"):
        load_audit(store)


def test_edited_features_fail(store):
    features = np.load(store / "features.npy")
    features[0, 0] += 1.0
    np.save(store / "features.npy", features)
    with pytest.raises(AuditSetError, match="features.npy does not match its checksum"):
        load_audit(store)


# ------------------------------------------------------------------ paths
def test_symlink_leaving_the_store_is_refused(store, tmp_path):
    outside = tmp_path / "elsewhere.npy"
    shutil.copy(store / "logits.npy", outside)
    (store / "logits.npy").unlink()
    os.symlink(outside, store / "logits.npy")
    with pytest.raises(AuditSetError, match="symbolic link to .*elsewhere.npy, outside the store"):
        load_audit(store)
    from silentscope.viewer.data import load_viewer_data  # the viewer reads the arrays itself

    with pytest.raises(AuditSetError, match="outside the store"):
        load_viewer_data(store)


def test_symlink_inside_the_store_is_allowed(store):
    os.replace(store / "logits.npy", store / "logits.real")
    os.symlink("logits.real", store / "logits.npy")
    assert load_audit(store).n_samples > 0


@pytest.mark.parametrize("entry", ["absolute", "../outside_logits.npy", "sub/logits.npy"])
def test_file_entries_are_plain_names(store, tmp_path, entry):
    outside = tmp_path / "outside_logits.npy"
    shutil.copy(store / "logits.npy", outside)
    name = str(outside) if entry == "absolute" else entry

    def point_outside(manifest):
        manifest["arrays"]["logits"]["file"] = name
        manifest["files"][name] = manifest["files"].pop("logits.npy")

    edit_manifest(store, point_outside, consistent=True)
    with pytest.raises(AuditSetError, match="field 'files' .* plain names inside its folder"):
        load_audit(store)


def test_array_entry_must_be_listed_in_files(store):
    edit_manifest(store, lambda m: m["files"].pop("features.npy"), consistent=True)
    with pytest.raises(AuditSetError, match="'arrays.features.file' .* which 'files' does not"):
        load_audit(store, verify=False)


# ------------------------------------------------------------------ contract fields
def test_reordered_class_names_fail(store):
    edit_manifest(store, lambda m: m["class_names"].reverse())
    with pytest.raises(AuditSetError, match="do not match its 'contract_sha256'"):
        load_audit(store, verify=False)  # the manifest's hash is always checked


def test_wrong_n_samples_fails(store):
    edit_manifest(store, lambda m: m.__setitem__("n_samples", m["n_samples"] + 7))
    with pytest.raises(AuditSetError, match="contract_sha256"):
        load_audit(store)
    # without the manifest's hash (an old store), the data's own row count catches it
    edit_manifest(store, lambda m: None, consistent=True)
    with pytest.raises(
        AuditSetError, match="samples.parquet has 300 samples but field 'n_samples'"
    ):
        load_audit(store)


def test_class_count_and_dtype_checked_against_arrays(store):
    edit_manifest(store, lambda m: m["class_names"].append("extra"), consistent=True)
    with pytest.raises(AuditSetError, match="3 class columns but field 'class_names' .* names 4"):
        load_audit(store)
    edit_manifest(store, lambda m: m["class_names"].pop(), consistent=True)
    edit_manifest(store, lambda m: m["arrays"]["logits"].update(dtype="float64"), consistent=True)
    with pytest.raises(
        AuditSetError, match="logits.npy holds float32 but the manifest says float64"
    ):
        load_audit(store)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (0, "field 'schema_version' .* is 0, below the first store schema version"),
        ("1", r"field 'schema_version' .* is '1' \(a string\), not an integer"),
        (True, r"field 'schema_version' .* is True \(a bool\), not an integer"),
        (99, "schema version 99, newer than this silentscope .* upgrade silentscope"),
    ],
)
def test_schema_version_is_an_integer_in_range(store, version, message):
    edit_manifest(store, lambda m: m.__setitem__("schema_version", version))
    with pytest.raises(AuditSetError, match=message):
        load_audit(store)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("files"), "field 'files' .* is missing, not an object of file entries"),
        (lambda m: m["arrays"].pop("logits"), "field 'arrays' .* at least a 'logits' entry"),
        (lambda m: m.__setitem__("files", [1, 2]), "field 'files' .* is a list, not an object"),
        (lambda m: m["files"].__setitem__("logits.npy", [1]), "'files.logits.npy' .* is \\[1\\]"),
    ],
)
def test_manifest_edits_that_were_tracebacks_are_one_sentence(store, change, message):
    edit_manifest(store, change)
    for read in (load_audit, read_manifest):  # the viewer reads the manifest alone
        with pytest.raises(AuditSetError, match=message):
            read(store)


def test_manifest_that_is_a_list_is_one_sentence(store):
    (store / MANIFEST).write_text("[1, 2]")
    with pytest.raises(AuditSetError, match="holds a JSON list, not an object"):
        load_audit(store)


# ------------------------------------------------------------------ stores written before
def test_old_store_opens_once_warned_and_its_lazy_hashes_are_checked(store):
    make_legacy(store)
    with pytest.warns(UnverifiedStoreWarning, match="manifest's own hash.*store rehash") as caught:
        load_audit(store)
    assert len(caught) == 1
    path = store / "logits.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(UnverifiedStoreWarning), pytest.raises(AuditSetError, match="checksum"):
        load_audit(store)


def test_rehash_records_missing_hashes_and_refuses_changed_files(store):
    make_legacy(store, hashes="none")
    with pytest.warns(UnverifiedStoreWarning, match="content of samples.parquet, logits.npy"):
        load_audit(store)
    added = rehash_store(store)
    assert "logits.npy" in added and added[-1] == "contract_sha256"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedStoreWarning)
        load_audit(store)  # no warning left
    assert rehash_store(store) == []
    np.save(store / "logits.npy", -np.load(store / "logits.npy"))  # same size
    with pytest.raises(AuditSetError, match="logits.npy does not match its checksum"):
        rehash_store(store)  # it never blesses a changed file


# ------------------------------------------------------------------ the cache of large stores
def test_large_store_is_hashed_once_and_rehashed_after_a_change(store, tmp_path, monkeypatch):
    monkeypatch.setattr(integrity, "CACHE_MIN_BYTES", 0)  # every store counts as large
    monkeypatch.setenv("SILENTSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    hashed = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda p: hashed.append(p.name) or real(p))
    load_audit(store)
    assert "logits.npy" in hashed and (tmp_path / "cache" / "verified-files.json").is_file()
    hashed.clear()
    load_audit(store)
    assert hashed == []  # cached by file identity
    path = store / "logits.npy"
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size, same mtime
    with pytest.raises(AuditSetError, match="logits.npy does not match its checksum"):
        load_audit(store)
    assert hashed == ["logits.npy"]


def test_small_store_is_hashed_every_time(store, tmp_path, monkeypatch):
    monkeypatch.setenv("SILENTSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    load_audit(store)
    assert not (tmp_path / "cache").exists()  # below CACHE_MIN_BYTES: no cache written


# ------------------------------------------------------------------ the command line
def test_commands_verify_by_default_and_share_no_verify(store):
    from typer.testing import CliRunner

    from silentscope.cli import build_app

    app = build_app(["store", "csfs"])
    runner = CliRunner()
    logits = np.load(store / "logits.npy")
    np.save(store / "logits.npy", logits[:, ::-1].copy())
    for command in (["info"], ["csfs"]):
        failed = runner.invoke(app, [*command, str(store)], env={"COLUMNS": "200"})
        assert failed.exit_code == 2 and "logits.npy does not match its checksum" in failed.output
        trusted = runner.invoke(app, [*command, str(store), "--no-verify"])
        assert trusted.exit_code == 0, trusted.output
    checked = runner.invoke(app, ["store", "verify", str(store)], env={"COLUMNS": "200"})
    assert checked.exit_code == 2 and "does not match its checksum" in checked.output


def test_store_rehash_command_silences_the_old_store_warning(store):
    from typer.testing import CliRunner

    from silentscope.cli import build_app

    make_legacy(store)
    app = build_app(["store"])
    runner = CliRunner()
    warned = runner.invoke(app, ["info", str(store)], env={"COLUMNS": "300"})
    assert warned.exit_code == 0 and "silentscope store rehash" in warned.output
    rehashed = runner.invoke(app, ["store", "rehash", str(store)])
    assert rehashed.exit_code == 0 and "contract_sha256" in rehashed.output
    quiet = runner.invoke(app, ["info", str(store)], env={"COLUMNS": "300"})
    assert quiet.exit_code == 0 and "silentscope store rehash" not in quiet.output
    assert runner.invoke(app, ["store", "verify", str(store)]).exit_code == 0


def test_results_record_how_their_store_was_checked(store):
    from silentscope.evaluation import evaluate

    def settings(audit):
        return evaluate(audit, csfs=["MSR"], metrics=["aurc"], n_bootstrap=0).settings

    checked = settings(load_audit(store))["store_check"]
    assert checked == {"hashes_verified": True, "unrecorded": []}
    trusted = settings(load_audit(store, verify=False))["store_check"]
    assert trusted == {"hashes_verified": False, "unrecorded": []}
    make_legacy(store)
    with pytest.warns(UnverifiedStoreWarning):
        old = load_audit(store)
    expected = {"hashes_verified": True, "unrecorded": ["contract_sha256"]}
    assert settings(old.select("val", "iid"))["store_check"] == expected  # kept by subsets
