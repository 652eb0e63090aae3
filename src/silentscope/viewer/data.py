"""What the viewer serves: the columns of an audit store, read once, lean enough for a million rows.

The viewer reads the store directly with Arrow instead of building an :class:`AuditSet`:
strings (ids, report text, image references) stay in Arrow buffers and are touched only
for the rows a person hovers, and the logits are memory-mapped and reduced to predictions
in chunks. The full contract check of :func:`~silentscope.audit.store.load_audit` runs
when the embedding and the confidences are first computed
(:func:`~silentscope.viewer.prepare.prepare_store`, in its own module: this one only reads).
Saving a person's slice is :mod:`silentscope.viewer.user_slices`.

Every colourable quantity becomes a :class:`Column`: categorical (int16 codes, -1 for
missing) or continuous (float32, NaN for missing).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from silentscope.audit.columns import (
    CONFIDENCE_PREFIX,
    METADATA_PREFIX,
    OUTCOME_PREFIX,
    RISK_COLUMN,
    prefixed,
)
from silentscope.audit.integrity import check_store_files
from silentscope.audit.jsonsafe import json_safe
from silentscope.audit.store import (
    SAMPLES,
    artifact_path,
    list_artifacts,
    read_artifact,
    read_manifest,
)
from silentscope.audit.test_sets import label_name, parse_test_set, test_set_sort_key
from silentscope.audit.validation import AuditSetError
from silentscope.viewer.arrow import arrow_numbers
from silentscope.viewer.artifacts import (
    CONFIDENCES_ARTIFACT,
    CONFIDENCES_INFO_ARTIFACT,
    EMBEDDING_ARTIFACT,
    EMBEDDING_INFO_ARTIFACT,
    SLICE_ID_COLUMNS,
    SLICES_MEMBERSHIP_ARTIFACT,
    SLICES_SETTINGS_ARTIFACT,
    SLICES_SUMMARY_ARTIFACT,
    USER_SLICES_ARTIFACT,
)
from silentscope.viewer.subgroups import SUBGROUPS_ARTIFACT, subgroup_rows

#: A numeric metadata column with at most this many distinct values is shown as categories.
MAX_NUMERIC_CATEGORIES = 12
#: A text metadata column with more distinct values than this is identifier-like: not coloured.
MAX_CATEGORIES = 64
_CHUNK = 262_144


@dataclass
class Column:
    """One per-sample quantity the viewer can colour by, filter on or summarise."""

    key: str
    label: str
    group: str
    kind: str  # "categorical" or "continuous"
    values: np.ndarray
    categories: list[str] | None = None

    def describe(self) -> dict:
        entry = {"key": self.key, "label": self.label, "group": self.group, "kind": self.kind}
        if self.kind == "categorical":
            entry["categories"] = self.categories
        else:
            finite = self.values[np.isfinite(self.values)]
            entry["min"] = float(finite.min()) if finite.size else 0.0
            entry["max"] = float(finite.max()) if finite.size else 1.0
        entry["missing"] = int(self.missing().sum())
        return entry

    def missing(self) -> np.ndarray:
        if self.kind == "categorical":
            return self.values < 0
        return ~np.isfinite(self.values)


@dataclass
class SliceSet:
    """Named groups of rows from one source (``discovered`` by the slicer, or ``saved`` by a person)."""

    source: str
    names: list[str]
    rows: list[np.ndarray]
    summary: list[dict] = field(default_factory=list)


@dataclass
class ViewerData:
    """Everything the viewer serves about one audit store.

    Build it with :func:`load_viewer_data`.
    """

    store: Path
    class_names: tuple[str, ...]
    label: np.ndarray
    prediction: np.ndarray
    correct: np.ndarray
    test_set_names: list[str]
    test_set_codes: np.ndarray
    x: np.ndarray
    y: np.ndarray
    confidences: dict[str, np.ndarray]
    columns: dict[str, Column]
    embedding_info: dict
    string_columns: tuple[str, ...] = ()
    metadata: dict[str, pa.ChunkedArray] = field(default_factory=dict)
    slices: dict[str, SliceSet] = field(default_factory=dict)
    skipped_columns: dict[str, str] = field(default_factory=dict)
    #: Subgroups of the analysis whose members could not be rebuilt (see viewer.subgroups).
    subgroups_left_out: list[str] = field(default_factory=list)
    image_root: Path | None = None
    #: A segmentation store's per-volume risk (e.g. 1 - Dice), None for a classifier.
    risk: np.ndarray | None = None
    #: A segmentation store's mid-slices of image, label and prediction per volume
    #: (:func:`~silentscope.audit.volume_slices.slice_stack`), the source of its thumbnails.
    volume_slices: np.ndarray | None = None
    #: The voxel-level health verdict a segmentation store records (its provenance).
    recorded_health: dict | None = None
    #: What slice discovery said when it confirmed no slice ("" when it found some or never ran).
    discovery_note: str = ""
    cache: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def n_samples(self) -> int:
        return len(self.label)

    def _strings(self, name: str) -> pa.ChunkedArray | None:
        # Ids, reports and image references are read on first use: a million of them cost
        # seconds, and the first paint needs none of them.
        if name not in self.string_columns:
            return None
        with self._lock:
            if name not in self.cache:
                self.cache[name] = _read_parquet(self.store / SAMPLES, [name])[name]
            return self.cache[name]

    @property
    def sample_id(self) -> pa.ChunkedArray:
        return self._strings("sample_id")

    @property
    def text(self) -> pa.ChunkedArray | None:
        return self._strings("text")

    @property
    def image_ref(self) -> pa.ChunkedArray | None:
        return self._strings("image_ref")

    @property
    def shift_params(self) -> pa.ChunkedArray | None:
        return self._strings("shift_params")

    @property
    def has_text(self) -> bool:
        return "text" in self.string_columns

    @property
    def has_images(self) -> bool:
        return "image_ref" in self.string_columns or self.volume_slices is not None

    @property
    def is_segmentation(self) -> bool:
        return self.risk is not None

    def load_strings(self) -> None:
        """Read every lazily read column now (the server does this in the background)."""
        for name in self.string_columns:
            self._strings(name)

    @property
    def default_csf(self) -> str:
        return "MSR" if "MSR" in self.confidences else next(iter(self.confidences))

    def check_row(self, row: int) -> int:
        """``row`` as an int if it indexes a sample of this store; IndexError otherwise."""
        row = int(row)
        if not 0 <= row < self.n_samples:
            raise IndexError(f"row {row} is not a sample of this store (0..{self.n_samples - 1})")
        return row

    def row_of(self, sample_id: str) -> int:
        """The row of a sample id; KeyError if the store has no such sample."""
        found = pc.index(self.sample_id, pa.scalar(str(sample_id), pa.string())).as_py()
        if found is None or found < 0:
            raise KeyError(f"no sample {sample_id!r} in this store")
        return int(found)

    def confidence(self, csf: str | None) -> np.ndarray:
        name = csf or self.default_csf
        if name not in self.confidences:
            raise ValueError(
                f"unknown confidence {name!r}; choose one of {', '.join(self.confidences)}"
            )
        return self.confidences[name]

    def sample(self, row: int) -> dict:
        """The facts of one sample, for the hover card."""
        row = self.check_row(row)
        details = {
            "row": row,
            "sample_id": self.sample_id[row].as_py(),
            "test_set": self.test_set_names[self.test_set_codes[row]],
            "label": label_name(self.class_names, self.label[row]),  # -1: a new-class sample
            "prediction": self.class_names[self.prediction[row]],
            "correct": bool(self.correct[row]),
            "confidences": {name: float(values[row]) for name, values in self.confidences.items()},
            "metadata": {
                name: json_safe(values[row].as_py(), finite=True, fallback=str)
                for name, values in self.metadata.items()
            },
            "text": None if self.text is None else self.text[row].as_py(),
            "has_image": self.has_images,
            **({} if self.risk is None else {"risk": float(self.risk[row])}),
        }
        for slice_set in self.slices.values():
            member = [
                name
                for name, rows in zip(slice_set.names, slice_set.rows, strict=True)
                if _contains(rows, row)
            ]
            if member:
                details.setdefault("slices", {})[slice_set.source] = member
        return details


def _contains(sorted_rows: np.ndarray, row: int) -> bool:
    i = int(np.searchsorted(sorted_rows, row))
    return i < len(sorted_rows) and int(sorted_rows[i]) == row


def _read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    # ParquetFile.read rather than pq.read_table: the latter goes through pyarrow.dataset,
    # which imports pandas (a third of a second) for files that pandas wrote.
    try:
        with pq.ParquetFile(path) as file:
            return file.read(columns=columns)
    except pa.ArrowInvalid as error:
        raise AuditSetError(f"{path} is corrupt ({error}); re-create the store") from None


def _artifact_table(store: Path, name: str, columns: list[str] | None = None) -> pa.Table | None:
    path = artifact_path(store, name)  # only published artifacts (see audit.artifacts)
    return _read_parquet(path, columns) if path is not None and path.suffix == ".parquet" else None


def samples_fingerprint(manifest: dict) -> str | None:
    """The checksum of a store's per-sample table: a cache recording it was made for these samples."""
    return manifest.get("files", {}).get(SAMPLES, {}).get("sha256")


