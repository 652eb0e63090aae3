"""Negation and uncertainty detection in report sentences, NegEx-style.

Each word of a sentence gets an *assertion*: ``present``, ``negated`` or ``uncertain``.
The method follows NegEx (Chapman et al., "A simple algorithm for identifying negated
findings and diseases in discharge summaries", J Biomed Inform 2001): trigger phrases
open a scope that runs forwards (``no pneumothorax``) or backwards (``pneumothorax is
not seen``) until a termination phrase (``but``, ``however``, a copula such as ``is``
for forward scopes), another trigger, a colon, the end of the sentence, or a window of
``max_scope`` tokens. Pseudo-triggers (``no change``, ``not only``) match first and open
no scope. The trigger lists are written for radiology and ophthalmology reports (the
Indiana chest X-ray reports and the ODIR fundus keywords); ``non`` is deliberately not
a trigger because ``non proliferative retinopathy`` is a diagnosis, not a negation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from silentscope.text.tokens import PUNCTUATION

PRESENT = "present"
NEGATED = "negated"
UNCERTAIN = "uncertain"
ASSERTIONS = (PRESENT, NEGATED, UNCERTAIN)

FORWARD_NEGATION = (
    "no", "not", "without", "negative for", "no evidence of", "no evidence for",
    "no sign of", "no signs of", "no definite", "no definite evidence of", "no findings of",
    "no suspicious", "free of", "clear of", "absence of", "denies", "denied",
    "never", "nor", "neither", "fails to reveal", "resolution of", "rules out",
)  # fmt: skip
BACKWARD_NEGATION = (
    "absent", "is absent", "are absent", "not seen", "not identified", "not visualized",
    "not visible", "not present", "not evident", "not demonstrated", "not appreciated",
    "is ruled out", "ruled out", "has resolved", "have resolved", "resolved",
    "is negative", "are negative", "no longer seen", "no longer visible",
    "no longer present", "no longer visualized", "unlikely",
)  # fmt: skip
FORWARD_UNCERTAINTY = (
    "possible", "possibly", "probable", "probably", "may", "might", "could",
    "may represent", "could represent", "question of", "questionable", "suspicious for",
    "suspicious of", "suggestive of", "suggesting", "suggests", "suggest",
    "concern for", "concerning for", "worrisome for", "cannot exclude", "can not exclude",
    "cannot rule out", "difficult to exclude", "exclude", "rule out", "r/o", "versus",
    "vs", "equivocal", "indeterminate", "likely", "presumably", "presumed", "suspected",
    "suspect", "borderline", "evaluate for", "assess for",
)  # fmt: skip
BACKWARD_UNCERTAINTY = (
    "cannot be excluded", "can not be excluded", "not excluded", "is not excluded",
    "is possible", "are possible", "is suspected", "are suspected", "versus", "vs",
)  # fmt: skip
PSEUDO_TRIGGERS = (
    "no change", "no interval change", "no significant change", "no significant interval change",
    "not changed", "no increase", "not only", "not necessarily", "without change",
    "gram negative", "not certain whether",
)  # fmt: skip
TERMINATION = (
    "but", "however", "although", "though", "except", "aside from", "apart from",
    "otherwise", "which", "yet", "nevertheless", "with the exception of", "there is",
    "there are", "there has been", "there have been", "due to", "secondary to",
)  # fmt: skip
#: Copulas end forward scopes only: in "no effusion is seen" the clause ends at "is".
FORWARD_TERMINATION = ("is", "are", "was", "were", "has", "have")


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    kind: str  # "negated", "uncertain", "pseudo" or "terminate"
    forward: bool
    backward: bool


def _phrase_table(groups: dict[tuple[str, bool, bool], tuple[str, ...]]) -> dict:
    table: dict[tuple[str, ...], list[tuple[str, bool, bool]]] = {}
    for (kind, forward, backward), phrases in groups.items():
        for phrase in phrases:
            table.setdefault(tuple(phrase.split()), []).append((kind, forward, backward))
    return table


@dataclass
class NegationRules:
    """Trigger phrases and scope rules for assertion detection.

    Parameters
    ----------
    forward_negation, backward_negation, forward_uncertainty, backward_uncertainty : tuple of str
        Trigger phrases (lower case, space-separated words). A phrase listed both
        forwards and backwards (``versus``) scopes both ways.
    pseudo_triggers : tuple of str
        Phrases that contain a trigger but negate nothing (``no change``).
    termination : tuple of str
        Phrases that end any scope.
    forward_termination : tuple of str
        Words that end forward scopes only (copulas).
    max_scope : int, default=12
        Largest number of tokens a scope covers.

    Examples
    --------
    >>> rules = NegationRules()
    >>> tokens = ["no", "pneumothorax", ",", "effusion", "or", "edema"]
    >>> rules.assertions(tokens)
    [None, 'negated', None, 'negated', 'negated', 'negated']
    >>> rules.assertions(["cardiomegaly", "is", "not", "excluded"])
    ['uncertain', None, None, None]
    """

    forward_negation: tuple[str, ...] = FORWARD_NEGATION
    backward_negation: tuple[str, ...] = BACKWARD_NEGATION
    forward_uncertainty: tuple[str, ...] = FORWARD_UNCERTAINTY
    backward_uncertainty: tuple[str, ...] = BACKWARD_UNCERTAINTY
    pseudo_triggers: tuple[str, ...] = PSEUDO_TRIGGERS
    termination: tuple[str, ...] = TERMINATION
    forward_termination: tuple[str, ...] = FORWARD_TERMINATION
    max_scope: int = 12
    _table: dict = field(init=False, repr=False)
    _longest: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if int(self.max_scope) < 1:
            raise ValueError(f"max_scope must be a positive number of tokens, got {self.max_scope}")
        self._table = _phrase_table(
            {
                (NEGATED, True, False): self.forward_negation,
                (NEGATED, False, True): self.backward_negation,
                (UNCERTAIN, True, False): self.forward_uncertainty,
                (UNCERTAIN, False, True): self.backward_uncertainty,
                ("pseudo", False, False): self.pseudo_triggers,
                ("terminate", False, False): self.termination,
            }
        )
        self._longest = max(len(phrase) for phrase in self._table)

    def _find(self, tokens: list[str]) -> list[_Match]:
        """Trigger matches, longest phrase first, left to right, without overlaps."""
        matches, i = [], 0
        while i < len(tokens):
            for length in range(min(self._longest, len(tokens) - i), 0, -1):
                entries = self._table.get(tuple(tokens[i : i + length]))
                if entries:
                    kinds = {kind for kind, _, _ in entries}
                    kind = "pseudo" if "pseudo" in kinds else entries[0][0]
                    forward = any(f for k, f, _ in entries if k == kind)
                    backward = any(b for k, _, b in entries if k == kind)
                    matches.append(_Match(i, i + length, kind, forward, backward))
                    i += length
                    break
            else:
                i += 1
        return matches

    def assertions(self, tokens: list[str]) -> list[str | None]:
        """The assertion of each token of one sentence (None for triggers and punctuation).

        A token in both a negation and an uncertainty scope is negated: "no definite
        effusion" denies the effusion.
        """
        n = len(tokens)
        matches = self._find(tokens)
        in_trigger = [False] * n
        stops = [False] * n  # tokens where any scope ends
        forward_stops = [False] * n
        for match in matches:
            for j in range(match.start, match.end):
                in_trigger[j] = True
                stops[j] = True
        for j, token in enumerate(tokens):
            if token == ":":
                stops[j] = True
            forward_stops[j] = stops[j] or token in self.forward_termination
        negated, uncertain = [False] * n, [False] * n
        for match in matches:
            if match.kind not in (NEGATED, UNCERTAIN):
                continue
            target = negated if match.kind == NEGATED else uncertain
            if match.forward:
                j = match.end
                while j < n and j - match.end < self.max_scope and not forward_stops[j]:
                    target[j] = True
                    j += 1
            if match.backward:
                j = match.start - 1
                while j >= 0 and match.start - 1 - j < self.max_scope and not stops[j]:
                    target[j] = True
                    j -= 1
        result: list[str | None] = []
        for j, token in enumerate(tokens):
            if in_trigger[j] or token in PUNCTUATION or token in self.forward_termination:
                result.append(None)
            elif negated[j]:
                result.append(NEGATED)
            elif uncertain[j]:
                result.append(UNCERTAIN)
            else:
                result.append(PRESENT)
        return result


DEFAULT_RULES = NegationRules()

__all__ = [
    "ASSERTIONS",
    "DEFAULT_RULES",
    "NEGATED",
    "NegationRules",
    "PRESENT",
    "UNCERTAIN",
]
