"""What a person reads of a segmentation's evaluation: Dice per test set, with CIs over volumes.

:func:`~silentscope.evaluation.evaluate` ranks the CSFs of a segmentation AuditSet against its
continuous per-volume risk (:mod:`silentscope.evaluation.continuous_risk`). Beside that table
the command line, the report and the demo show how good the segmentation itself is on each
test set: its mean Dice, when the risk is 1 - Dice, with a percentile bootstrap interval over
volumes. A risk defined otherwise (HD95, volume error) says nothing of Dice, so none is made up
from it: the mean risk is shown instead, under its own name.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

#: The risk a segmentation AuditSet holds unless its provenance names another.
DEFAULT_RISK = "dice"


def is_segmentation(audit) -> bool:
    """Whether an AuditSet holds a segmentation's volumes (``task == "segmentation"``)."""
    return getattr(audit, "task", None) == "segmentation"


def risk_name(audit) -> str:
    """The short name of the AuditSet's risk (``dice``, ``hd95``, ``volume_error``)."""
    provenance = audit.provenance or {}
    name = provenance.get("risk_name", provenance.get("risk", DEFAULT_RISK))
    return name if isinstance(name, str) and " " not in name else DEFAULT_RISK


def volume_dice(audit) -> np.ndarray | None:
    """Mean foreground Dice per volume (1 - risk) when the risk is ``dice``, else None."""
    if risk_name(audit) != "dice":
        return None
    return 1.0 - np.asarray(audit.risk, dtype=float)


def dice_per_test_set(
    audit,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    random_state: int = 0,
    include_val: bool = False,
) -> pd.DataFrame:
    """Volumes and mean Dice (or mean risk) per test set, with a bootstrap CI over volumes.

    The validation split ``val`` is left out unless ``include_val``, as in ``evaluate``.

    Columns: ``test_set``, ``volumes``, ``measure`` (``Dice``, or ``<risk> risk``),
    ``value``, ``ci_low``, ``ci_high``, ``worst`` (the lowest Dice, or the highest risk).
    Each test set's resamples are seeded from ``random_state`` and its name.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> audit = SimpleNamespace(test_set=np.array(["iid", "iid", "cor/ghosting/5"]),
    ...     test_sets=("iid", "cor/ghosting/5"), risk=np.array([0.1, 0.3, 0.6]),
    ...     provenance={}, task="segmentation")
    >>> table = dice_per_test_set(audit, n_bootstrap=0)
    >>> table[["test_set", "volumes", "measure", "value", "worst"]].round(3).values.tolist()
    [['iid', 2, 'Dice', 0.8, 0.7], ['cor/ghosting/5', 1, 'Dice', 0.4, 0.4]]
    """
    dice = volume_dice(audit)
    values = np.asarray(audit.risk, float) if dice is None else dice
    measure = f"{risk_name(audit)} risk" if dice is None else "Dice"
    records = []
    for name in audit.test_sets:
        if name == "val" and not include_val:
            continue
        at = np.asarray(audit.test_set) == name
        chosen = values[at]
        low = high = np.nan
        if n_bootstrap and len(chosen) > 1:
            seed = np.random.SeedSequence([int(random_state), zlib.crc32(name.encode())])
            rng = np.random.default_rng(seed)
            draws = rng.integers(0, len(chosen), size=(n_bootstrap, len(chosen)))
            low, high = np.quantile(
                chosen[draws].mean(axis=1), [(1 - confidence_level) / 2, (1 + confidence_level) / 2]
            )
        records.append(
            {
                "test_set": name,
                "volumes": int(at.sum()),
                "measure": measure,
                "value": float(chosen.mean()),
                "ci_low": float(low),
                "ci_high": float(high),
                "worst": float(chosen.min() if dice is not None else chosen.max()),
            }
        )
    return pd.DataFrame(records)
