from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSetError
from silentscope.audit.store import (
    MANIFEST,
    list_artifacts,
    load_audit,
    read_artifact,
    save_audit,
    write_artifact,
)
from tests.support.audits import make_audit


def assert_same(a, b):
    np.testing.assert_array_equal(a.sample_id, b.sample_id)
    np.testing.assert_array_equal(a.test_set, b.test_set)
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_allclose(a.logits, b.logits, rtol=1e-6)
    np.testing.assert_allclose(a.mc_logits, b.mc_logits, rtol=1e-6)
    np.testing.assert_allclose(a.features, b.features)
    np.testing.assert_allclose(a.train_features, b.train_features)
    np.testing.assert_array_equal(a.train_labels, b.train_labels)
    assert a.confidences.keys() == b.confidences.keys()
    pd.testing.assert_frame_equal(a.metadata, b.metadata)
    np.testing.assert_array_equal(a.text, b.text)
    np.testing.assert_array_equal(a.image_ref, b.image_ref)
    np.testing.assert_array_equal(a.shift_params, b.shift_params)
    assert a.class_names == b.class_names and a.provenance == b.provenance


def test_round_trip_keeps_everything(tmp_path, audit):
    store = save_audit(audit, tmp_path / "store")
    loaded = load_audit(store)
    assert_same(audit, loaded)
    assert isinstance(loaded.logits, np.memmap)
    assert loaded.metadata["sex"].dtype == "category"  # dtypes survive Parquet
    assert np.isnan(loaded.metadata["bmi"]).sum() == np.isnan(audit.metadata["bmi"]).sum()
    assert_same(audit, load_audit(store, mmap=False, verify=True))


def test_refuses_to_overwrite_without_flag(tmp_path, audit):
    save_audit(audit, tmp_path / "store")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_audit(audit, tmp_path / "store")
    (tmp_path / "other").mkdir()
    with pytest.raises(FileExistsError, match="not an audit store"):
        save_audit(audit, tmp_path / "other", overwrite=True)


def test_overwrite_replaces_and_drops_stale_artifacts(tmp_path, audit):
    store = save_audit(audit, tmp_path / "store")
    write_artifact(store, "slices", pd.DataFrame({"slice": [1, 2]}))
    smaller = audit.select("iid")
    save_audit(smaller, store, overwrite=True)
    assert load_audit(store).n_samples == smaller.n_samples
    assert list_artifacts(store) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_artifacts_round_trip(tmp_path, audit):
    store = save_audit(audit, tmp_path / "store")
    write_artifact(store, "table", pd.DataFrame({"a": [1.5]}))
    write_artifact(store, "embedding", np.ones((3, 2)))
    write_artifact(store, "summary", {"n": np.int64(3)})
    assert list_artifacts(store) == ["embedding", "summary", "table"]
    assert read_artifact(store, "summary") == {"n": 3}
    assert read_artifact(store, "embedding").shape == (3, 2)
    with pytest.raises(FileNotFoundError, match="available: embedding, summary, table"):
        read_artifact(store, "nope")
    with pytest.raises(ValueError, match="may only hold"):
        write_artifact(store, "../escape", {"x": 1})


def test_truncated_array_is_detected(tmp_path, audit):
    store = save_audit(audit, tmp_path / "store")
    path = store / "features.npy"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(
        AuditSetError, match="features.npy has .* bytes but the manifest records .* truncated"
    ):
        load_audit(store)


def test_corrupt_samples_table_is_detected(tmp_path, audit):
    store = save_audit(audit, tmp_path / "store")
    path = store / "samples.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    path.write_bytes(bytes(data))
    with pytest.raises(AuditSetError, match="does not match its checksum"):
        load_audit(store)


def test_changed_array_detected_with_verify(tmp_path, audit):
    store = save_audit(audit, tmp_path / "store")
    path = store / "logits.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    load_audit(store, verify=False)  # sizes agree: only the hash can see it
    with pytest.raises(AuditSetError, match="logits.npy does not match its checksum"):
        load_audit(store)  # verified by default


def test_future_schema_and_missing_files(tmp_path, audit):
    store = save_audit(audit, tmp_path / "store")
    manifest = json.loads((store / MANIFEST).read_text())
    manifest["schema_version"] = 99
    (store / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(AuditSetError, match="schema version 99, newer .* upgrade silentscope"):
        load_audit(store)
    with pytest.raises(FileNotFoundError, match="no audit store"):
        load_audit(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not an audit store"):
        load_audit(tmp_path / "empty")


def test_store_edited_into_invalid_contract_fails_on_load(tmp_path, audit):
    store = save_audit(audit, tmp_path / "store")
    np.save(store / "logits.npy", np.full(audit.logits.shape, np.nan, dtype=np.float32))
    manifest = json.loads((store / MANIFEST).read_text())
    manifest["files"]["logits.npy"]["bytes"] = (store / "logits.npy").stat().st_size
    (store / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(AuditSetError, match="logits contains NaN at rows 0, 1"):
        load_audit(store, verify=False)  # the contract holds even where hashes are skipped


def _slow_save(path: str) -> None:
    audit = make_audit(n=200_000, seed=1)
    save_audit(audit, path, overwrite=True)


def test_killed_write_leaves_old_store_intact(tmp_path):
    original = make_audit(n=50)
    store = save_audit(original, tmp_path / "store")
    process = multiprocessing.get_context("fork").Process(target=_slow_save, args=(str(store),))
    process.start()
    time.sleep(0.8)  # inside the (long) write of the new store
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    loaded = load_audit(store)
    assert loaded.n_samples in (50, 200_000)  # the old store, or the complete new one: never a mix
    if loaded.n_samples == 50:
        assert_same(original, loaded)