def _fresh_columns(info: dict, fingerprint: str | None, columns: list[str]) -> list[str]:
    """The artifact columns to read: without a matching fingerprint, also its ids to compare."""
    if fingerprint is not None and info.get("samples_sha256") == fingerprint:
        return columns
    return ["sample_id", *columns]


class _LazyIds:
    """The store's sample ids, read only when a cache cannot be matched by its fingerprint."""

    def __init__(self, store: Path):
        self.store = store
        self.loaded = None

    def get(self) -> pa.ChunkedArray:
        if self.loaded is None:
            self.loaded = _read_parquet(self.store / SAMPLES, ["sample_id"])["sample_id"]
        return self.loaded

    def match(self, table: pa.Table, info: dict, fingerprint: str | None) -> bool:
        if "sample_id" not in table.column_names:
            return fingerprint is not None and info.get("samples_sha256") == fingerprint
        return table["sample_id"].equals(self.get())


def _predictions(logits: np.ndarray) -> np.ndarray:
    out = np.empty(len(logits), dtype=np.int16)
    for start in range(0, len(logits), _CHUNK):
        out[start : start + _CHUNK] = np.argmax(np.asarray(logits[start : start + _CHUNK]), axis=1)
    return out


def _max_softmax(logits: np.ndarray) -> np.ndarray:
    out = np.empty(len(logits), dtype=np.float64)
    for start in range(0, len(logits), _CHUNK):
        block = np.asarray(logits[start : start + _CHUNK], dtype=np.float64)
        block = block - block.max(axis=1, keepdims=True)
        out[start : start + len(block)] = 1.0 / np.exp(block).sum(axis=1)
    return out


