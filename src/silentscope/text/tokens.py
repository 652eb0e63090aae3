"""Tokenisation of clinical report text into sentences and lower-case word tokens.

Reports are split into sentences at full stops, question and exclamation marks,
semicolons and line breaks (a decimal point such as ``2.5 cm`` does not end a sentence),
and each sentence into word tokens and punctuation marks. Punctuation is kept as
tokens because it bounds noun phrases (``no pneumothorax, effusion or edema`` lists
three findings) while de-identification marks (``XXXX`` in the Indiana reports) are
dropped: they carry no meaning and would otherwise become the most frequent term.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: Sentence boundaries: ., !, ? or ; followed by white space or the end, or a line break.
_SENTENCE_END = re.compile(r"(?<!\d)[.!?;](?=\s|$)|(?<=\D)\.(?=[A-Za-z])|[\r\n]+")
#: Word tokens (letters, digits, inner hyphens and apostrophes) and punctuation marks.
_TOKEN = re.compile(r"[a-z0-9]+(?:[-'/][a-z0-9]+)*|[,:()\[\]，、]")
#: De-identification placeholders (``XXXX``) of the Indiana University reports.
_DEIDENTIFIED = re.compile(r"xxxx")

PUNCTUATION = frozenset(",:()[]，、")


def split_sentences(text: str) -> list[str]:
    """Split a report into sentences.

    Parameters
    ----------
    text : str
        Report text; an empty string gives no sentences.

    Returns
    -------
    list of str
        Non-empty sentences, stripped of white space, in order.

    Examples
    --------
    >>> split_sentences("No pneumothorax. Heart size 2.5 cm; stable.\\nClear lungs")
    ['No pneumothorax', 'Heart size 2.5 cm', 'stable', 'Clear lungs']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def tokenize(sentence: str) -> list[str]:
    """Lower-case word and punctuation tokens of one sentence, without de-identification marks.

    Examples
    --------
    >>> tokenize("No focal air-space disease, XXXX or effusion (stable) x-XXXX")
    ['no', 'focal', 'air-space', 'disease', ',', 'or', 'effusion', '(', 'stable', ')']
    """
    return [token for token in _TOKEN.findall(sentence.lower()) if not _DEIDENTIFIED.search(token)]


def unique_texts(texts) -> tuple[np.ndarray, np.ndarray]:
    """The distinct texts and, per input text, the index of its distinct text.

    Reports repeat heavily in practice (templated normal reports, ODIR keywords), so the
    text pipeline processes each distinct text once and expands the result.

    Parameters
    ----------
    texts : array-like of str, shape (N,)

    Returns
    -------
    uniques : ndarray of str, shape (U,)
    inverse : ndarray of int, shape (N,)
        ``uniques[inverse]`` equals ``texts``.

    Examples
    --------
    >>> uniques, inverse = unique_texts(["b", "a", "b"])
    >>> uniques.tolist(), inverse.tolist()
    (['a', 'b'], [1, 0, 1])
    """
    array = np.asarray(texts, dtype=object)
    if array.ndim != 1:
        raise ValueError(f"texts must be 1-D, got shape {array.shape}")
    bad = [i for i, value in enumerate(array) if not isinstance(value, str)]
    if bad:
        raise ValueError(
            f"texts must all be strings; rows {bad[:5]} are not (use '' for a missing report)"
        )
    # hashing (pandas.factorize) instead of np.unique: sorting 100,000 long reports as a
    # fixed-width unicode array costs seconds and hundreds of MB; only the few distinct
    # texts are sorted afterwards
    codes, distinct = pd.factorize(array)
    order = np.argsort(distinct.astype(str), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return np.asarray(distinct, dtype=str)[order], rank[codes]


__all__ = ["PUNCTUATION", "split_sentences", "tokenize", "unique_texts"]
