"""Modality blocks, metadata encoding and fusion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.slices import build_representation, encode_metadata, fuse_blocks


def test_metadata_encoding_standardises_one_hots_and_flags_missing():
    frame = pd.DataFrame(
        {
            "age": [20.0, np.nan, 60.0, 40.0],
            "sex": ["F", "M", None, "F"],
            "flag": [True, False, True, True],
            "const": [1, 1, 1, 1],
            "patient_id": ["a", "b", "c", "d"],
            "gt_slice_x": [True, False, False, False],
        }
    )
    matrix, names, notes = encode_metadata(frame)
    assert names == [
        "age",
        "age=missing",
        "sex=F",
        "sex=M",
        "sex=missing",
        "flag=False",
        "flag=True",
    ]
    np.testing.assert_allclose(matrix[:, 0], [-1.224745, 0.0, 1.224745, 0.0], atol=1e-6)
    assert matrix[:, 1].tolist() == [0, 1, 0, 0]
    assert any("'const' is constant" in note for note in notes)
    assert any("missing values encoded" in note for note in notes)


def test_rare_categories_are_pooled_with_a_note():
    frame = pd.DataFrame({"site": [f"s{i % 30}" for i in range(300)]})
    matrix, names, notes = encode_metadata(frame, max_categories=5)
    assert len(names) == 5 and "site=other" in names
    assert "pooled" in notes[0]


def test_unknown_column_is_named():
    with pytest.raises(ValueError, match="no column"):
        encode_metadata(pd.DataFrame({"age": [1, 2]}), columns=["sex"])


def test_weighted_fusion_balances_dimensions_and_variance():
    rng = np.random.default_rng(0)
    blocks = {"image": rng.normal(size=(300, 200)) * 50, "metadata": rng.normal(size=(300, 3))}
    rep = fuse_blocks(blocks, n_components=16, weights={"metadata": 2.0})
    image, meta = rep.blocks["image"], rep.blocks["metadata"]
    assert rep.matrix[:, image].shape[1] == 16 and rep.matrix[:, meta].shape[1] == 3
    np.testing.assert_allclose(rep.matrix[:, image].var(axis=0).sum(), 1.0)
    np.testing.assert_allclose(rep.matrix[:, meta].var(axis=0).sum(), 2.0)
    # likelihood weight per block: w_m / sum(w) * mean dimension, whatever the block's size
    np.testing.assert_allclose(rep.dim_weights[image].sum(), 9.5 / 3)
    np.testing.assert_allclose(rep.dim_weights[meta].sum(), 2 * 9.5 / 3)


def test_concat_fusion_is_plain_pca():
    rng = np.random.default_rng(0)
    rep = fuse_blocks(
        {"a": rng.normal(size=(100, 30)), "b": rng.normal(size=(100, 5))}, "concat", n_components=4
    )
    assert (
        rep.matrix.shape == (100, 8)
        and (rep.dim_weights == 1).all()
        and list(rep.blocks) == ["joint"]
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fusion": "sum"}, "fusion"),
        ({"weights": {"text": 1.0}}, "not used"),
        ({"weights": {"a": -1.0}}, "positive"),
    ],
)
def test_fusion_settings_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fuse_blocks({"a": np.random.default_rng(0).normal(size=(20, 3))}, **kwargs)


def test_representation_of_real_odir_audit(odir_planted):
    audit, _ = odir_planted
    rep = build_representation(audit, ("image", "text", "metadata"), n_components=8)
    assert sorted(rep.blocks) == ["image", "metadata", "text"]
    assert rep.matrix.shape[0] == audit.n_samples and np.isfinite(rep.matrix).all()
    assert not any("gt_slice" in note for note in rep.notes)  # ground truth never enters
    with pytest.raises(ValueError, match="unknown modality"):
        build_representation(audit, ("audio",))
    with pytest.raises(ValueError, match="embedding must have shape"):
        build_representation(audit, ("image",), embeddings={"image": np.zeros((3, 2))})
