from __future__ import annotations

import numpy as np

from silentscope.audit import AuditSet


def tiny_audit(logits, labels=None, test_set=None, **fields) -> AuditSet:
    """An AuditSet around hand-written logits; every row is 'iid' unless test_set says otherwise."""
    logits = np.asarray(logits, dtype=np.float64)
    n, c = logits.shape
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=["iid"] * n if test_set is None else test_set,
        label=np.zeros(n, dtype=int) if labels is None else np.asarray(labels),
        logits=logits,
        class_names=[f"c{k}" for k in range(c)],
        **fields,
    )
