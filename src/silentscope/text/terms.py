"""Assertion-aware term extraction: "no pneumothorax" is not "pneumothorax".

A report is split into sentences and tokens (:mod:`silentscope.text.tokens`), each token
gets an assertion (:mod:`silentscope.text.negation`), and terms are the word n-grams of
runs of content words that share one assertion. Runs break at punctuation, stop words
and triggers, so ``no pneumothorax, pleural effusion`` yields the negated terms
``pneumothorax``, ``pleural``, ``effusion`` and ``pleural effusion``, never
``pneumothorax pleural``. A term is written ``no <words>`` when negated and
``possible <words>`` when uncertain, so that every downstream count, TF-IDF weight and
explanation keeps the distinction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from silentscope.text.negation import DEFAULT_RULES, NEGATED, UNCERTAIN, NegationRules
from silentscope.text.tokens import PUNCTUATION, split_sentences, tokenize, unique_texts

# scikit-learn's list, less words with a clinical meaning, plus report filler words.
STOP_WORDS = frozenset(
    (ENGLISH_STOP_WORDS - {"side", "back", "bottom", "top", "front", "full", "empty", "fill"})
    | {"seen", "noted", "identified", "visualized", "demonstrated", "appear", "appears", "x-ray"}
)
_PREFIX = {NEGATED: "no ", UNCERTAIN: "possible "}
#: Word n-gram lengths of the terms that describe slices and selections (CLI, report and
#: viewer alike): long enough for "mild non proliferative retinopathy".
TERM_NGRAMS = (1, 3)
#: Prefixes that make one word with the next: "non proliferative" is a diagnosis, not the
#: words "non" and "proliferative" (a slice of non-proliferative cases is not "proliferative").
_FUSED_PREFIXES = frozenset({"non"})


def _fuse_prefixes(tokens: list[str], assertions: list) -> tuple[list[str], list]:
    """Join ``non`` (or ``non-``) with the word after it into one word ``non <word>``."""
    words, kinds, i = [], [], 0
    while i < len(tokens):
        token = tokens[i]
        head, _, tail = token.partition("-")
        if head in _FUSED_PREFIXES and tail:
            words.append(f"{head} {tail}")
            kinds.append(assertions[i])
            i += 1
            continue
        if (
            token in _FUSED_PREFIXES
            and i + 1 < len(tokens)
            and tokens[i + 1] not in PUNCTUATION
            and assertions[i + 1] is not None
        ):
            words.append(f"{token} {tokens[i + 1]}")
            kinds.append(assertions[i + 1])
            i += 2
            continue
        words.append(token)
        kinds.append(assertions[i])
        i += 1
    return words, kinds


@dataclass(frozen=True)
class Term:
    """A word n-gram with its assertion (``present``, ``negated`` or ``uncertain``).

    Examples
    --------
    >>> Term("pleural effusion", "negated").label
    'no pleural effusion'
    """

    words: str
    assertion: str

    @property
    def label(self) -> str:
        """The term as shown to people: ``no`` / ``possible`` prefixed where not present."""
        return _PREFIX.get(self.assertion, "") + self.words


def _check_ngram_range(ngram_range) -> tuple[int, int]:
    low, high = (int(v) for v in ngram_range)
    if not 1 <= low <= high:
        raise ValueError(f"ngram_range must be (min, max) with 1 <= min <= max, got {ngram_range}")
    return low, high


def _ngrams(run: list[str], assertion: str | None, low: int, high: int) -> list[tuple[int, Term]]:
    """All n-grams (``low <= n <= high``) of one run of content words, with their n."""
    return [
        (n, Term(" ".join(run[start : start + n]), assertion))
        for start in range(len(run))
        for n in range(low, min(high, len(run) - start) + 1)
    ]


def extract_terms(
    text: str,
    ngram_range: tuple[int, int] = (1, 2),
    rules: NegationRules = DEFAULT_RULES,
    stop_words: frozenset[str] = STOP_WORDS,
) -> list[Term]:
    """The assertion-aware terms of one report, in order of appearance (with repeats).

    Parameters
    ----------
    text : str
        One report.
    ngram_range : (int, int), default=(1, 2)
        Smallest and largest n-gram length.
    rules : NegationRules, default=DEFAULT_RULES
        Trigger phrases and scope rules.
    stop_words : frozenset of str, default=STOP_WORDS
        Words that are never terms and break n-grams. Numbers are never terms either.

    Returns
    -------
    list of Term

    Examples
    --------
    >>> [t.label for t in extract_terms("No pneumothorax or pleural effusion. Mild cardiomegaly.")]
    ['no pneumothorax', 'no pleural', 'no pleural effusion', 'no effusion', 'mild', 'mild cardiomegaly', 'cardiomegaly']
    >>> [t.label for t in extract_terms("Pneumonia cannot be excluded.", ngram_range=(1, 1))]
    ['possible pneumonia']
    >>> [t.label for t in extract_terms("Mild non proliferative retinopathy", ngram_range=(1, 1))]
    ['mild', 'non proliferative', 'retinopathy']
    """
    low, high = _check_ngram_range(ngram_range)
    return [term for _, term in _sized_terms(text, low, high, rules, stop_words)]


def _sized_terms(text, low, high, rules, stop_words) -> list[tuple[int, Term]]:
    """:func:`extract_terms` with each term's n (tokens, a fused "non proliferative" is one)."""
    terms: list[tuple[int, Term]] = []
    for sentence in split_sentences(text):
        tokens = tokenize(sentence)
        tokens, assertions = _fuse_prefixes(tokens, rules.assertions(tokens))
        run: list[str] = []
        run_assertion = None
        for token, assertion in zip(tokens, assertions, strict=True):
            content = (
                assertion is not None
                and token not in stop_words
                and token not in PUNCTUATION
                and not token.replace(".", "").isdigit()
            )
            if not content or assertion != run_assertion:
                terms.extend(_ngrams(run, run_assertion, low, high))
                run = []
                run_assertion = assertion if content else None
            if content:
                run.append(token)
        terms.extend(_ngrams(run, run_assertion, low, high))
    return terms