def _categorical(key, label, group, codes, categories) -> Column:
    return Column(
        key, label, group, "categorical", np.asarray(codes, dtype=np.int16), list(categories)
    )


def _encode_categorical(values: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Codes (-1 for missing) and category names, categories sorted naturally."""
    encoded = pc.dictionary_encode(values).combine_chunks()
    dictionary = encoded.dictionary.to_pylist()
    indices = arrow_numbers(encoded.indices, missing=-1).astype(np.int64)
    names = [str(v) for v in dictionary]
    order = sorted(range(len(dictionary)), key=lambda i: _natural_key(dictionary[i]))
    remap = np.empty(len(order) + 1, dtype=np.int16)
    remap[-1] = -1
    remap[np.asarray(order, dtype=np.int64)] = np.arange(len(order), dtype=np.int16)
    return remap[indices], [names[i] for i in order]


def _natural_key(value):
    if isinstance(value, bool | int | float):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _left_out_by_role(name: str, recorded: dict, values: pa.ChunkedArray) -> str | None:
    """Why a metadata column is neither a filter nor a summary, by its role; None if it is one.

    The roles are the store's (:mod:`silentscope.audit.roles`), so the viewer leaves out
    what slices, subgroups and the predictor leave out: an identifier such as
    ``patient_id`` is never summarised as a number. Stores written before roles were
    recorded get them inferred from the column here.
    """
    from silentscope.audit.roles import as_role, infer_role

    if name in recorded:
        role = as_role(recorded[name], name)
    else:
        role = infer_role(name, values.to_pandas())
    return None if role.analysable else f"{role.role}: it {role.reason}"


def _metadata_column(name: str, values: pa.ChunkedArray) -> Column | str:
    """A Column for a metadata field, or the reason it cannot be shown."""
    key, label = f"meta:{name}", name
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        numeric = arrow_numbers(values).astype(np.float64)
        continuous = Column(key, label, "metadata", "continuous", numeric.astype(np.float32))
        # Hashing (pc.unique) instead of sorting a million floats: with a few more raw values
        # than MAX_NUMERIC_CATEGORIES (null, NaN and -0.0 add at most one each) the column
        # is continuous whatever np.unique would say.
        raw = pc.unique(values)
        if len(raw) > MAX_NUMERIC_CATEGORIES + 3:
            return continuous
        finite = arrow_numbers(raw).astype(np.float64)
        distinct = np.unique(finite[np.isfinite(finite)])
        if len(distinct) <= MAX_NUMERIC_CATEGORIES:
            codes = np.full(len(numeric), -1, dtype=np.int16)
            finite = np.isfinite(numeric)
            codes[finite] = np.searchsorted(distinct, numeric[finite])
            names = [f"{v:g}" for v in distinct]
            return _categorical(key, label, "metadata", codes, names)
        return continuous
    if (
        pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_dictionary(kind)
    ):
        codes, names = _encode_categorical(values)
        if len(names) > MAX_CATEGORIES:
            return f"{len(names)} distinct values (identifier-like; more than {MAX_CATEGORIES} cannot be told apart by colour)"
        return _categorical(key, label, "metadata", codes, names)
    return f"type {kind} is not shown"


def _test_set_columns(names: list[str], codes: np.ndarray) -> list[Column]:
    parsed = [parse_test_set(name) for name in names]
    shift_names = []
    for p in parsed:
        if p.kind == "cor":
            shift_names.append(f"cor/{p.value}")
        elif p.kind in ("val", "iid"):
            shift_names.append(p.kind)
        else:
            shift_names.append(p.kind if p.value is None else f"{p.kind}/{p.value}")
    shifts = sorted(set(shift_names), key=test_set_sort_key)
    shift_code = np.asarray([shifts.index(s) for s in shift_names], dtype=np.int16)
    severities = sorted({p.severity or 0 for p in parsed})
    severity_code = np.asarray([severities.index(p.severity or 0) for p in parsed], dtype=np.int16)
    kinds = sorted({p.kind for p in parsed}, key=test_set_sort_key)
    kind_code = np.asarray([kinds.index(p.kind) for p in parsed], dtype=np.int16)
    return [
        _categorical("test_set", "test set", "test set", codes, names),
        _categorical("shift", "shift", "test set", shift_code[codes], shifts),
        _categorical("shift_kind", "shift kind", "test set", kind_code[codes], kinds),
        _categorical(
            "severity",
            "severity",
            "test set",
            severity_code[codes],
            ["none" if s == 0 else str(s) for s in severities],
        ),
    ]


def _slice_sets(store: Path, ids: _LazyIds, n: int) -> dict[str, SliceSet]:
    result = {}
    sources = (
        ("discovered", SLICES_MEMBERSHIP_ARTIFACT, SLICE_ID_COLUMNS),
        ("saved", USER_SLICES_ARTIFACT, ("slice",)),
    )
    for source, artifact, id_columns in sources:
        table = _artifact_table(store, artifact)
        # an empty table (discovery that confirmed nothing) is saved with untyped columns
        if table is None or "sample_id" not in table.column_names or table.num_rows == 0:
            continue
        id_column = next((c for c in id_columns if c in table.column_names), None)
        if id_column is None:
            continue
        rows = arrow_numbers(pc.index_in(table["sample_id"], value_set=ids.get()), missing=-1)
        keep = rows >= 0  # -1: ids the store does not have
        rows = rows[keep].astype(np.int64)
        slice_ids = np.asarray(table[id_column].to_pylist(), dtype=object)[keep]
        names = sorted({str(s) for s in slice_ids}, key=_natural_key_str)
        as_str = slice_ids.astype(str)
        members = [np.unique(rows[as_str == name]).astype(np.int64) for name in names]
        summary = []
        summary_table = (
            _artifact_table(store, SLICES_SUMMARY_ARTIFACT) if source == "discovered" else None
        )
        if summary_table is not None:
            summary = [
                json_safe(rec, finite=True, fallback=str) for rec in summary_table.to_pylist()
            ]
        result[source] = SliceSet(source, names, members, summary)
    return result


def _discovery_note(store: Path, names: list[str]) -> str:
    """What slice discovery said when it confirmed no slice ("" when it never ran)."""
    if SLICES_SETTINGS_ARTIFACT not in names:
        return ""
    note = read_artifact(store, SLICES_SETTINGS_ARTIFACT).get("empty_note")
    # stores written before the note was saved: say at least that discovery ran
    return (
        str(note)
        if note
        else (
            "Slice discovery ran and confirmed no slice on held-out samples; rerun "
            f"`silentscope slices {store.name}` to see what a slice would have needed."
        )
    )


def _subgroup_set(store, metadata, test_set_names, test_set_codes, label, class_names):
    """The ``subgroups`` artifact's groups as a SliceSet (None without it), and those left out."""
    table = _artifact_table(store, SUBGROUPS_ARTIFACT)
    needed = {"test_set", "attribute", "kind", "group", "n"}
    if table is None or not needed <= set(table.column_names):
        return None, []
    names, rows, records, left_out = subgroup_rows(
        table, metadata, test_set_names, test_set_codes, label, class_names
    )
    return (SliceSet("subgroups", names, rows, records) if names else None), left_out


def _natural_key_str(value: str):
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def slice_column(slice_set: SliceSet, n: int) -> Column:
    codes = np.full(n, -1, dtype=np.int16)
    # Later slices overwrite earlier ones: a sample in several shows its last (a cap of one colour).
    for code, rows in enumerate(slice_set.rows):
        codes[rows] = code
    label = "discovered slice" if slice_set.source == "discovered" else "saved slice"
    return _categorical(f"slice:{slice_set.source}", label, "slices", codes, slice_set.names)


def load_viewer_data(
    store: str | os.PathLike, image_root: str | os.PathLike | None = None
) -> ViewerData:
    """Read an audit store and its cached embedding into a :class:`ViewerData`.

    Parameters
    ----------
    store : path-like
        An audit store with an ``embedding`` artifact (see
        :func:`~silentscope.viewer.prepare.prepare_store`).
    image_root : path-like, optional
        Folder that relative image references are relative to, and the only folder images
        are read from (absolute references must lie inside it too); default: the folder that
        holds the store.

    Raises
    ------
    FileNotFoundError
        If the store or its embedding is missing.
    AuditSetError
        If the store's files disagree (row counts, sample ids of the embedding).

    Examples
    --------
    >>> import tempfile
    >>> from silentscope.audit import AuditSet
    >>> from silentscope.audit.store import save_audit
    >>> from silentscope.viewer.prepare import prepare_store
    >>> audit = AuditSet(sample_id=list("abcd"), test_set=["iid", "iid", "cor/blur/2", "cor/blur/2"],
    ...                  label=[0, 1, 1, 0], logits=np.array([[2., 0], [0, 1], [1, 0], [3, 0]]),
    ...                  class_names=["no", "yes"])
    >>> store = save_audit(audit, tempfile.mkdtemp() + "/store")
    >>> _ = prepare_store(store, method="pca")
    >>> data = load_viewer_data(store)
    >>> data.n_samples, data.correct.tolist(), data.columns["test_set"].categories
    (4, [True, True, False, True], ['iid', 'cor/blur/2'])
    >>> "MSR" in data.confidences
    True
    """
    store = Path(store)
    manifest = read_manifest(store)
    # every listed file inside the store (no symlink out) and of its recorded size; the
    # content hashes are the load's job (`silentscope store verify`), not the viewer's
    check_store_files(store, manifest, verify=False)
    n = int(manifest["n_samples"])
    try:
        schema = pq.read_schema(store / SAMPLES)
    except pa.ArrowInvalid as error:
        raise AuditSetError(
            f"{store / SAMPLES} is corrupt ({error}); re-create the store"
        ) from None
    string_columns = tuple(
        c for c in ("sample_id", "text", "image_ref", "shift_params") if c in schema.names
    )
    eager = [c for c in schema.names if c not in string_columns]
    table = _read_parquet(store / SAMPLES, eager)
    if table.num_rows != n:
        raise AuditSetError(
            f"{store / SAMPLES} has {table.num_rows} rows but the manifest records {n}; re-create the store"
        )
    logits = np.load(
        store / manifest["arrays"]["logits"]["file"], mmap_mode="r", allow_pickle=False
    )
    if len(logits) != n:
        raise AuditSetError(
            f"the logits of {store} have {len(logits)} rows for {n} samples; re-create the store"
        )
    class_names = tuple(manifest["class_names"])
    fingerprint = samples_fingerprint(manifest)
    ids = _LazyIds(store)
    label = arrow_numbers(table["label"]).astype(np.int16)
    prediction = _predictions(logits)
    correct = prediction == label
    risk = arrow_numbers(table[RISK_COLUMN]).astype(np.float64) if RISK_COLUMN in eager else None
    if risk is not None:  # AuditSet.correct's convention for a continuous risk: risk 0
        correct = risk == 0

    test_set_codes, test_set_names = _encode_categorical(table["test_set"])
    order = sorted(range(len(test_set_names)), key=lambda i: test_set_sort_key(test_set_names[i]))
    remap = np.empty(len(order), dtype=np.int16)
    remap[np.asarray(order)] = np.arange(len(order))
    test_set_codes = remap[test_set_codes]
    test_set_names = [test_set_names[i] for i in order]

    names = list_artifacts(store)
    if EMBEDDING_ARTIFACT not in names or EMBEDDING_INFO_ARTIFACT not in names:
        raise FileNotFoundError(
            f"{store} has no cached embedding; compute it with `silentscope view {store}` or prepare_store()"
        )
    embedding_info = read_artifact(store, EMBEDDING_INFO_ARTIFACT)
    embedding = _artifact_table(
        store, EMBEDDING_ARTIFACT, _fresh_columns(embedding_info, fingerprint, ["x", "y"])
    )
    if embedding.num_rows != n or not ids.match(embedding, embedding_info, fingerprint):
        raise AuditSetError(
            f"the cached embedding of {store} was computed for other samples; recompute it with --recompute"
        )
    x = arrow_numbers(embedding["x"]).astype(np.float32)
    y = arrow_numbers(embedding["y"]).astype(np.float32)

    confidences: dict[str, np.ndarray] = {}
    cache_info = (
        read_artifact(store, CONFIDENCES_INFO_ARTIFACT)
        if CONFIDENCES_INFO_ARTIFACT in names
        else {}
    )
    cached = None
    if CONFIDENCES_ARTIFACT in names:
        confidence_names = pq.read_schema(artifact_path(store, CONFIDENCES_ARTIFACT)).names
        wanted = _fresh_columns(
            cache_info, fingerprint, [c for c in confidence_names if c != "sample_id"]
        )
        cached = _artifact_table(store, CONFIDENCES_ARTIFACT, wanted)
    if cached is not None and cached.num_rows == n and ids.match(cached, cache_info, fingerprint):
        for name in cached.column_names:
            if name != "sample_id":
                confidences[name] = arrow_numbers(cached[name]).astype(np.float64)
    else:
        # Without the cache (prepare_store writes it), the maximum softmax response is always possible.
        confidences["MSR"] = _max_softmax(logits)
        for name, column in prefixed(table.column_names, CONFIDENCE_PREFIX).items():
            confidences[f"ext:{name}"] = arrow_numbers(table[column]).astype(np.float64)

    columns: list[Column] = [
        _categorical(
            "correct",
            "correctness",
            "outcome",
            (~correct).astype(np.int16),
            ["correct", "incorrect"] if risk is None else ["risk 0", "risk above 0"],
        ),
        # a segmentation volume's "class" is a summary: its largest true / predicted class
        _categorical(
            "class", "class" if risk is None else "largest true class", "class", label, class_names
        ),
        _categorical(
            "prediction",
            "predicted class" if risk is None else "largest predicted class (mean probability)",
            "class",
            prediction,
            class_names,
        ),
        *_test_set_columns(test_set_names, test_set_codes),
    ]
    if risk is not None:
        columns += _risk_columns(risk, table, manifest)
    for name, values in confidences.items():
        columns.append(
            Column(
                f"conf:{name}",
                f"confidence {name}",
                "confidence",
                "continuous",
                values.astype(np.float32),
            )
        )

    metadata, skipped = {}, {}
    recorded_roles = manifest.get("metadata_roles") or {}
    for field_name, name in prefixed(table.column_names, METADATA_PREFIX).items():
        metadata[field_name] = table[name]
        left_out = _left_out_by_role(field_name, recorded_roles, table[name])
        if left_out is not None:
            skipped[field_name] = left_out
            continue
        column = _metadata_column(field_name, table[name])
        if isinstance(column, str):
            skipped[field_name] = column
        else:
            columns.append(column)

    slices = _slice_sets(store, ids, n)
    for slice_set in slices.values():
        columns.append(slice_column(slice_set, n))
    # subgroups overlap (age and sex groups): listed and selectable, not a colour column
    subgroups, left_out = _subgroup_set(
        store, metadata, test_set_names, test_set_codes, label, class_names
    )
    if subgroups is not None:
        slices[subgroups.source] = subgroups

    data = ViewerData(
        store=store,
        class_names=class_names,
        label=label,
        prediction=prediction,
        correct=correct,
        test_set_names=test_set_names,
        test_set_codes=test_set_codes,
        x=x,
        y=y,
        confidences=confidences,
        columns={c.key: c for c in columns},
        embedding_info=embedding_info,
        string_columns=string_columns,
        metadata=metadata,
        slices=slices,
        skipped_columns=skipped,
        subgroups_left_out=left_out,
        image_root=Path(image_root) if image_root is not None else store.resolve().parent,
        risk=risk,
        volume_slices=_volume_slices(store, names, n) if risk is not None else None,
        recorded_health=(manifest.get("provenance") or {}).get("health"),
        discovery_note="" if "discovered" in slices else _discovery_note(store, names),
    )
    if ids.loaded is not None:
        data.cache["sample_id"] = ids.loaded
    return data


def _risk_columns(risk: np.ndarray, table: pa.Table, manifest: dict) -> list[Column]:
    """A segmentation store's risk, its Dice (when the risk is 1 - Dice) and its outcomes."""
    provenance = manifest.get("provenance") or {}
    name = provenance.get("risk_name", "dice")
    columns = [Column("risk", f"risk ({name})", "outcome", "continuous", risk.astype(np.float32))]
    if name == "dice":
        dice = (1.0 - risk).astype(np.float32)
        columns.append(
            Column("dice", "Dice (mean over foreground classes)", "outcome", "continuous", dice)
        )
    for field_name, column in prefixed(table.column_names, OUTCOME_PREFIX).items():
        values = arrow_numbers(table[column]).astype(np.float32)
        columns.append(Column(f"outcome:{field_name}", field_name, "outcome", "continuous", values))
    return columns


def _volume_slices(store: Path, names: list[str], n: int) -> np.ndarray | None:
    from silentscope.audit.volume_slices import SLICES_ARTIFACT

    if SLICES_ARTIFACT not in names:
        return None
    stack = read_artifact(store, SLICES_ARTIFACT)
    if len(stack) != n:
        raise AuditSetError(
            f"the volume slices of {store} hold {len(stack)} volumes for {n} samples; audit the "
            "network again"
        )
    return stack


__all__ = [
    "CONFIDENCES_ARTIFACT",
    "Column",
    "SLICES_MEMBERSHIP_ARTIFACT",
    "SLICES_SUMMARY_ARTIFACT",
    "SliceSet",
    "USER_SLICES_ARTIFACT",
    "ViewerData",
    "load_viewer_data",
    "samples_fingerprint",
]
