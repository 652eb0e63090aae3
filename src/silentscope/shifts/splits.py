"""Split-based shifts: metadata turned into train/val rows and named test sets.

Each builder returns a :class:`SplitPlan`: which rows train, which validate, and which form
each test set, named by the AuditSet convention (:mod:`silentscope.audit.test_sets`):

============================  =========================================================
``iid``                       test rows of the base split that no shift holds out
``acq/<value>``               :func:`acquisition_shift`: a site/device value held out of
                              training
``man/<value>``               :func:`manifestation_shift`: a subtype or finding held out
``sub/<attribute>=<value>``   :func:`subgroup_shift`: a subgroup held out, or (evaluation
                              only) the iid test rows per subgroup; numbers in bands
``prev/<value>``              :func:`prevalence_shift`: iid test rows resampled to another
                              class prevalence (seeded)
============================  =========================================================

Builders chain: pass one plan as ``base=`` of the next to hold several things out of one
training set. Every plan records its steps and parameters as JSON-serialisable
``params``, stored as provenance of the audit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from silentscope.audit.jsonsafe import json_safe
from silentscope.audit.test_sets import IID, parse_test_set
from silentscope.data.dataset import SPLITS, ImageDataset
from silentscope.data.errors import DatasetError
from silentscope.data.patient_split import DEFAULT_FRACTIONS, patient_split

TRAIN, VAL, UNUSED = "train", "val", "unused"


def _rows(values) -> np.ndarray:
    return np.unique(np.asarray(values, dtype=np.int64))


@dataclass(frozen=True)
class SplitPlan:
    """Row indices for training, validation and every named test set.

    Test sets may overlap one another (a row can be in ``iid`` and in ``prev/...``), never
    the training or validation rows.

    Attributes
    ----------
    n_rows : int
        Rows of the table the plan indexes.
    train, val : ndarray of int
    test_sets : dict of str to ndarray of int
    params : dict
        ``{"steps": [...]}``: each builder's name and parameters, JSON-serialisable.
    """

    n_rows: int
    train: np.ndarray
    val: np.ndarray
    test_sets: dict[str, np.ndarray]
    params: dict[str, Any] = field(default_factory=lambda: {"steps": []})

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", _rows(self.train))
        object.__setattr__(self, "val", _rows(self.val))
        object.__setattr__(self, "test_sets", {k: _rows(v) for k, v in self.test_sets.items()})
        self.validate()

    def validate(self) -> None:
        """Raise a DatasetError if rows are out of range, names break the convention, or a
        test row is also a training or validation row."""
        for name, rows in (("train", self.train), ("val", self.val), *self.test_sets.items()):
            if len(rows) and (rows[0] < 0 or rows[-1] >= self.n_rows):
                raise DatasetError(f"plan set {name!r} has rows outside 0..{self.n_rows - 1}")
        if np.intersect1d(self.train, self.val).size:
            raise DatasetError("the plan puts some rows in both train and val")
        fitted = np.union1d(self.train, self.val)
        for name, rows in self.test_sets.items():
            parse_test_set(name)
            if name == "val":
                raise DatasetError("'val' is the validation split, not a test set")
            shared = np.intersect1d(rows, fitted)
            if shared.size:
                raise DatasetError(
                    f"test set {name!r} shares {shared.size} rows with train/val (first row {shared[0]}); "
                    "build the plans from one base split"
                )

    def rows(self, name: str) -> np.ndarray:
        """Row indices of ``train``, ``val`` or a test set."""
        if name == TRAIN:
            return self.train
        if name == VAL:
            return self.val
        if name not in self.test_sets:
            raise KeyError(
                f"the plan has no set {name!r}; it has train, val, {', '.join(self.test_sets)}"
            )
        return self.test_sets[name]

    @property
    def names(self) -> tuple[str, ...]:
        """Test-set names, ``iid`` first."""
        return tuple(sorted(self.test_sets, key=lambda n: (n != IID, n)))

    def assignment(self) -> np.ndarray:
        """One role per row: ``train``, ``val``, its first test set (``iid`` first), or ``unused``."""
        roles = np.full(self.n_rows, UNUSED, dtype=object)
        for name in reversed(self.names):
            roles[self.test_sets[name]] = name
        roles[self.train] = TRAIN
        roles[self.val] = VAL
        return roles.astype(str)

    def counts(self) -> pd.DataFrame:
        """Rows per set (and per class if ``labels`` is passed to :meth:`counts_by_label`)."""
        names = (TRAIN, VAL, *self.names)
        return pd.DataFrame({"set": names, "rows": [len(self.rows(n)) for n in names]})

    def counts_by_label(self, labels, class_names: Sequence[str] | None = None) -> pd.DataFrame:
        """Rows per set (rows) and class (columns)."""
        labels = np.asarray(labels)
        if len(labels) != self.n_rows:
            raise DatasetError(f"labels has {len(labels)} rows; the plan indexes {self.n_rows}")
        n_classes = int(labels.max()) + 1 if class_names is None else len(class_names)
        names = (TRAIN, VAL, *self.names)
        table = pd.DataFrame(
            [np.bincount(labels[self.rows(n)], minlength=n_classes) for n in names],
            index=names,
            columns=list(class_names) if class_names is not None else list(range(n_classes)),
        )
        return table

    def shared_patients(self, groups) -> dict[str, int]:
        """Per test set, how many of its patients also have rows in train or val."""
        groups = np.asarray(groups).astype(str)
        fitted = set(groups[np.union1d(self.train, self.val)])
        return {n: len(set(groups[self.test_sets[n]]) & fitted) for n in self.names}

    def subsets(self, dataset: ImageDataset) -> dict[str, ImageDataset]:
        """The dataset cut into ``train``, ``val`` and each test set (images stay lazy)."""
        if len(dataset) != self.n_rows:
            raise DatasetError(
                f"the plan indexes {self.n_rows} rows but {dataset.name} has {len(dataset)}"
            )
        return {name: dataset.subset(self.rows(name)) for name in (TRAIN, VAL, *self.names)}

    def apply(self, dataset: ImageDataset) -> tuple[ImageDataset, dict[str, ImageDataset]]:
        """The dataset re-split by the plan, and the shift test sets.

        Returns the dataset restricted to train, val and ``iid`` rows with its ``split``
        set to ``train``/``val``/``test`` (``test`` = ``iid``), and ``{name: dataset}`` for
        every other test set: the two inputs a trainer and an evaluator need.

        Examples
        --------
        >>> from silentscope.data.synthetic import make_synthetic
        >>> data = make_synthetic(300, 16, seed=0)
        >>> base, shifted = acquisition_shift(data, "site", "site_B").apply(data)
        >>> sorted(set(base.metadata["site"])), list(shifted)
        (['site_A'], ['acq/site_B'])
        """
        if len(dataset) != self.n_rows:
            raise DatasetError(
                f"the plan indexes {self.n_rows} rows but {dataset.name} has {len(dataset)}"
            )
        iid = self.test_sets.get(IID, np.array([], dtype=np.int64))
        rows = np.concatenate([self.train, self.val, iid])
        roles = np.repeat(["train", "val", "test"], [len(self.train), len(self.val), len(iid)])
        order = np.argsort(rows, kind="stable")
        base = replace(dataset.subset(rows[order]), split=roles[order])
        shifted = {n: dataset.subset(self.test_sets[n]) for n in self.names if n != IID}
        return base, shifted

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (row lists and params)."""
        return {
            "n_rows": int(self.n_rows),
            "train": self.train.tolist(),
            "val": self.val.tolist(),
            "test_sets": {n: self.test_sets[n].tolist() for n in self.names},
            "params": self.params,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SplitPlan:
        return cls(
            n_rows=int(data["n_rows"]),
            train=np.asarray(data["train"], dtype=np.int64),
            val=np.asarray(data["val"], dtype=np.int64),
            test_sets={k: np.asarray(v, dtype=np.int64) for k, v in data["test_sets"].items()},
            params=dict(data["params"]),
        )

    def _with(self, train, val, test_sets, step: dict[str, Any]) -> SplitPlan:
        return SplitPlan(
            self.n_rows, train, val, test_sets, {"steps": [*self.params["steps"], step]}
        )


def _as_frame(metadata) -> pd.DataFrame:
    if isinstance(metadata, ImageDataset):
        return metadata.metadata
    if not isinstance(metadata, pd.DataFrame):
        raise DatasetError(
            f"metadata must be a DataFrame or an ImageDataset, got {type(metadata).__name__}"
        )
    return metadata.reset_index(drop=True)


def _column(frame: pd.DataFrame, attribute: str) -> pd.Series:
    if attribute not in frame.columns:
        raise DatasetError(
            f"the metadata has no column {attribute!r}; its columns are {list(frame.columns)}"
        )
    return frame[attribute]


def base_plan(
    metadata,
    *,
    labels=None,
    split=None,
    patient_column: str | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> SplitPlan:
    """The plan without shifts: train, val and ``iid`` from a given or a drawn split.

    Parameters
    ----------
    metadata : DataFrame or ImageDataset
        One row per sample (an ImageDataset also supplies ``labels`` and ``split``).
    labels : array of int, optional
        Stratifies a drawn split.
    split : array of str, optional
        ``train``/``val``/``test`` per row; without it a patient-level split is drawn.
    patient_column : str, optional
        Patient id column for a drawn split.
    fractions, seed
        Of the drawn split.

    Examples
    --------
    >>> import pandas as pd
    >>> plan = base_plan(pd.DataFrame({"a": range(4)}), split=["train", "val", "test", "test"])
    >>> plan.test_sets["iid"].tolist(), plan.params["steps"][0]["split"]
    ([2, 3], 'given')
    """
    if isinstance(metadata, ImageDataset):
        labels = metadata.labels if labels is None else labels
        split = metadata.split if split is None else split
    frame = _as_frame(metadata)
    n = len(frame)
    step: dict[str, Any] = {"builder": "base_plan"}
    if split is not None:
        split = np.asarray(split).astype(str)
        if len(split) != n:
            raise DatasetError(f"split has {len(split)} rows for {n} metadata rows")
        bad = ~np.isin(split, SPLITS)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DatasetError(f"split row {row} is {split[row]!r}; use {', '.join(SPLITS)}")
        step["split"] = "given"
    else:
        groups = (
            None
            if patient_column is None
            else _column(frame, patient_column).astype(str).to_numpy()
        )
        strata = np.zeros(n, dtype=int) if labels is None else np.asarray(labels)
        split = patient_split(strata, groups, fractions, seed, stratify=labels is not None)
        step.update(
            split="drawn",
            patient_column=patient_column,
            fractions=[float(f) for f in fractions],
            seed=int(seed),
        )
    return SplitPlan(
        n,
        np.flatnonzero(split == "train"),
        np.flatnonzero(split == "val"),
        {IID: np.flatnonzero(split == "test")},
        {"steps": [step]},
    )


def _start(
    metadata, base, labels, split, patient_column, fractions, seed
) -> tuple[pd.DataFrame, SplitPlan]:
    frame = _as_frame(metadata)
    if base is None:
        base = base_plan(
            metadata,
            labels=labels,
            split=split,
            patient_column=patient_column,
            fractions=fractions,
            seed=seed,
        )
    elif base.n_rows != len(frame):
        raise DatasetError(
            f"the base plan indexes {base.n_rows} rows but the metadata has {len(frame)}"
        )
    return frame, base


def _test_set_name(kind: str, value: str) -> str:
    name = f"{kind}/{value}"
    try:
        parse_test_set(name)
    except ValueError:
        raise DatasetError(
            f"{value!r} cannot name a test set ({name!r}); use letters, digits and _.+-<>=,: only, "
            "for example by renaming the value in the metadata"
        ) from None
    return name


def _hold_out(base: SplitPlan, held: Mapping[str, np.ndarray], step: dict[str, Any]) -> SplitPlan:
    """Move held-out rows out of train, val and iid into their own test sets."""
    every = (
        np.concatenate([np.asarray(r, dtype=np.int64) for r in held.values()])
        if held
        else np.array([], int)
    )
    test_sets = {n: np.setdiff1d(r, every) for n, r in base.test_sets.items()}
    for name, rows in held.items():
        if name in test_sets:
            raise DatasetError(f"the base plan already has a test set {name!r}")
        test_sets[name] = rows
    step["held_out_rows"] = {name: int(len(rows)) for name, rows in held.items()}
    return base._with(
        np.setdiff1d(base.train, every), np.setdiff1d(base.val, every), test_sets, step
    )


def _value_holdout(
    kind, builder, metadata, attribute, values, base, labels, split, patient_column, fractions, seed
):
    frame, base = _start(metadata, base, labels, split, patient_column, fractions, seed)
    column = _column(frame, attribute)
    values = (
        [values] if isinstance(values, str) or not isinstance(values, Sequence) else list(values)
    )
    if not values:
        raise DatasetError(f"{builder} needs at least one value of {attribute!r} to hold out")
    observed = column.astype(str)
    held = {}
    for value in values:
        mask = (observed == str(value)).to_numpy()
        if not mask.any():
            shown = sorted(observed.unique())[:10]
            raise DatasetError(f"no row has {attribute} == {value!r}; its values include {shown}")
        held[_test_set_name(kind, str(value))] = np.flatnonzero(mask)
    step = {"builder": builder, "attribute": attribute, "values": json_safe(list(values))}
    return _hold_out(base, held, step)


def acquisition_shift(
    metadata,
    attribute: str,
    values,
    *,
    base: SplitPlan | None = None,
    labels=None,
    split=None,
    patient_column: str | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> SplitPlan:
    """Hold acquisition values (site, device, scanner, ...) out of training: ``acq/<value>``.

    Every row with a held-out value leaves train, val and ``iid`` and forms the test set
    ``acq/<value>``; the other rows keep the base split.

    Parameters
    ----------
    metadata : DataFrame or ImageDataset
    attribute : str
        The acquisition column (e.g. ``site``).
    values : value or list of values
        Held out, each as its own test set.
    base : SplitPlan, optional
        A plan to build on (chaining shifts); default :func:`base_plan` of the other
        arguments.
    labels, split, patient_column, fractions, seed
        See :func:`base_plan`.

    Returns
    -------
    SplitPlan

    Examples
    --------
    >>> import pandas as pd
    >>> meta = pd.DataFrame({"site": ["site_A"] * 6 + ["site_B"] * 2})
    >>> split = ["train", "train", "train", "val", "test", "test", "train", "test"]
    >>> plan = acquisition_shift(meta, "site", "site_B", split=split)
    >>> plan.names, plan.train.tolist(), plan.rows("acq/site_B").tolist()
    (('iid', 'acq/site_B'), [0, 1, 2], [6, 7])
    """
    return _value_holdout(
        "acq",
        "acquisition_shift",
        metadata,
        attribute,
        values,
        base,
        labels,
        split,
        patient_column,
        fractions,
        seed,
    )


def manifestation_shift(
    metadata,
    attribute: str,
    values,
    *,
    base: SplitPlan | None = None,
    labels=None,
    split=None,
    patient_column: str | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> SplitPlan:
    """Hold a subtype or finding out of training: ``man/<value>``.

    The classifier never sees the held-out manifestation (e.g. amelanotic melanoma, a rare
    disease subtype) and is tested on it. Parameters as in :func:`acquisition_shift`.

    Examples
    --------
    >>> import pandas as pd
    >>> meta = pd.DataFrame({"subtype": ["common", "rare", "common", "rare", "common"]})
    >>> plan = manifestation_shift(meta, "subtype", "rare", split=["train"] * 3 + ["test"] * 2)
    >>> plan.train.tolist(), plan.rows("man/rare").tolist(), plan.rows("iid").tolist()
    ([0, 2], [1, 3], [4])
    """
    return _value_holdout(
        "man",
        "manifestation_shift",
        metadata,
        attribute,
        values,
        base,
        labels,
        split,
        patient_column,
        fractions,
        seed,
    )


def numeric_bands(values, edges: Sequence[float]) -> np.ndarray:
    """Band label per value for cut points ``edges`` (e.g. age bands); missing -> ``missing``.

    Integer data get ``<40``, ``40-69``, ``70+``; other data ``<40``, ``40-70``, ``>=70``
    (each band includes its lower edge).

    Examples
    --------
    >>> numeric_bands([25, 40, 69, 70, 91], [40, 70]).tolist()
    ['<40', '40-69', '40-69', '70+', '70+']
    >>> numeric_bands([0.5, 1.5, None], [1.0]).tolist()
    ['<1', '>=1', 'missing']
    """
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or len(edges) == 0 or np.any(np.diff(edges) <= 0):
        raise DatasetError(f"band edges must be a non-empty increasing list, got {edges.tolist()}")
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    missing = np.isnan(numbers)
    original = pd.Series(values, dtype=object)
    not_numeric = missing & original.notna().to_numpy()
    if not_numeric.any():
        row = int(np.flatnonzero(not_numeric)[0])
        raise DatasetError(
            f"row {row} holds {original[row]!r}, which is not a number; numeric bands need numbers"
        )
    present = numbers[~missing]
    integer = bool(np.all(present == np.round(present))) and bool(np.all(edges == np.round(edges)))

    def fmt(x: float) -> str:
        return f"{int(x)}" if float(x).is_integer() else f"{x:g}"

    names = [f"<{fmt(edges[0])}"]
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        names.append(f"{fmt(low)}-{fmt(high - 1)}" if integer else f"{fmt(low)}-{fmt(high)}")
    names.append(f"{fmt(edges[-1])}+" if integer else f">={fmt(edges[-1])}")
    index = np.searchsorted(edges, np.where(missing, 0, numbers), side="right")
    bands = np.asarray(names, dtype=object)[index]
    bands[missing] = "missing"
    return bands.astype(str)


def subgroup_shift(
    metadata,
    attribute: str,
    holdout=None,
    *,
    bands: Sequence[float] | None = None,
    base: SplitPlan | None = None,
    labels=None,
    split=None,
    patient_column: str | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> SplitPlan:
    """Subgroups as test sets ``sub/<attribute>=<value>``, held out of training or not.

    With ``holdout``, the named subgroup(s) leave training and form their own test sets (a
    subgroup shift: e.g. train on patients under 70, test on those over). Without it,
    training is unchanged and the ``iid`` test rows are split into one test set per
    subgroup (an evaluation by subgroup).

    Parameters
    ----------
    metadata : DataFrame or ImageDataset
    attribute : str
        Subgroup column (``sex``, ``age``, ...).
    holdout : value or list, optional
        Subgroup value(s) (band names for numeric ``bands``) held out of training.
    bands : sequence of float, optional
        Cut points for a numeric attribute (see :func:`numeric_bands`).
    base, labels, split, patient_column, fractions, seed
        See :func:`acquisition_shift`.

    Examples
    --------
    >>> import pandas as pd
    >>> meta = pd.DataFrame({"age": [30, 50, 75, 80, 45, 72]})
    >>> split = ["train", "train", "train", "test", "test", "test"]
    >>> subgroup_shift(meta, "age", "70+", bands=[40, 70], split=split).names
    ('iid', 'sub/age=70+')
    >>> plan = subgroup_shift(meta, "age", bands=[40, 70], split=split)
    >>> plan.names, plan.rows("sub/age=70+").tolist()
    (('iid', 'sub/age=40-69', 'sub/age=70+'), [3, 5])
    """
    frame, base = _start(metadata, base, labels, split, patient_column, fractions, seed)
    column = _column(frame, attribute)
    if bands is not None:
        groups = numeric_bands(column.to_numpy(), bands)
    else:
        if column.isna().any():
            row = int(np.flatnonzero(column.isna().to_numpy())[0])
            raise DatasetError(
                f"{attribute} is missing at row {row}; fill it (e.g. 'unknown') or use bands= for numbers"
            )
        groups = column.astype(str).to_numpy()
    step: dict[str, Any] = {
        "builder": "subgroup_shift",
        "attribute": attribute,
        "bands": None if bands is None else [float(b) for b in bands],
    }
    if holdout is None:
        iid = base.test_sets.get(IID)
        if iid is None:
            raise DatasetError("the base plan has no 'iid' test set to split by subgroup")
        test_sets = dict(base.test_sets)
        for value in sorted(set(groups[iid])):
            name = _test_set_name("sub", f"{attribute}={value}")
            test_sets[name] = iid[groups[iid] == value]
        step["holdout"] = None
        step["subgroups"] = {n: int(len(r)) for n, r in test_sets.items() if n.startswith("sub/")}
        return base._with(base.train, base.val, test_sets, step)
    values = (
        [holdout]
        if isinstance(holdout, str) or not isinstance(holdout, Sequence)
        else list(holdout)
    )
    held = {}
    for value in values:
        mask = groups == str(value)
        if not mask.any():
            raise DatasetError(
                f"no row is in subgroup {attribute}={value}; the subgroups are {sorted(set(groups))}"
            )
        held[_test_set_name("sub", f"{attribute}={value}")] = np.flatnonzero(mask)
    step["holdout"] = json_safe(list(values))
    return _hold_out(base, held, step)


def _target_indices(target: Mapping, class_names: Sequence[str]) -> list[int]:
    """Class index of each key of a prevalence mapping (a class name or an index)."""
    index = {name: i for i, name in enumerate(class_names)}
    indices = []
    for key in target:
        i = index.get(str(key), key if isinstance(key, int | np.integer) else None)
        if i is None or not 0 <= int(i) < len(class_names):
            raise DatasetError(
                f"prevalence target names an unknown class {key!r}; classes are {list(class_names)}"
            )
        indices.append(int(i))
    return indices


def _target_prevalence(target, class_names: Sequence[str], pool_counts: np.ndarray) -> np.ndarray:
    n_classes = len(class_names)
    if isinstance(target, Mapping):
        index = {name: i for i, name in enumerate(class_names)}
        fixed = np.full(n_classes, np.nan)
        for key, share in target.items():
            i = index.get(str(key), key if isinstance(key, int | np.integer) else None)
            if i is None or not 0 <= int(i) < n_classes:
                raise DatasetError(
                    f"prevalence target names an unknown class {key!r}; classes are {list(class_names)}"
                )
            fixed[int(i)] = float(share)
        rest = np.isnan(fixed)
        left = 1.0 - np.nansum(fixed)
        if left < -1e-9 or (not rest.any() and abs(left) > 1e-6):
            raise DatasetError(
                f"prevalence shares must sum to 1 (or less, the rest shared out), got {dict(target)}"
            )
        if rest.any():
            weights = pool_counts[rest].astype(float)
            fixed[rest] = max(left, 0.0) * (
                weights / weights.sum() if weights.sum() else 1.0 / rest.sum()
            )
        prevalence = fixed
    else:
        prevalence = np.asarray(target, dtype=float)
        if prevalence.shape != (n_classes,) or not np.isclose(prevalence.sum(), 1.0):
            raise DatasetError(
                f"prevalence must give {n_classes} shares summing to 1, got {prevalence.tolist()}"
            )
    if (prevalence < 0).any():
        raise DatasetError(f"prevalence shares must be non-negative, got {prevalence.tolist()}")
    return prevalence


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    exact = shares * total
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def prevalence_shift(
    metadata,
    labels,
    target,
    *,
    class_names: Sequence[str] | None = None,
    n: int | None = None,
    name: str | None = None,
    source: str = IID,
    base: SplitPlan | None = None,
    split=None,
    patient_column: str | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> SplitPlan:
    """Resample a test set to another class prevalence: ``prev/<value>`` (seeded).

    Rows are drawn without replacement from the ``source`` test set (``iid`` by default) so
    that the new set has the ``target`` class shares; training is unchanged.

    Parameters
    ----------
    metadata : DataFrame or ImageDataset
    labels : array of int, shape (N,)
    target : mapping of class (name or index) to share, or sequence of shares
        Classes left out of a mapping share the remainder in their source proportions.
    class_names : sequence of str, optional
        Names for ``target`` keys and the default test-set name.
    n : int, optional
        Size of the new test set; default the largest possible without replacement.
    name : str, optional
        Value part of the name; default e.g. ``melanoma=0.50``.
    source : str
        Test set to resample.
    base, split, patient_column, fractions, seed
        See :func:`acquisition_shift`; ``seed`` also drives the resampling.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> labels = np.array([0] * 80 + [1] * 20)
    >>> split = np.array(["train"] * 50 + ["test"] * 30 + ["train"] * 10 + ["test"] * 10)
    >>> plan = prevalence_shift(pd.DataFrame(index=range(100)), labels, {"b": 0.5},
    ...                         class_names=["a", "b"], split=split, seed=0)
    >>> rows = plan.rows("prev/b=0.50")
    >>> len(rows), float(labels[rows].mean())
    (20, 0.5)
    """
    frame, base = _start(metadata, base, labels, split, patient_column, fractions, seed)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(frame):
        raise DatasetError(f"labels has {len(labels)} rows for {len(frame)} metadata rows")
    n_classes = int(labels.max()) + 1 if class_names is None else len(class_names)
    class_names = (
        [str(i) for i in range(n_classes)] if class_names is None else [str(c) for c in class_names]
    )
    pool = base.rows(source)
    pool_counts = np.bincount(labels[pool], minlength=n_classes)
    prevalence = _target_prevalence(target, class_names, pool_counts)
    needed = prevalence > 0
    if (pool_counts[needed] == 0).any():
        missing = [class_names[i] for i in np.flatnonzero(needed & (pool_counts == 0))]
        raise DatasetError(
            f"the {source!r} test set has no rows of {missing}; it cannot reach that prevalence"
        )
    largest = int(np.min(pool_counts[needed] / prevalence[needed]))
    n = largest if n is None else int(n)
    if n < 1 or n > largest:
        raise DatasetError(
            f"n={n} rows at prevalence {np.round(prevalence, 3).tolist()} need more rows than {source!r} has; "
            f"use n <= {largest}"
        )
    counts = _largest_remainder(n, prevalence)
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [
            rng.choice(pool[labels[pool] == c], size=k, replace=False)
            for c, k in enumerate(counts)
            if k > 0
        ]
    )
    if name is None:
        named = (
            _target_indices(target, class_names)
            if isinstance(target, Mapping)
            else range(n_classes)
        )
        name = ",".join(f"{class_names[i]}={prevalence[i]:.2f}" for i in named)
    test_name = _test_set_name("prev", name)
    if test_name in base.test_sets:
        raise DatasetError(
            f"the base plan already has a test set {test_name!r}; pass another name="
        )
    step = {
        "builder": "prevalence_shift",
        "source": source,
        "target": [float(p) for p in prevalence],
        "class_names": class_names,
        "n": int(n),
        "counts": [int(c) for c in counts],
        "seed": int(seed),
        "name": test_name,
    }
    return base._with(base.train, base.val, {**base.test_sets, test_name: chosen}, step)
