"""The joint representation that slices are searched in: image, report text and metadata.

Each modality becomes a numeric block: the classifier's features (or any image
embedding), a report embedding (:mod:`silentscope.text.embeddings`) and encoded
metadata (numeric columns standardised, categorical columns one-hot). Blocks are fused
in one of two ways:

``weighted`` (default)
    Each block is centred, reduced by PCA to at most ``n_components`` directions,
    scaled to total variance ``w_m`` (its weight), and given per-dimension likelihood
    weights ``(w_m / sum_j w_j) * d_mean / d_m`` (``d_m`` its dimension, ``d_mean`` the
    mean over blocks). The scaling balances Euclidean methods (k-means, Spotlight); the
    dimension weights balance likelihood methods, in which a block of 128 dimensions
    would otherwise outvote a block of 5 (the weakness of plain concatenation noted by
    Liu, Bhatia and Fetit 2026). The weights sum to ``d_mean`` whatever the number of
    modalities, so adding a modality does not dilute the error-aware terms of the
    slicer: a single block keeps weight 1 per dimension.
``concat``
    Raw blocks side by side, then one PCA to ``n_components * n_blocks`` directions, as
    in Domino (Eyuboglu et al. 2022) and Liu et al.: kept for comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from silentscope.audit.roles import (
    GROUND_TRUTH_PREFIX,
    analysable_columns,
    resolve_roles,
    roles_of,
)
from silentscope.data.appearance import (
    APPEARANCE_COLUMNS,
    SIZE_LIMITED_COLUMNS,
    SMALLEST_SPOT_SIDE,
    measured_columns,
)
from silentscope.text.embeddings import make_text_embedder

#: Built-in modalities; any other name must come with a user-supplied embedding.
MODALITIES = ("image", "text", "metadata", "appearance")
FUSIONS = ("weighted", "concat")


@dataclass
class Representation:
    """A fused representation with its blocks and per-dimension likelihood weights.

    Attributes
    ----------
    matrix : ndarray, shape (N, D)
    dim_weights : ndarray, shape (D,)
        Likelihood weight of each dimension (all ones for ``concat``).
    blocks : dict of str to slice
        Columns of each modality in ``matrix`` (``concat`` has one block ``"joint"``).
    fusion : str
    notes : list of str
        What was done to the inputs that a user should know (columns encoded, constant
        columns left out, categories pooled).
    """

    matrix: np.ndarray
    dim_weights: np.ndarray
    blocks: dict[str, slice]
    fusion: str
    notes: list[str] = field(default_factory=list)

    @property
    def n_features(self) -> int:
        return self.matrix.shape[1]


def encode_metadata(
    metadata: pd.DataFrame, columns: Sequence[str] | None = None, max_categories: int = 20
) -> tuple[np.ndarray, list[str], list[str]]:
    """Numeric encoding of a metadata table: standardised numbers, one-hot categories.

    Parameters
    ----------
    metadata : DataFrame, N rows
    columns : sequence of str, optional
        Columns to encode; default :func:`default_metadata_columns`.
    max_categories : int, default=20
        A categorical column keeps its ``max_categories - 1`` most frequent values and
        pools the rest into ``other``.

    Returns
    -------
    matrix : ndarray, shape (N, P)
    names : list of str
        One name per output column (``age``, ``sex=Female``, ``age=missing``).
    notes : list of str
        Constant columns left out, pooled categories, missing values encoded.

    Notes
    -----
    A missing number is encoded as the column mean (0 after standardisation) plus an
    indicator column ``<name>=missing``; a missing category is its own value
    ``missing``. Booleans are categories.

    Examples
    --------
    >>> frame = pd.DataFrame({"age": [20, 40, 60], "sex": ["F", "M", "F"]})
    >>> matrix, names, notes = encode_metadata(frame)
    >>> names
    ['age', 'sex=F', 'sex=M']
    >>> matrix[:, 0].round(3).tolist()
    [-1.225, 0.0, 1.225]
    """
    if not isinstance(metadata, pd.DataFrame):
        raise TypeError(f"metadata must be a pandas DataFrame, got {type(metadata).__name__}")
    if columns is None:
        columns = default_metadata_columns(metadata)
    missing = [c for c in columns if c not in metadata.columns]
    if missing:
        raise ValueError(
            f"metadata has no column(s) {missing}; available: {', '.join(map(str, metadata.columns))}"
        )
    parts, names, notes = [], [], []
    for column in columns:
        values = metadata[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric:
            x = values.to_numpy(dtype=np.float64)
            finite = np.isfinite(x)
            if finite.sum() == 0 or np.nanstd(x[finite]) == 0:
                notes.append(f"metadata column {column!r} is constant and was left out")
                continue
            mean, std = x[finite].mean(), x[finite].std()
            parts.append(np.where(finite, (x - mean) / std, 0.0)[:, None])
            names.append(str(column))
            if not finite.all():
                parts.append((~finite).astype(np.float64)[:, None])
                names.append(f"{column}=missing")
                notes.append(
                    f"metadata column {column!r}: {int((~finite).sum())} missing values encoded as mean + indicator"
                )
            continue
        labels = values.astype(object).where(values.notna(), "missing").astype(str)
        counts = labels.value_counts()
        if len(counts) < 2:
            notes.append(f"metadata column {column!r} is constant and was left out")
            continue
        if len(counts) > max_categories:
            keep = set(counts.index[: max_categories - 1])
            notes.append(
                f"metadata column {column!r}: {len(counts) - len(keep)} rare values pooled into 'other'"
            )
            labels = labels.where(labels.isin(keep), "other")
        categories = sorted(labels.unique())
        parts.append(
            (labels.to_numpy()[:, None] == np.array(categories)[None, :]).astype(np.float64)
        )
        names.extend(f"{column}={value}" for value in categories)
    if not parts:
        raise ValueError(
            "no usable metadata column (all constant); choose other columns or drop the 'metadata' modality"
        )
    return np.hstack(parts), names, notes


def default_metadata_columns(metadata: pd.DataFrame) -> list[str]:
    """Metadata columns used unless chosen: the analysable ones by their inferred roles.

    Identifiers, row indices, file names and ``gt_*`` ground truth are left out (see
    :mod:`silentscope.audit.roles`; an AuditSet's recorded roles, which also know the
    label-derived columns, are used by :func:`modality_blocks` instead).

    Examples
    --------
    >>> default_metadata_columns(pd.DataFrame({"patient_id": [1, 2], "age": [40, 60],
    ...                                        "gt_slice_rare": [True, False]}))
    ['age']
    """
    return analysable_columns(resolve_roles(metadata))[0]


def _check_block(name: str, values, n: int) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype not in (np.float32, np.float64):  # float32 stays: half the memory for PCA
        array = array.astype(np.float64)
    if array.ndim != 2 or array.shape[0] != n:
        raise ValueError(f"the {name!r} embedding must have shape ({n}, D), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(
            f"the {name!r} embedding has NaN or infinite values; fix them before slicing"
        )
    return array


def modality_blocks(
    audit,
    modalities: Sequence[str] | None = None,
    embeddings: Mapping[str, np.ndarray] | None = None,
    text_embedding: str = "tfidf_svd",
    metadata_columns: Sequence[str] | None = None,
    random_state=0,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The numeric block of each requested modality of an AuditSet.

    ``embeddings[name]`` overrides a built-in block (e.g. a foundation-model image
    embedding instead of the classifier's features) and adds new modalities.

    Examples
    --------
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...     logits=[[2.0, 0.0], [0.0, 2.0]], class_names=["no", "yes"],
    ...     features=np.eye(2), metadata=pd.DataFrame({"age": [30, 70]}))
    >>> blocks, notes = modality_blocks(audit, ["image", "metadata"])
    >>> {name: block.shape for name, block in blocks.items()}
    {'image': (2, 2), 'metadata': (2, 1)}
    """
    embeddings = dict(embeddings or {})
    if modalities is None:  # the classic three, and the appearance measures where measured
        measured = measured_columns(audit.metadata if audit.has("metadata") else None)
        modalities = MODALITIES if measured else MODALITIES[:3]
    if len(modalities) == 0:
        raise ValueError("choose at least one modality: image, text, metadata or appearance")
    if len(set(modalities)) != len(modalities):
        raise ValueError(f"modalities are repeated: {list(modalities)}")
    n = audit.n_samples
    blocks, notes = {}, []
    for name in modalities:
        if name in embeddings:
            blocks[name] = _check_block(name, embeddings[name], n)
        elif name == "image":
            if audit.features is None:
                raise ValueError(
                    "the 'image' modality needs the classifier's features in the AuditSet or "
                    "an image embedding passed as embeddings={'image': array}"
                )
            blocks[name] = _check_block(name, audit.features, n)
        elif name == "text":
            if audit.text is None:
                raise ValueError(
                    "the 'text' modality needs report text in the AuditSet; add it or drop 'text'"
                )
            embedder = make_text_embedder(
                text_embedding,
                **({"random_state": random_state} if text_embedding == "tfidf_svd" else {}),
            )
            blocks[name] = embedder.fit_transform(audit.text)
            notes.append(f"text embedded with {text_embedding} ({blocks[name].shape[1]} dims)")
        elif name == "appearance":
            blocks[name], appearance_notes = appearance_block(audit.metadata)
            notes.extend(appearance_notes)
        elif name == "metadata":
            if not audit.has("metadata"):
                raise ValueError(
                    "the 'metadata' modality needs metadata columns in the AuditSet; add them or drop 'metadata'"
                )
            if metadata_columns is None:
                # the AuditSet's recorded roles: identifiers and label-derived columns stay out
                metadata_columns = analysable_columns(roles_of(audit))[0]
                if not metadata_columns:
                    raise ValueError(
                        "the 'metadata' modality has no analysable column (see `silentscope "
                        "info`: identifiers, row indices, file names and label-derived columns "
                        "are left out); drop 'metadata' or declare a column's role"
                    )
            # the image's appearance measures are their own modality, not patient metadata:
            # eleven measures of one image would outweigh age and sex in one block
            own = [c for c in metadata_columns if c not in APPEARANCE_COLUMNS]
            if not own:
                raise ValueError(
                    "the 'metadata' modality has no column besides the image appearance "
                    "measures (the 'appearance' modality); drop 'metadata'"
                )
            matrix, names, meta_notes = encode_metadata(audit.metadata, own)
            blocks[name] = matrix
            notes.extend(meta_notes)
            notes.append(
                f"metadata encoded as {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}"
            )
        else:
            raise ValueError(
                f"unknown modality {name!r} without an embedding; use {', '.join(MODALITIES)} "
                "or pass embeddings={name: array}"
            )
    return blocks, notes