def _term_labels(text: str, ngram_range: tuple[int, int], rules: NegationRules) -> tuple:
    return tuple(sorted({t.label for t in extract_terms(text, ngram_range, rules)}))


@functools.lru_cache(maxsize=2**16)
def _default_sized_labels(text: str, high: int) -> tuple:
    """(n, label) of every term up to ``high`` words under :data:`DEFAULT_RULES`, cached per text."""
    return tuple({(n, t.label) for n, t in _sized_terms(text, 1, high, DEFAULT_RULES, STOP_WORDS)})


def _default_term_labels(text: str, ngram_range: tuple[int, int]) -> tuple:
    """Term labels under :data:`DEFAULT_RULES` (treated as constant), cached per text.

    Slice discovery reads the same reports for the embedding (1-2 grams), the label check,
    the rules and the explanations (1-3 grams): every range is cut from one cached
    extraction up to :data:`TERM_NGRAMS`' longest n-grams, so each report is parsed once.
    """
    low, high = ngram_range
    sized = _default_sized_labels(text, max(high, TERM_NGRAMS[1]))
    return tuple(sorted({label for n, label in sized if low <= n <= high}))


def term_matrix(
    texts,
    ngram_range: tuple[int, int] = (1, 2),
    min_df: int = 1,
    vocabulary=None,
    rules: NegationRules = DEFAULT_RULES,
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Binary document-term matrix of assertion-aware term labels.

    Each distinct text is processed once, so templated reports cost one pass.

    Parameters
    ----------
    texts : array-like of str, shape (N,)
    ngram_range : (int, int), default=(1, 2)
    min_df : int, default=1
        Keep terms that occur in at least this many documents (ignored with ``vocabulary``).
    vocabulary : array-like of str, optional
        Fixed term labels (columns), e.g. from an earlier call; unknown terms are ignored.
    rules : NegationRules, default=DEFAULT_RULES

    Returns
    -------
    matrix : scipy.sparse.csr_matrix of int32, shape (N, V)
        1 where the document contains the term.
    vocabulary : ndarray of str, shape (V,)
        Term labels, sorted.

    Examples
    --------
    >>> m, vocab = term_matrix(["No effusion.", "Small effusion."], ngram_range=(1, 1))
    >>> vocab.tolist(), m.toarray().tolist()
    (['effusion', 'no effusion', 'small'], [[0, 1, 0], [1, 0, 1]])
    """
    if int(min_df) < 1:
        raise ValueError(f"min_df must be a positive count of documents, got {min_df}")
    uniques, inverse = unique_texts(texts)
    ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
    if rules is DEFAULT_RULES:  # the usual case: remembered across calls
        per_text = [_default_term_labels(u, ngram_range) for u in uniques]
    else:
        per_text = [_term_labels(u, ngram_range, rules) for u in uniques]
    if vocabulary is None:
        multiplicity = np.bincount(inverse, minlength=len(uniques))
        df: dict[str, int] = {}
        for labels, count in zip(per_text, multiplicity, strict=True):
            for label in labels:
                df[label] = df.get(label, 0) + int(count)
        vocabulary = np.array(sorted(k for k, v in df.items() if v >= min_df), dtype=object)
    else:
        vocabulary = np.asarray(vocabulary, dtype=object)
    column = {label: j for j, label in enumerate(vocabulary)}
    rows, cols = [], []
    for i, labels in enumerate(per_text):
        hits = [column[label] for label in labels if label in column]
        rows.extend([i] * len(hits))
        cols.extend(hits)
    unique_matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(uniques), len(vocabulary))
    )
    return unique_matrix[inverse], vocabulary.astype(str)


def phrase_only_terms(matrix, vocabulary, share: float = 0.9, counts=None) -> np.ndarray:
    """Which terms occur (almost) only inside longer terms of the vocabulary.

    ``degeneration`` that is always ``vitreous degeneration`` or ``macular degeneration``
    joins two findings a clinician keeps apart, and ``tube`` that is always ``chest tube``
    says less than the phrase: where the corpus has phrases, a term is shown by them. A
    term is phrase-only when at least ``share`` of the documents containing it contain a
    longer term of the vocabulary that holds its words as a run (with the same
    ``no``/``possible`` assertion).

    Parameters
    ----------
    matrix : sparse or dense matrix, shape (N, V)
        Document-term matrix (:func:`term_matrix`).
    vocabulary : array-like of str, shape (V,)
    share : float, default=0.9
    counts : array-like of int, shape (N,), optional
        How many documents each row stands for: the matrix of the distinct reports with
        their counts gives the answer of the matrix of every report, and is much smaller
        (100,000 reports drawn from 3,851 distinct ones took 5 s row by row).

    Returns
    -------
    ndarray of bool, shape (V,)

    Examples
    --------
    >>> m, vocab = term_matrix(["Vitreous degeneration.", "Macular degeneration.", "Chest tube.",
    ...                         "Tube feeding."])
    >>> sorted(str(v) for v in vocab[phrase_only_terms(m, vocab)])
    ['chest', 'degeneration', 'feeding', 'macular', 'tube', 'vitreous']
    """
    vocabulary = np.asarray(vocabulary, dtype=str)
    n_rows = matrix.shape[0]
    if counts is None:
        counts = np.ones(n_rows)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (n_rows,):
        raise ValueError(
            f"counts must hold one number of documents per row ({n_rows}), got shape {counts.shape}"
        )
    if not np.all(np.isfinite(counts)) or (counts < 0).any():
        raise ValueError("counts must be finite, non-negative numbers of documents")
    index = {term: j for j, term in enumerate(vocabulary)}
    pairs: set[tuple[int, int]] = set()  # (term, a longer term that holds its words as a run)
    for j, term in enumerate(vocabulary):
        prefix = next((p for p in _PREFIX.values() if term.startswith(p)), "")
        words = _term_words(term[len(prefix) :])
        for n in range(1, len(words)):
            for start in range(len(words) - n + 1):
                sub = index.get(prefix + " ".join(words[start : start + n]))
                if sub is not None:
                    pairs.add((sub, j))
    out = np.zeros(len(vocabulary), bool)
    if not pairs:
        return out
    short, long_ = np.array(sorted(pairs)).T
    holds = sparse.csr_matrix(
        (np.ones(len(short)), (long_, short)), shape=(len(vocabulary), len(vocabulary))
    )
    present = sparse.csr_matrix(matrix, dtype=np.float64)
    present.eliminate_zeros()
    present.data[:] = 1.0
    # covered[r, j]: document r holds term j and at least one longer term that holds it;
    # one product for every term at once (a column slice per term took seconds)
    covered = present.multiply((present @ holds) > 0)
    within = counts @ covered  # documents (weighted) where the term is inside a phrase
    total = counts @ present  # documents (weighted) with the term
    has_holder = np.zeros(len(vocabulary), bool)
    has_holder[short] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        out = has_holder & (total > 0) & (within / total >= share)
    return np.asarray(out, dtype=bool)


def _term_words(words: str) -> list[str]:
    """The words of a term, a fused ``non <word>`` counting as one."""
    tokens = words.split()
    out, i = [], 0
    while i < len(tokens):
        if tokens[i] in _FUSED_PREFIXES and i + 1 < len(tokens):
            out.append(f"{tokens[i]} {tokens[i + 1]}")
            i += 2
        else:
            out.append(tokens[i])
            i += 1
    return out


__all__ = ["STOP_WORDS", "TERM_NGRAMS", "Term", "extract_terms", "phrase_only_terms", "term_matrix"]
