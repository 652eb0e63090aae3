"""Assertion-aware n-gram terms and document-term matrices."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.text import extract_terms, split_sentences, term_matrix, unique_texts


def test_ngrams_stay_within_one_assertion_and_phrase():
    terms = [
        t.label for t in extract_terms("No pleural effusion, pneumothorax. Large pleural effusion.")
    ]
    assert "no pleural effusion" in terms
    assert "large pleural effusion" not in terms  # bigrams only: (1, 2)
    assert "large pleural" in terms and "pleural effusion" in terms
    assert not any("effusion pneumothorax" in t for t in terms)  # the comma breaks the phrase
    assert not any(t.startswith("no large") for t in terms)  # the sentence ended the scope


def test_ngram_range_is_validated():
    with pytest.raises(ValueError, match="ngram_range"):
        extract_terms("No effusion", ngram_range=(2, 1))


def test_sentences_do_not_split_decimals():
    assert split_sentences("Nodule of 2.5 cm. Stable") == ["Nodule of 2.5 cm", "Stable"]


def test_term_matrix_counts_documents_once_and_respects_vocabulary():
    texts = ["No effusion. No effusion.", "Effusion.", "Effusion.", "Cardiomegaly."]
    matrix, vocab = term_matrix(texts, ngram_range=(1, 1), min_df=2)
    assert vocab.tolist() == ["effusion"]
    assert matrix.toarray().ravel().tolist() == [0, 1, 1, 0]
    again, _ = term_matrix(["no effusion"], vocabulary=["no effusion", "unseen"])
    assert again.toarray().tolist() == [[1, 0]]


def test_unique_texts_rejects_missing_reports():
    with pytest.raises(ValueError, match="strings"):
        unique_texts(np.array(["a", None], dtype=object))


def test_phrase_only_terms_of_distinct_reports_with_their_counts_equal_those_of_every_report():
    from silentscope.text.terms import phrase_only_terms

    rng = np.random.default_rng(0)
    pool = ["Vitreous degeneration.", "Macular degeneration.", "Degeneration.", "Chest tube.",
            "Tube feeding.", "Tube.", "No effusion.", "Small effusion."]  # fmt: skip
    for _ in range(20):
        texts = rng.choice(pool, size=200, p=rng.dirichlet(np.ones(len(pool))))
        every, vocabulary = term_matrix(texts)
        uniques, inverse = unique_texts(texts)
        distinct, same_vocabulary = term_matrix(uniques)
        assert (vocabulary == same_vocabulary).all()
        counts = np.bincount(inverse, minlength=len(uniques))
        assert (
            phrase_only_terms(distinct, vocabulary, counts=counts)
            == phrase_only_terms(every, vocabulary)
        ).all()
    with pytest.raises(ValueError, match="finite, non-negative numbers of documents"):
        phrase_only_terms(distinct, vocabulary, counts=-counts)
    with pytest.raises(ValueError, match="one number of documents per row"):
        phrase_only_terms(distinct, vocabulary, counts=counts[:-1])


def test_phrase_only_terms_match_their_definition_on_real_reports(iu_xray_dir):
    """The one-product computation against the definition, term by term (Indiana reports)."""
    import pandas as pd

    from silentscope.text.terms import TERM_NGRAMS, phrase_only_terms

    reports = pd.read_csv(iu_xray_dir / "indiana_reports.csv").head(600)
    texts = (reports["findings"].fillna("") + " " + reports["impression"].fillna("")).to_numpy()
    matrix, vocabulary = term_matrix(texts, ngram_range=TERM_NGRAMS)
    dense = matrix.toarray() > 0
    found = phrase_only_terms(matrix, vocabulary)
    for j in np.flatnonzero(dense.any(axis=0))[::7]:  # every seventh present term
        term = vocabulary[j]
        # holders: longer terms with the same assertion prefix holding its words as a run
        prefix = next((p for p in ("no ", "possible ") if term.startswith(p)), "")
        core = term[len(prefix) :]
        holders = [
            k for k, other in enumerate(vocabulary)
            if other != term and other.startswith(prefix) and not (prefix == "" and other.startswith(("no ", "possible ")))
            and f" {core} " in f" {other[len(prefix):]} "
        ]  # fmt: skip
        rows = dense[:, j]
        covered = dense[rows][:, holders].any(axis=1) if holders else np.zeros(rows.sum(), bool)
        expected = bool(holders) and covered.mean() >= 0.9
        assert found[j] == expected, (term, [vocabulary[k] for k in holders][:5])
    assert found.sum() > 20  # the reports have phrases