#: Appearance measures whose values span orders of magnitude: compared on a log scale.
_LOG_SCALE_MEASURES = (
    "image sharpness", "image noise", "image row banding", "image column banding",
    "image dark spots",
)  # fmt: skip


#: Appearance measures that are ratios of two brightnesses: compared as logarithms.
_RATIO_MEASURES = ("image edge-to-centre brightness", "image top-to-bottom brightness")


def appearance_block(metadata) -> tuple[np.ndarray, list[str]]:
    """The ``appearance`` modality: the image appearance measures of the metadata, standardised.

    Sharpness, noise and banding are taken on a log scale (a blur divides sharpness, it
    does not subtract from it), and so are the brightness ratios and the count of dark spots;
    constant measures (saturation of grey images) and a measure taken on no image (dark spots
    on small images) are left out, and the note says which.

    Examples
    --------
    >>> from silentscope.data.appearance import appearance_measures
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 255, (6, 8, 8), dtype=np.uint8)
    >>> block, notes = appearance_block(appearance_measures(images))
    >>> block.shape
    (6, 12)
    >>> print(notes[0])
    appearance: 12 measures (left out as constant: image saturation, image red-green, image blue-yellow) (not measured on every image: image dark spots; images under 24 px)
    """
    present = measured_columns(metadata)
    if not present:
        raise ValueError(
            "the 'appearance' modality needs the image appearance measures (columns 'image "
            "brightness', 'image sharpness', ...) in the metadata: audits made by silentscope "
            "have them; add them with silentscope.data.appearance.appearance_measures, or "
            "drop 'appearance'"
        )
    # a measure not taken on images too small for it (dark spots) is left out where some
    # or all images are that small, said in the note; any other missing value is an error
    unmeasured = [
        name for name in present if name in SIZE_LIMITED_COLUMNS and metadata[name].isna().any()
    ]
    present = [name for name in present if name not in unmeasured]
    values = metadata[present].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(
            "the image appearance measures have missing or infinite values; measure every "
            "image (silentscope.data.appearance.appearance_measures) or drop 'appearance'"
        )
    columns, constant = [], []
    for j, name in enumerate(present):
        x = values[:, j]
        if name in _LOG_SCALE_MEASURES:
            x = np.log1p(np.maximum(x, 0))
        elif name in _RATIO_MEASURES:  # a ratio and its inverse lie as far from 1
            x = np.log(np.maximum(x, 1e-6))
        spread = x.std()
        if spread <= 1e-12 * max(abs(x.mean()), 1.0):
            constant.append(name)
            continue
        columns.append((x - x.mean()) / spread)
    if not columns:
        raise ValueError(
            "the image appearance measures are the same for every image; drop 'appearance'"
        )
    note = f"appearance: {len(columns)} measures"
    if constant:
        note += f" (left out as constant: {', '.join(constant)})"
    if unmeasured:
        note += (
            f" (not measured on every image: {', '.join(unmeasured)}; images under "
            f"{SMALLEST_SPOT_SIDE} px)"
        )
    return np.column_stack(columns), [note]


