"""Metadata roles: which columns describe a sample (analysable) and which only name it.

Every metadata column of an AuditSet has one role, fixed once when the AuditSet is built
(from a dataset adapter, an importer or a user) and recorded in the audit store, so that
slices, subgroups, the misclassification predictor, ``info`` and the viewer all agree on
which columns they may explain failures by:

``identifier``
    Names a patient, study or image (``patient_id``, a per-sample unique code).
``index``
    A row number (MedMNIST's ``source_index``): it orders samples, it describes none.
``file``
    A file name or path; names often encode the patient, age, sex or even the diagnosis.
``ground_truth``
    Planted ground truth of synthetic data (``gt_*``), never an input.
``label_derived``
    Predicts the label almost perfectly (ODIR's ``label_code`` *is* the class): a slice or
    subgroup "explained" by it restates the per-class error table.
``clinical``, ``acquisition``, ``attribute``
    Analysable: patient attributes, acquisition conditions, or not known which.

A role is *declared* where the source knows it (an adapter, an importer, the user) and
*inferred* otherwise, by the rules of :func:`infer_role`; each role keeps its source and
a reason that is shown to the user whenever the column is left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported where values are inspected: the viewer reads recorded roles when it
# reopens a store, which must not cost pandas' import.

ROLES = (
    "identifier",
    "index",
    "file",
    "ground_truth",
    "label_derived",
    "clinical",
    "acquisition",
    "attribute",
)
#: Roles whose columns analyses may use to describe or explain failures.
ANALYSABLE = ("clinical", "acquisition", "attribute")
#: Where a role came from.
SOURCES = ("declared", "inferred")

#: Why a column of each non-analysable role is left out (completes "<column> ...").
ROLE_REASONS = {
    "identifier": "is an identifier: it names samples or patients, it describes none",
    "index": "is a row index: it numbers samples, it describes none",
    "file": "is a file name or path: it names images (and may encode the label)",
    "ground_truth": "holds planted ground truth (gt_*), which is never an input",
    "label_derived": "is derived from the label",
    "clinical": "is a clinical attribute",
    "acquisition": "is an acquisition attribute",
    "attribute": "is an attribute",
}

GROUND_TRUTH_PREFIX = "gt_"
_IDENTIFIER_NAMES = {
    "id", "uid", "sample_id", "patient_id", "patient", "subject", "subject_id", "study_id",
    "study", "image_id", "series_id", "accession", "accession_number", "md5", "sha1",
    "sha256", "hash", "mrn",
}  # fmt: skip
_INDEX_NAMES = {"index", "idx", "row", "row_id", "source_index", "position", "level_0"}
_FILE_NAMES = {"file", "filename", "file_name", "path", "filepath", "file_path", "image",
               "image_path", "image_file", "image_ref", "url"}  # fmt: skip
_CLINICAL_NAMES = {"age", "sex", "gender", "race", "ethnicity", "bmi", "weight", "height",
                   "skin_tone", "body_site", "smoker", "age_group", "diabetes"}  # fmt: skip
_ACQUISITION_NAMES = {"site", "scanner", "device", "manufacturer", "hospital", "center",
                      "centre", "institution", "view", "projection", "camera", "eye",
                      "laterality", "modality", "field_strength", "protocol"}  # fmt: skip
_PATH_LIKE = re.compile(
    r"([/\\])|(\.(jpe?g|png|bmp|tiff?|dcm|dicom|nii(\.gz)?|nrrd|mha|npy|npz|h5)$)", re.I
)

#: A column (or the report text) whose one-feature classifier recovers the label with at
#: least this balanced accuracy is label-derived. Chance is 1/K; a real clinical attribute
#: is far from this (measured on ODIR's 8 classes, chance 0.125: age 0.14, sex 0.14, eye
#: 0.14; normal/abnormal: 0.50 each), while ``label_code`` reaches 1.00 and the keyword
#: text 0.98 (bag of words 1.00). The 5% margin allows for a few
#: contradicting annotations (ODIR's DH/H duplicates) without letting a strong but real
#: association (cataract rising with age) count as the label.
LABEL_DERIVED_BALANCED_ACCURACY = 0.95
#: Fewer samples than this leave the label-derived check undecided (not applied).
MIN_SAMPLES_FOR_LABEL_CHECK = 30
#: The text check fits a bag-of-words classifier on at most this many distinct samples.
TEXT_CHECK_ROWS = 5000
_NUMERIC_LEVELS = 20


@dataclass(frozen=True)
class ColumnRole:
    """The role of one metadata column, where it came from, and why.

    Examples
    --------
    >>> ColumnRole("index", "declared", "is the row index in the MedMNIST split's array").analysable
    False
    """

    role: str
    source: str
    reason: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown metadata role {self.role!r}; choose from {', '.join(ROLES)}")
        if self.source not in SOURCES:
            raise ValueError(f"role source must be one of {SOURCES}, got {self.source!r}")

    @property
    def analysable(self) -> bool:
        return self.role in ANALYSABLE

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "source": self.source, "reason": self.reason}


def as_role(value, column: str) -> ColumnRole:
    """A :class:`ColumnRole` from a role name, a recorded dict or a ColumnRole (declared)."""
    if isinstance(value, ColumnRole):
        return value
    if isinstance(value, str):
        if value not in ROLES:
            raise ValueError(
                f"metadata role {value!r} of column {column!r} is unknown; choose from {', '.join(ROLES)}"
            )
        return ColumnRole(value, "declared", ROLE_REASONS[value] + " (declared)")
    if isinstance(value, Mapping) and "role" in value:
        return ColumnRole(
            str(value["role"]),
            str(value.get("source", "declared")),
            str(value.get("reason", ROLE_REASONS.get(str(value["role"]), ""))),
        )
    raise ValueError(
        f"metadata role of column {column!r} must be a role name or a dict with 'role', got {value!r}"
    )


def source_ids(sample_id, test_set) -> np.ndarray:
    """The id of the source image of each sample: shifted copies ``<set>:<id>`` lose the prefix.

    Corrupted copies of one image share its source id, so they can be counted once.

    Examples
    --------
    >>> source_ids(["a", "cor/noise/1:a", "b"], ["iid", "cor/noise/1", "iid"]).tolist()
    ['a', 'a', 'b']
    """
    ids = np.asarray(sample_id, dtype=str)
    sets = np.asarray(test_set, dtype=str)
    prefix = np.char.add(sets, ":")
    shifted = np.char.startswith(ids, prefix)
    out = ids.copy()
    if shifted.any():
        lengths = np.char.str_len(prefix[shifted])
        out[shifted] = [i[k:] for i, k in zip(ids[shifted], lengths, strict=True)]
    return out


def infer_role(name: str, values: pd.Series, test_set=None) -> ColumnRole:
    """The role of a column nobody declared, from its name and values.

    Rules, first match wins. By name: ``gt_*`` is ground truth; a known identifier name
    (``patient_id``, ``*_id``, ``md5``) an identifier; a known index name a row index; a
    file name a file; a known clinical or acquisition name that role. By values: an
    integer column that counts up by one from row to row is a row index; path-like
    strings are files; strings unique to most samples of a test set (integers: to nearly
    all) are identifiers. Anything else is an attribute.

    Parameters
    ----------
    name : str
    values : Series
    test_set : array of str, optional
        Uniqueness is measured within each test set, where copies of an image do not repeat.

    Examples
    --------
    >>> import pandas as pd
    >>> infer_role("source_index", pd.Series([0, 1, 2, 0, 1])).role
    'index'
    >>> infer_role("age", pd.Series([40, 51, 40, 70])).role
    'clinical'
    >>> infer_role("code", pd.Series([f"P{i}" for i in range(50)])).reason
    'has a different value for 100% of the samples of a test set: it names samples (inferred)'
    """
    import pandas as pd

    lower = str(name).lower()
    present = values.dropna()

    def inferred(role: str, why: str) -> ColumnRole:
        return ColumnRole(role, "inferred", f"{why} (inferred)")

    if lower.startswith(GROUND_TRUTH_PREFIX):
        return inferred("ground_truth", ROLE_REASONS["ground_truth"])
    if lower in _IDENTIFIER_NAMES or lower.endswith(("_id", "_uid", "_hash")):
        return inferred("identifier", f"is named like an identifier ({name!r})")
    if lower in _INDEX_NAMES or lower.endswith(("_index", "_idx")):
        return inferred("index", f"is named like a row index ({name!r})")
    if lower in _FILE_NAMES or lower.endswith(("_file", "_path", "_filename")):
        return inferred("file", f"is named like a file name ({name!r})")
    if lower in _CLINICAL_NAMES:
        return inferred("clinical", ROLE_REASONS["clinical"])
    if lower in _ACQUISITION_NAMES:
        return inferred("acquisition", ROLE_REASONS["acquisition"])
    is_bool = pd.api.types.is_bool_dtype(values)
    is_int = pd.api.types.is_integer_dtype(values) and not is_bool
    # a row number restarts per split or test set, but otherwise counts up by one; codes
    # that cycle through a few values (site 1..7) are not row numbers
    if is_int and len(present) >= 20 and present.nunique() >= 20:
        steps = np.diff(present.to_numpy(dtype=np.int64))
        if np.mean(steps == 1) >= 0.95:
            return inferred("index", "counts up by one from row to row: it is a row index")
    is_text = not is_bool and not pd.api.types.is_numeric_dtype(values)
    if is_text and len(present):
        sample = present.astype(str).head(200)
        if sample.map(lambda v: bool(_PATH_LIKE.search(v))).mean() >= 0.9:
            return inferred("file", "holds file names or paths")
    # Strings unique to most samples are codes; integers must be unique to nearly all of
    # many samples, since a measured integer (age in years) can vary a lot in a small set.
    if (is_text and len(present) >= 20) or (is_int and len(present) >= 50):
        share = _unique_share(values, test_set)
        if share > (0.5 if is_text else 0.9):
            return inferred(
                "identifier",
                f"has a different value for {share:.0%} of the samples of a test set: it names samples",
            )
    return inferred("attribute", ROLE_REASONS["attribute"])


def _unique_share(values: pd.Series, test_set) -> float:
    groups = [np.ones(len(values), bool)] if test_set is None else None
    if groups is None:
        sets = np.asarray(test_set)
        groups = [sets == name for name in np.unique(sets)]
    best = 0.0
    for mask in groups:
        part = values[mask].dropna()
        if len(part) >= 20:
            best = max(best, part.nunique() / len(part))
    return best


def label_association(values, label, random_state: int = 0) -> float | None:
    """Balanced accuracy of predicting ``label`` from one column alone (2-fold, majority per level).

    Numeric columns with many values are cut at 20 quantiles first; a missing value is
    its own level. Returns None with fewer than :data:`MIN_SAMPLES_FOR_LABEL_CHECK` samples
    or a single class.

    Examples
    --------
    >>> import pandas as pd
    >>> label = np.arange(100) % 3
    >>> label_association(pd.Series(np.array(["a", "b", "c"])[label]), label)
    1.0
    """
    import pandas as pd

    label = np.asarray(label)
    values = pd.Series(values).reset_index(drop=True)
    if len(values) < MIN_SAMPLES_FOR_LABEL_CHECK or len(np.unique(label)) < 2:
        return None
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique() > _NUMERIC_LEVELS:
        x = values.to_numpy(dtype=float, na_value=np.nan)
        cuts = np.unique(np.nanquantile(x, np.linspace(0, 1, _NUMERIC_LEVELS + 1)[1:-1]))
        codes = np.where(np.isnan(x), -1, np.searchsorted(cuts, x, side="right"))
    else:
        codes = pd.factorize(values.astype(object).where(values.notna(), "<missing>"))[0]
    fold = np.random.default_rng(random_state).permutation(len(label)) % 2 == 0
    scores = []
    for train in (fold, ~fold):
        test = ~train
        table = pd.crosstab(codes[train], label[train])
        mapping = table.idxmax(axis=1)
        fallback = pd.Series(label[train]).mode().iloc[0]
        predicted = pd.Series(codes[test]).map(mapping).fillna(fallback).to_numpy()
        recalls = [np.mean(predicted[label[test] == c] == c) for c in np.unique(label[test])]
        scores.append(float(np.mean(recalls)))
    return round(float(np.mean(scores)), 4)


def _label_derived(name: str, values, label, role: ColumnRole) -> ColumnRole:
    if not role.analysable or label is None:
        return role
    score = label_association(values, label)
    if score is None or score < LABEL_DERIVED_BALANCED_ACCURACY:
        return role
    return ColumnRole(
        "label_derived",
        "inferred",
        f"predicts the label with balanced accuracy {score:.2f} on its own (2-fold; "
        f"threshold {LABEL_DERIVED_BALANCED_ACCURACY}): it restates the label (inferred)",
    )


def resolve_roles(
    metadata: pd.DataFrame | None,
    declared: Mapping | None = None,
    *,
    label=None,
    test_set=None,
) -> dict[str, ColumnRole]:
    """The role of every metadata column: declared (or recorded) roles kept, the rest inferred.

    Parameters
    ----------
    metadata : DataFrame or None
    declared : mapping of column to role name, recorded dict or ColumnRole, optional
        What the source knows (an adapter, an importer, the user, or the store's record).
    label : array of int, optional
        With it, analysable columns that predict the label almost perfectly become
        ``label_derived`` (see :func:`label_association`).
    test_set : array of str, optional
        See :func:`infer_role`.

    Raises
    ------
    ValueError
        If a declared column is not in the metadata or a role name is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> meta = pd.DataFrame({"source_index": range(40), "age": np.arange(40) % 7 + 40})
    >>> {c: r.role for c, r in resolve_roles(meta).items()}
    {'source_index': 'index', 'age': 'clinical'}
    """
    declared = dict(declared or {})
    columns = [] if metadata is None else [str(c) for c in metadata.columns]
    unknown = [c for c in declared if c not in columns]
    if unknown:
        raise ValueError(
            f"metadata roles name column(s) {unknown} that the metadata does not have "
            f"(its columns: {', '.join(columns) or 'none'}); fix the names"
        )
    roles = {}
    for column in columns:
        if column in declared:
            roles[column] = as_role(declared[column], column)
            continue
        values = metadata[column]
        role = infer_role(column, values, test_set)
        roles[column] = _label_derived(column, values, label, role)
    return roles


def roles_of(audit) -> dict[str, ColumnRole]:
    """The role of every current metadata column of an AuditSet.

    The recorded roles, plus inferred ones for columns added to ``audit.metadata`` after
    construction (recorded roles of columns since removed are dropped).
    """
    if audit.metadata is None:
        return {}
    recorded = audit.metadata_roles or {}
    if list(recorded) == list(audit.metadata.columns):
        return dict(recorded)
    kept = {c: r for c, r in recorded.items() if c in audit.metadata.columns}
    return resolve_roles(audit.metadata, kept, label=audit.label, test_set=audit.test_set)


def analysable_columns(
    roles: Mapping[str, ColumnRole],
    columns=None,
    *,
    keep_label_derived: bool = False,
) -> tuple[list[str], list[tuple[str, str]]]:
    """The columns an analysis may use, and each column left out with its reason.

    Parameters
    ----------
    roles : mapping of column to ColumnRole
        Usually ``audit.metadata_roles``.
    columns : sequence of str, optional
        Columns the user asked for; default every column. Asked-for columns are filtered by
        role too: an identifier named on purpose is still an identifier (declare its role
        instead to analyse it).
    keep_label_derived : bool, default False
        Keep ``label_derived`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> roles = resolve_roles(pd.DataFrame({"source_index": range(40), "sex": ["F", "M"] * 20}))
    >>> kept, left_out = analysable_columns(roles)
    >>> kept, left_out[0][0]
    (['sex'], 'source_index')
    """
    names = list(roles) if columns is None else [str(c) for c in columns]
    kept, left_out = [], []
    for name in names:
        role = roles.get(name)
        if role is None:
            raise ValueError(f"metadata has no column {name!r}; available: {', '.join(roles)}")
        if role.analysable or (keep_label_derived and role.role == "label_derived"):
            kept.append(name)
            continue
        why = role.reason
        if role.role == "label_derived":
            why += "; pass keep_label_derived=True (CLI: --keep-label-derived) to use it"
        left_out.append((name, why))
    return kept, left_out


def describe_left_out(left_out: list[tuple[str, str]]) -> list[str]:
    """One sentence per reason a metadata column was left out, for notes and warnings.

    Columns left out for the same reason share a sentence: nine planted ground-truth
    columns are one note, not nine.

    Examples
    --------
    >>> describe_left_out([("gt_a", "holds planted ground truth"), ("id", "is an identifier"),
    ...                    ("gt_b", "holds planted ground truth")])
    ["metadata columns 'gt_a', 'gt_b' left out: each holds planted ground truth", "metadata column 'id' left out: it is an identifier"]
    """
    by_reason: dict[str, list[str]] = {}
    for name, why in left_out:
        by_reason.setdefault(why, []).append(name)
    return [
        f"metadata column {names[0]!r} left out: it {why}"
        if len(names) == 1
        else f"metadata columns {', '.join(map(repr, names))} left out: each {why}"
        for why, names in by_reason.items()
    ]


def text_label_association(text, label, groups=None, random_state: int = 0) -> float | None:
    """Cross-validated balanced accuracy of a bag-of-words classifier of the label from text.

    Samples with the same ``groups`` value (copies of one image) are counted once. Returns
    None when there are too few samples, a single class, or no words.

    Examples
    --------
    >>> label = np.arange(60) % 2
    >>> text = np.where(label == 1, "diabetic retinopathy", "normal fundus")
    >>> text_label_association(text, label)
    1.0
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    text = np.asarray(text, dtype=str)
    label = np.asarray(label)
    if groups is not None:
        _, first = np.unique(np.asarray(groups, dtype=str), return_index=True)
        first = np.sort(first)
        text, label = text[first], label[first]
    if len(text) > TEXT_CHECK_ROWS:
        rows = np.random.default_rng(random_state).choice(len(text), TEXT_CHECK_ROWS, replace=False)
        text, label = text[np.sort(rows)], label[np.sort(rows)]
    classes, counts = np.unique(label, return_counts=True)
    if len(text) < MIN_SAMPLES_FOR_LABEL_CHECK or len(classes) < 2:
        return None
    try:
        words = CountVectorizer(binary=True, token_pattern=r"(?u)\b[a-zA-Z]{2,}\b").fit_transform(
            text
        )
    except ValueError:  # empty vocabulary: no words at all
        return None
    folds = int(min(3, counts.min()))
    if folds < 2:
        return None
    cv = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    model = LogisticRegression(max_iter=2000, C=10.0)
    predicted = cross_val_predict(model, words, label, cv=cv)
    recalls = [np.mean(predicted[label == c] == c) for c in classes]
    return round(float(np.mean(recalls)), 4)


def text_label_derived(audit) -> str | None:
    """Why the AuditSet's report text restates the label, or None if it does not (or no text).

    Examples
    --------
    >>> from silentscope.audit import AuditSet
    >>> label = np.arange(60) % 2
    >>> audit = AuditSet(sample_id=[str(i) for i in range(60)], test_set=["iid"] * 60,
    ...                  label=label, logits=np.eye(2)[label] * 3, class_names=["n", "y"],
    ...                  text=np.where(label == 1, "drusen seen", "normal fundus"))
    >>> text_label_derived(audit)[:40]
    'the report text predicts the label with '
    """
    if audit.text is None:
        return None
    score = text_label_association(
        audit.text, audit.label, source_ids(audit.sample_id, audit.test_set)
    )
    if score is None or score < LABEL_DERIVED_BALANCED_ACCURACY:
        return None
    return (
        f"the report text predicts the label with balanced accuracy {score:.2f} "
        f"(bag-of-words classifier, cross-validated; threshold {LABEL_DERIVED_BALANCED_ACCURACY}): "
        "it is written from the same annotation and restates the label"
    )


__all__ = [
    "ANALYSABLE",
    "ColumnRole",
    "LABEL_DERIVED_BALANCED_ACCURACY",
    "ROLES",
    "analysable_columns",
    "as_role",
    "describe_left_out",
    "infer_role",
    "label_association",
    "resolve_roles",
    "roles_of",
    "source_ids",
    "text_label_association",
    "text_label_derived",
]
