"""Slice explanations: metadata enrichment, negation-aware report terms, examples."""

from __future__ import annotations

import numpy as np
import pandas as pd

from silentscope.slices import distinguishing_terms, metadata_enrichment, slice_examples
from silentscope.text import term_matrix


def test_metadata_enrichment_reads_like_a_sentence():
    slice_ages = [80] * 32 + [90] * 32 + [40] * 36
    rest_ages = [80] * 50 + [90] * 50 + [40] * 200 + [50] * 200 + [60] * 200 + [70] * 100
    frame = pd.DataFrame(
        {"age": slice_ages + rest_ages, "sex": ["Female", "Male"] * 450, "gt_slice_a": [True] * 900}
    )
    mask = np.arange(900) < 100
    found = metadata_enrichment(frame, mask)
    assert [e.description for e in found] == ["age > 70: 64% of slice vs 18% overall"]
    assert found[0].column == "age" and found[0].z > 3  # sex is balanced: not reported; gt_ never


def test_categorical_enrichment_and_empty_slice():
    frame = pd.DataFrame(
        {"sex": ["Female"] * 90 + ["Male"] * 10 + ["Female"] * 200 + ["Male"] * 700}
    )
    mask = np.arange(1000) < 100
    assert (
        metadata_enrichment(frame, mask)[0].description
        == "sex = Female: 90% of slice vs 29% overall"
    )
    assert metadata_enrichment(frame, np.zeros(1000, bool)) == []


def test_terms_of_a_cardiomegaly_slice_are_affirmed_findings(iu_xray_dir):
    reports = pd.read_csv(iu_xray_dir / "indiana_reports.csv")
    text = (reports["findings"].fillna("") + " " + reports["impression"].fillna("")).to_numpy()
    mask = reports["MeSH"].fillna("").str.contains("Cardiomegaly").to_numpy()
    counts, vocab = term_matrix(text)
    terms = distinguishing_terms(counts, vocab, mask, n_terms=8)
    names = [t.term for t in terms]
    assert "cardiomegaly" in names[:3]
    assert not any(name.startswith("no ") and "cardiomegaly" in name for name in names)
    top = terms[names.index("cardiomegaly")]
    assert top.share_slice > 0.5 and top.share_rest < 0.05 and top.z > 10


def test_examples_are_members_ranked_by_score_and_confidence():
    scores = np.array([0.2, 0.9, 0.5, 0.99, 0.7])
    errors = np.array([True, True, False, True, True])
    confidence = np.array([0.99, 0.6, 0.9, 0.8, 0.95])
    mask = np.array([True, True, True, False, True])
    representative, wrong = slice_examples(scores, errors, confidence, mask, n=3)
    assert representative.tolist() == [1, 4, 2]
    assert wrong.tolist() == [0, 4, 1]


def test_slice_terms_are_phrases_a_clinician_reads_correctly_and_the_viewer_agrees():
    import pyarrow as pa

    from silentscope.text import term_matrix
    from silentscope.text.distinguishing import terms_from_counts
    from silentscope.text.terms import TERM_NGRAMS
    from silentscope.viewer.queries import TermIndex

    texts = np.array(
        ["moderate non proliferative retinopathy"] * 30
        + ["proliferative retinopathy"] * 2
        + ["vitreous degeneration"] * 20
        + ["dry age-related macular degeneration"] * 20
        + ["normal fundus"] * 60
    )
    mask = np.zeros(len(texts), bool)
    mask[:31] = True  # the non-proliferative cases and one proliferative one
    mask[32:52] = True  # and the vitreous degenerations
    counts, vocab = term_matrix(texts, ngram_range=TERM_NGRAMS)
    terms = [t.term for t in distinguishing_terms(counts, vocab, mask)]
    assert "moderate non proliferative retinopathy" in terms
    assert "vitreous degeneration" in terms
    # neither a word that belongs to several phrases nor "proliferative" for non-proliferative
    assert not {"proliferative", "degeneration", "non", "vitreous"} & set(terms)
    # the viewer's selection panel ranks the same terms with the same function
    index = TermIndex(pa.chunked_array([pa.array(texts)]))
    viewer = terms_from_counts(
        index.document_counts(mask), index.document_counts(~mask), index.vocabulary,
        int(mask.sum()), int((~mask).sum()), skip=index.phrase_only,
    )  # fmt: skip
    assert [t.term for t in viewer] == terms


def test_a_float_column_with_few_values_is_named_by_short_numbers():
    import pandas as pd

    from silentscope.slices.explain import metadata_conditions

    values = pd.Series([0.0, 0.007653061224489796, 0.0, 1.0, np.nan])
    labels = [label for label, _ in metadata_conditions(values, "image bright share")]
    assert "image bright share = 0.007653" in labels and "image bright share = 1" in labels
    assert not any("0.0076530612" in label for label in labels)


def test_missing_values_of_a_nullable_float_column_are_named_missing():
    import pandas as pd

    from silentscope.slices.explain import metadata_conditions

    values = pd.Series([0.25, pd.NA, 0.5], dtype="Float64")
    labels = [label for label, _ in metadata_conditions(values, "x")]
    assert {"x = 0.25", "x = 0.5", "x = missing"} <= set(labels)


def test_float_levels_are_named_once_each_and_missing_values_as_missing():
    from silentscope.slices.explain import metadata_conditions

    values = pd.Series([0.5, pd.NA, 0.007653061224489796, 0.5, np.inf], dtype="Float64")
    named = dict(metadata_conditions(values, "dose"))
    assert set(named) >= {"dose = 0.5", "dose = 0.007653", "dose = missing"}
    assert named["dose = missing"].tolist() == [False, True, False, False, True]
    assert named["dose = 0.5"].tolist() == [True, False, False, True, False]