#: PCA directions are estimated on at most this many rows (a random subset), then every
#: row is projected: the leading directions of 20,000 samples are those of 100,000 to
#: within sampling noise, at a fifth of the passes over the data.
PCA_FIT_ROWS = 20_000


def _reduce(block: np.ndarray, n_components: int, random_state) -> np.ndarray:
    if block.shape[1] <= n_components:
        return block - block.mean(axis=0)
    k = min(n_components, block.shape[0] - 1)
    if min(block.shape) <= 4 * k:
        # exact PCA; for tall blocks via the eigen-decomposition of the d x d covariance,
        # which is much cheaper than the SVD of an N x d matrix when N >> d
        tall = block.shape[0] >= 10 * block.shape[1]
        return PCA(k, svd_solver="covariance_eigh" if tall else "full").fit_transform(block)
    # three power iterations resolve the leading directions well enough to slice in, at
    # less than half the passes over the data of scikit-learn's default (seven)
    pca = PCA(k, svd_solver="randomized", iterated_power=3, random_state=random_state)
    if block.shape[0] <= PCA_FIT_ROWS:
        return pca.fit_transform(block)
    rows = np.random.default_rng(random_state).choice(block.shape[0], PCA_FIT_ROWS, replace=False)
    return pca.fit(block[np.sort(rows)]).transform(block)


