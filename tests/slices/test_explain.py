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
