"""Reading a store for the viewer: lazy string columns, cache checks, column kinds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSet, AuditSetError
from silentscope.audit.store import delete_artifacts, read_artifact, save_audit, write_artifact
from silentscope.viewer.data import load_viewer_data
from silentscope.viewer.prepare import prepare_store


def _store(tmp_path, n=80):
    rng = np.random.default_rng(0)
    audit = AuditSet(
        sample_id=[f"p{i}" for i in range(n)],
        test_set=["iid"] * (n // 2) + ["acq/site_B"] * (n // 2),
        label=rng.integers(0, 3, n),
        logits=rng.normal(size=(n, 3)),
        class_names=["a", "b", "c"],
        confidences={"deepgamblers": rng.random(n)},
        metadata=pd.DataFrame(
            {
                "patient": [f"patient-{i}" for i in range(n)],  # identifier-like
                "grade": rng.integers(1, 4, n),  # few numeric values: categories
                "age": rng.normal(50, 10, n),  # continuous
                "sex": rng.choice(["F", "M", None], n),
            }
        ),
        text=["report"] * n,
    )
    return save_audit(audit, tmp_path / "store")


def test_columns_kinds_and_lazy_strings(tmp_path):
    store = _store(tmp_path)
    prepare_store(store, method="pca", csfs=["MSR", "ext:deepgamblers"])
    data = load_viewer_data(store)
    assert "sample_id" not in data.cache and "text" not in data.cache  # nothing read yet
    assert data.columns["meta:grade"].kind == "categorical" and data.columns[
        "meta:grade"
    ].categories == ["1", "2", "3"]
    assert data.columns["meta:age"].kind == "continuous"
    sex = data.columns["meta:sex"]
    assert (
        sex.categories == ["F", "M"] and (sex.values == -1).sum() == sex.describe()["missing"] > 0
    )
    assert (
        # by the store's roles (silentscope.audit.roles), as in slices and subgroups
        "patient" in data.skipped_columns and "identifier" in data.skipped_columns["patient"]
    )
    assert data.columns["shift_kind"].categories == ["iid", "acq"]
    assert set(data.confidences) == {"MSR", "ext:deepgamblers"}
    assert data.sample(3)["sample_id"] == "p3" and data.sample(3)["text"] == "report"
    assert "sample_id" in data.cache
    assert data.row_of("p7") == 7
    with pytest.raises(KeyError, match="no sample 'p999'"):
        data.row_of("p999")
    with pytest.raises(IndexError, match="not a sample of this store"):
        data.sample(80)


def test_without_cached_confidences_the_softmax_response_and_external_ones_are_shown(tmp_path):
    store = _store(tmp_path)
    prepare_store(store, method="pca")
    delete_artifacts(store, ["viewer_confidences", "viewer_confidences_info"])
    data = load_viewer_data(store)
    assert list(data.confidences) == ["MSR", "ext:deepgamblers"]
    from silentscope.audit.store import load_audit

    audit = load_audit(store)
    np.testing.assert_allclose(data.confidences["MSR"], audit.probabilities.max(axis=1), rtol=1e-6)
    np.testing.assert_allclose(
        data.confidences["ext:deepgamblers"], audit.confidences["deepgamblers"]
    )


def test_a_cache_for_other_samples_is_refused(tmp_path):
    store = _store(tmp_path)
    prepare_store(store, method="pca")
    info = read_artifact(store, "embedding_info")
    coords = read_artifact(store, "embedding")
    write_artifact(store, "embedding", coords.iloc[::-1].reset_index(drop=True))
    info.pop("samples_sha256")  # a cache without the store's fingerprint: ids are compared
    write_artifact(store, "embedding_info", info)
    with pytest.raises(
        AuditSetError, match="computed for other samples; recompute it with --recompute"
    ):
        load_viewer_data(store)
    prepare_store(store, method="pca", recompute=True)
    assert load_viewer_data(store).n_samples == 80


def test_a_store_without_embedding_says_how_to_make_one(tmp_path):
    store = _store(tmp_path)
    with pytest.raises(FileNotFoundError, match="silentscope view"):
        load_viewer_data(store)


def test_numeric_columns_are_read_from_arrow_buffers_as_pyarrow_would():
    import pyarrow as pa

    from silentscope.viewer.arrow import arrow_numbers

    rng = np.random.default_rng(3)
    values = rng.normal(size=300)
    valid = rng.random(300) > 0.2
    floats = pa.array(values, mask=~valid)
    ints = pa.array(rng.integers(-5, 5, 300).astype(np.int16), mask=~valid)
    chunked = pa.chunked_array([floats.slice(7, 100), floats.slice(150, 33)])
    for array, missing in ((floats, np.nan), (ints, -1), (chunked, np.nan), (ints[11:], -9)):
        expected = np.asarray(array.to_pylist(), dtype=object)
        expected[expected == None] = missing  # noqa: E711 (element-wise)
        np.testing.assert_array_equal(
            arrow_numbers(array, missing).astype(float), expected.astype(float)
        )
    assert arrow_numbers(pa.array([1.5, 2.5])).dtype == np.float64
    with pytest.raises(TypeError, match="integer or float"):
        arrow_numbers(pa.array(["a"]))


def test_reopening_a_prepared_store_does_not_import_pandas(tmp_path):
    # pandas costs a third of a second of the viewer's start; see viewer.arrow.
    import subprocess
    import sys

    store = _store(tmp_path)
    prepare_store(store, method="pca")
    code = (
        "import sys\n"
        "from silentscope.viewer.data import load_viewer_data\n"
        "from silentscope.viewer.prepare import prepare_store\n"
        "from silentscope.viewer.payloads import meta\n"
        "from silentscope.viewer.server import create_app\n"
        f"prepare_store({str(store)!r})\n"
        f"data = load_viewer_data({str(store)!r})\n"
        "create_app(data, warm_up_delay=60)\n"
        "meta(data)\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", "reopening a store imported pandas again"


def test_numeric_metadata_with_nulls_nan_and_few_values_are_categories(tmp_path):
    import pyarrow as pa

    from silentscope.viewer.data import _metadata_column

    few = _metadata_column("grade", pa.chunked_array([[2.0, None, float("nan"), 1.0, 2.0]]))
    assert few.kind == "categorical" and few.categories == ["1", "2"]
    assert few.values.tolist() == [1, -1, -1, 0, 1]
    many = _metadata_column("age", pa.chunked_array([np.arange(13.0), [None]]))
    assert many.kind == "continuous" and np.isnan(many.values[-1])