def fuse_blocks(
    blocks: Mapping[str, np.ndarray],
    fusion: str = "weighted",
    weights: Mapping[str, float] | None = None,
    n_components: int = 32,
    random_state=0,
) -> Representation:
    """Fuse modality blocks into one representation (see the module docstring).

    Parameters
    ----------
    blocks : mapping of str to ndarray, each (N, d_m)
    fusion : {"weighted", "concat"}, default="weighted"
    weights : mapping of str to float, optional
        Relative weight of each modality (``weighted`` only); default 1 each.
    n_components : int, default=32
        PCA directions per block (``weighted``) or per block on average (``concat``).
    random_state : int or None, default=0

    Returns
    -------
    Representation

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rep = fuse_blocks({"image": rng.normal(size=(50, 40)), "metadata": rng.normal(size=(50, 2))},
    ...                   n_components=8)
    >>> rep.matrix.shape, rep.dim_weights.round(2).tolist()[-2:]
    ((50, 10), [1.25, 1.25])
    """
    if fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {fusion!r}; choose from {', '.join(FUSIONS)}")
    if not blocks:
        raise ValueError("no modality block to fuse")
    if int(n_components) < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}")
    weights = dict(weights or {})
    unknown = set(weights) - set(blocks)
    if unknown:
        raise ValueError(
            f"weights given for modalities not used: {sorted(unknown)}; used: {sorted(blocks)}"
        )
    if any(not (w > 0 and np.isfinite(w)) for w in weights.values()):
        raise ValueError(f"modality weights must be positive numbers, got {weights}")
    if fusion == "concat":
        joint = np.hstack([np.asarray(b, dtype=np.float64) for b in blocks.values()])
        reduced = _reduce(joint, int(n_components) * len(blocks), random_state)
        return Representation(
            reduced, np.ones(reduced.shape[1]), {"joint": slice(0, reduced.shape[1])}, fusion
        )
    reduced = {}
    for name, block in blocks.items():
        part = _reduce(np.asarray(block), int(n_components), random_state).astype(np.float64)
        total = part.var(axis=0).sum()
        if total <= 0:
            raise ValueError(f"the {name!r} block is constant over the samples; drop that modality")
        reduced[name] = part * np.sqrt(weights.get(name, 1.0) / total)
    dims = {name: part.shape[1] for name, part in reduced.items()}
    mean_dim = float(np.mean(list(dims.values())))
    share = {name: weights.get(name, 1.0) for name in reduced}
    total = sum(share.values())
    matrix = np.hstack(list(reduced.values()))
    dim_weights = np.concatenate(
        [np.full(dims[name], share[name] / total * mean_dim / dims[name]) for name in reduced]
    )
    edges = np.cumsum([0, *dims.values()])
    spans = {
        name: slice(int(a), int(b))
        for name, a, b in zip(reduced, edges[:-1], edges[1:], strict=True)
    }
    return Representation(matrix, dim_weights, spans, fusion)


