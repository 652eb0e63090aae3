"""Negation and uncertainty scopes, on hand-made sentences and on the real Indiana reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.text import NegationRules, extract_terms, term_matrix, tokenize

RULES = NegationRules()


def labels(text: str, ngram_range=(1, 1)) -> list[str]:
    return [term.label for term in extract_terms(text, ngram_range)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No pneumothorax.", ["no pneumothorax"]),
        ("Pneumothorax.", ["pneumothorax"]),
        (
            "There is no pleural effusion or pneumothorax.",
            ["no pleural", "no effusion", "no pneumothorax"],
        ),
        ("Pneumothorax is not seen.", ["no pneumothorax"]),
        ("Lungs are clear of focal consolidation.", ["lungs", "no focal", "no consolidation"]),
        ("Cardiomegaly without edema.", ["cardiomegaly", "no edema"]),
        ("Pneumonia cannot be excluded.", ["possible pneumonia"]),
        ("Opacity, likely atelectasis.", ["opacity", "possible atelectasis"]),
        ("No effusion but mild cardiomegaly.", ["no effusion", "mild", "cardiomegaly"]),
        ("No change in cardiomegaly.", ["cardiomegaly"]),
        ("No effusion. Cardiomegaly.", ["no effusion", "cardiomegaly"]),
        (
            "No focal consolidation is identified, heart enlarged",
            ["no focal", "no consolidation", "heart", "enlarged"],
        ),
        (
            "Moderate non proliferative retinopathy",
            # "non" negates nothing and makes one word with what follows (issue 17)
            ["moderate", "non proliferative", "retinopathy"],
        ),
        ("Atelectasis versus pneumonia.", ["possible atelectasis", "possible pneumonia"]),
    ],
)
def test_assertions_of_report_phrases(text, expected):
    assert labels(text) == expected


def test_scope_is_bounded_by_max_scope():
    rules = NegationRules(max_scope=2)
    tokens = ["no", "a1", "b1", "c1"]
    assert rules.assertions(tokens) == [None, "negated", "negated", "present"]


def test_invalid_scope_is_rejected():
    with pytest.raises(ValueError, match="max_scope"):
        NegationRules(max_scope=0)


def test_deidentification_marks_are_dropped():
    assert "xxxx" not in " ".join(tokenize("Normal chest x-XXXX. XXXX XXXX"))


def test_negation_agrees_with_mesh_codes_on_real_reports(iu_xray_dir):
    """Affirmed 'pneumothorax' marks the reports coded Pneumothorax, not the normal ones.

    About 70% of normal reports mention the word ("No pneumothorax"), so a negation-unaware
    extractor would call them positive.
    """
    reports = pd.read_csv(iu_xray_dir / "indiana_reports.csv")
    text = (reports["findings"].fillna("") + " " + reports["impression"].fillna("")).to_numpy()
    mesh = reports["MeSH"].fillna("")
    normal = (mesh == "normal").to_numpy()
    coded = mesh.str.contains("Pneumothorax").to_numpy()
    counts, vocab = term_matrix(text, ngram_range=(1, 1))
    column = {term: j for j, term in enumerate(vocab)}
    present = counts[:, column["pneumothorax"]].toarray().ravel().astype(bool)
    negated = counts[:, column["no pneumothorax"]].toarray().ravel().astype(bool)
    raw = np.char.find(np.char.lower(text.astype(str)), "pneumothorax") >= 0
    assert raw[normal].mean() > 0.5  # the word is everywhere in normal reports
    assert present[normal].mean() < 0.01  # but affirmed almost never
    assert negated[normal].mean() > 0.5
    assert present[coded].mean() > 0.7
