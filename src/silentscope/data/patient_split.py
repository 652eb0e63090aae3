"""Patient-level train/val/test splits: no patient in two splits, seeded, stratified by label."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from silentscope.data.errors import DatasetError

DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)
_SPLIT_NAMES = ("train", "val", "test")


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    fractions = np.asarray(fractions, dtype=float)
    if fractions.shape != (3,) or (fractions < 0).any() or not np.isclose(fractions.sum(), 1.0):
        raise DatasetError(
            f"fractions must be three non-negative numbers (train, val, test) summing to 1, got {fractions.tolist()}"
        )
    return fractions


def patient_split(
    labels,
    groups=None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    stratify: bool = True,
) -> np.ndarray:
    """Assign every sample to ``train``, ``val`` or ``test`` so that no group spans two splits.

    Patients are shuffled with ``seed`` inside each stratum and dealt to the splits by the
    cumulative share of images they hold, so every split gets about ``fractions`` of each
    class. A patient's stratum is the globally rarest label among its images, which spreads
    rare classes over the splits even when they co-occur with common ones.

    Parameters
    ----------
    labels : array of int, shape (N,)
    groups : array-like, shape (N,), optional
        Patient (or any grouping) id per sample; without it each sample is its own group.
    fractions : (train, val, test)
        Target shares of the images, summing to 1.
    seed : int
        Seed of the shuffle; the same seed gives the same split.
    stratify : bool
        Deal patients per label stratum (default) or all together.

    Returns
    -------
    ndarray of str, shape (N,)
        ``train``, ``val`` or ``test`` per sample.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.repeat([0, 1], 100)
    >>> patients = np.arange(200) // 2  # two images per patient
    >>> split = patient_split(labels, patients, seed=0)
    >>> {name: int((split == name).sum()) for name in ("train", "val", "test")}
    {'train': 140, 'val': 20, 'test': 40}
    >>> check_no_patient_leakage(split, patients)
    """
    fractions = _check_fractions(fractions)
    labels = np.asarray(labels).reshape(-1)
    n = len(labels)
    groups = np.arange(n) if groups is None else np.asarray(groups)
    if len(groups) != n:
        raise DatasetError(f"groups has {len(groups)} rows for {n} labels")
    if pd.isna(pd.Series(groups, dtype=object)).any():
        raise DatasetError(
            "the patient id is missing for some samples; give every sample a patient id"
        )
    group_codes, group_index = np.unique(groups.astype(str), return_inverse=True)
    n_groups = len(group_codes)
    label_codes, label_index = np.unique(labels, return_inverse=True)
    frequency = np.bincount(label_index, minlength=len(label_codes))
    # Stratum of a patient: its rarest label (lowest global frequency, ties by label order).
    rank = np.argsort(np.argsort(frequency, kind="stable"), kind="stable")
    stratum = np.full(n_groups, len(label_codes), dtype=np.int64)
    np.minimum.at(stratum, group_index, rank[label_index])
    if not stratify:
        stratum[:] = 0
    size = np.bincount(group_index, minlength=n_groups)
    rng = np.random.default_rng(seed)
    group_split = np.empty(n_groups, dtype=np.int64)
    bounds = np.cumsum(fractions)[:-1]
    for value in np.unique(stratum):
        members = rng.permutation(np.flatnonzero(stratum == value))
        cumulative = np.cumsum(size[members])
        midpoint = (cumulative - size[members] / 2.0) / cumulative[-1]
        group_split[members] = np.searchsorted(bounds, midpoint, side="right")
    return np.asarray(_SPLIT_NAMES, dtype=object)[group_split[group_index]].astype(str)


def check_no_patient_leakage(split, groups) -> None:
    """Raise a DatasetError naming the first patient found in more than one split.

    Examples
    --------
    >>> check_no_patient_leakage(["train", "test"], ["p1", "p1"])
    Traceback (most recent call last):
    ...
    silentscope.data.errors.DatasetError: patient 'p1' is in both test and train; re-split by patient (patient_split) so that no patient is in two splits
    """
    frame = pd.DataFrame(
        {"split": np.asarray(split).astype(str), "group": np.asarray(groups).astype(str)}
    )
    n_splits = frame.groupby("group")["split"].nunique()
    leaking = n_splits[n_splits > 1]
    if len(leaking):
        patient = leaking.index[0]
        splits = sorted(frame.loc[frame["group"] == patient, "split"].unique())
        raise DatasetError(
            f"patient {patient!r} is in both {' and '.join(splits)}; re-split by patient "
            "(patient_split) so that no patient is in two splits"
        )