def build_representation(
    audit,
    modalities: Sequence[str] | None = None,
    fusion: str = "weighted",
    weights: Mapping[str, float] | None = None,
    n_components: int = 32,
    embeddings: Mapping[str, np.ndarray] | None = None,
    text_embedding: str = "tfidf_svd",
    metadata_columns: Sequence[str] | None = None,
    random_state=0,
) -> Representation:
    """The fused representation of an AuditSet's samples (blocks, then fusion).

    Parameters are those of :func:`modality_blocks` and :func:`fuse_blocks`. The
    representation is unsupervised: labels, predictions and errors never enter it, so
    it can be built once over all samples without leaking into the held-out check.

    Examples
    --------
    >>> from silentscope.audit import AuditSet
    >>> rng = np.random.default_rng(0)
    >>> audit = AuditSet(sample_id=[str(i) for i in range(40)], test_set=["iid"] * 40,
    ...     label=rng.integers(0, 2, 40), logits=rng.normal(size=(40, 2)),
    ...     class_names=["no", "yes"], features=rng.normal(size=(40, 16)),
    ...     text=rng.choice(["No effusion.", "Small effusion.", "Cardiomegaly."], 40),
    ...     metadata=pd.DataFrame({"age": rng.integers(20, 90, 40)}))
    >>> rep = build_representation(audit, n_components=4)
    >>> sorted(rep.blocks), rep.matrix.shape[0]
    (['image', 'metadata', 'text'], 40)
    """
    blocks, notes = modality_blocks(
        audit, modalities, embeddings, text_embedding, metadata_columns, random_state
    )
    representation = fuse_blocks(blocks, fusion, weights, n_components, random_state)
    representation.notes = notes
    return representation


