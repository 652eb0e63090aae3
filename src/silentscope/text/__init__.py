"""Report-text processing shared by the analyses: tokens, assertion-aware terms, embeddings.

- :mod:`~silentscope.text.tokens`: sentences and word tokens.
- :mod:`~silentscope.text.negation`: NegEx-style negation and uncertainty scopes.
- :mod:`~silentscope.text.terms`: assertion-aware n-gram terms and document-term matrices.
- :mod:`~silentscope.text.embeddings`: TF-IDF + SVD and all-MiniLM-L6-v2 report embeddings.
- :mod:`~silentscope.text.log_odds`: distinguishing terms (Monroe et al. 2008).
"""

from silentscope.text.embeddings import (
    TEXT_EMBEDDERS,
    MiniLMEmbedder,
    TfidfSvdEmbedder,
    make_text_embedder,
    minilm_model_path,
)
from silentscope.text.log_odds import log_odds_dirichlet
from silentscope.text.negation import (
    ASSERTIONS,
    DEFAULT_RULES,
    NEGATED,
    PRESENT,
    UNCERTAIN,
    NegationRules,
)
from silentscope.text.terms import STOP_WORDS, Term, extract_terms, term_matrix
from silentscope.text.tokens import split_sentences, tokenize, unique_texts

__all__ = [
    "ASSERTIONS",
    "DEFAULT_RULES",
    "MiniLMEmbedder",
    "NEGATED",
    "NegationRules",
    "PRESENT",
    "STOP_WORDS",
    "TEXT_EMBEDDERS",
    "Term",
    "TfidfSvdEmbedder",
    "UNCERTAIN",
    "extract_terms",
    "log_odds_dirichlet",
    "make_text_embedder",
    "minilm_model_path",
    "split_sentences",
    "term_matrix",
    "tokenize",
    "unique_texts",
]