__all__ = [
    "class_blind_blocks",
    "class_centred",
    "FUSIONS",
    "GROUND_TRUTH_PREFIX",
    "MODALITIES",
    "appearance_block",
    "Representation",
    "build_representation",
    "default_metadata_columns",
    "encode_metadata",
    "fuse_blocks",
    "modality_blocks",
]


def class_centred(X, y, rows=None) -> np.ndarray:
    """``X`` minus the mean of its true class (means over ``rows``, default all).

    What separates the classes is what the classifier learnt; a cause that cuts across
    classes (an image artefact, a device) is an offset shared by every class, which the
    class means hide: after centring, hazy images of every class lie together.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    >>> class_centred(X, [0, 0, 1, 1]).tolist()
    [[0.0, -0.5], [0.0, 0.5], [0.0, -0.5], [0.0, 0.5]]
    """
    X = np.asarray(X)
    y = np.asarray(y)
    rows = np.arange(len(y)) if rows is None else np.asarray(rows)
    classes, index = np.unique(y, return_inverse=True)
    means = np.zeros((len(classes), X.shape[1]), dtype=X.dtype)
    for k, label in enumerate(classes):
        members = rows[y[rows] == label]
        if len(members):  # a class absent from rows keeps its own mean over all samples
            means[k] = X[members].mean(axis=0)
        else:
            means[k] = X[y == label].mean(axis=0)
    return X - means[index]


#: Directions per block of the class-blind representation (after class centring).
CLASS_BLIND_DIMS = 16


def class_blind_blocks(
    representation: Representation, y, rows=None, n_dims: int = CLASS_BLIND_DIMS
) -> tuple[np.ndarray, dict[str, slice], np.ndarray]:
    """Each block of a representation centred per class and whitened: what class-blind views read.

    Every block (weighted fusion) is centred on its true class's mean
    (:func:`class_centred`), reduced by PCA to at most ``n_dims`` directions (fitted on
    ``rows``) and each direction scaled to unit variance. In the fused representation a
    block keeps its PCA spectrum, so the few directions that carry the most variance (in
    a classifier's features: the classes) decide what a mixture splits first; a small
    group shifted along a minor direction (8% of images under a haze, which a linear probe
    separates perfectly) stays inside larger components. Whitened, that direction weighs
    like every other, and a diagonal Gaussian mixture gives the group its own component.

    Returns
    -------
    matrix : ndarray, shape (N, D')
    blocks : dict of str to slice
        Columns of each modality in ``matrix``.
    dim_weights : ndarray, shape (D',)
        Likelihood weights that give every block the same total weight, mean 1.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rep = fuse_blocks({"image": rng.normal(size=(60, 40)), "metadata": rng.normal(size=(60, 2))},
    ...                   n_components=8)
    >>> matrix, blocks, weights = class_blind_blocks(rep, rng.integers(0, 2, 60), n_dims=4)
    >>> matrix.shape, blocks["metadata"], matrix.std(axis=0).round(6).tolist()[:2]
    ((60, 6), slice(4, 6, None), [1.0, 1.0])
    >>> weights.round(2).tolist()
    [0.75, 0.75, 0.75, 0.75, 1.5, 1.5]
    """
    X = representation.matrix
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    parts, blocks, start = [], {}, 0
    for name, columns in representation.blocks.items():
        centred = class_centred(X[:, columns], y, rows)
        k = int(min(n_dims, centred.shape[1], max(len(rows) - 1, 1)))
        pca = PCA(n_components=k, random_state=0).fit(centred[rows])
        part = pca.transform(centred)
        scale = part[rows].std(axis=0)
        keep = scale > 1e-9 * max(float(scale.max()), 1e-300)
        part = part[:, keep] / scale[keep]
        parts.append(part)
        blocks[name] = slice(start, start + part.shape[1])
        start += part.shape[1]
    dims = np.array([b.stop - b.start for b in blocks.values()], dtype=float)
    weights = np.concatenate([np.full(int(d), dims.mean() / d) for d in dims])
    return np.hstack(parts), blocks, weights
