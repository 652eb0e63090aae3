"""Hypothesis strategies for (confidence, correct) data."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def samples(min_size=1, max_size=40, tie_levels=None):
    """(confidence, correct) arrays; ``tie_levels`` confines confidences to a few values."""
    conf = (
        st.integers(0, tie_levels - 1).map(lambda k: k / tie_levels)
        if tie_levels
        else st.floats(0, 1, allow_nan=False)
    )
    return st.lists(st.tuples(conf, st.booleans()), min_size=min_size, max_size=max_size).map(
        lambda rows: (
            np.array([r[0] for r in rows], dtype=float),
            np.array([r[1] for r in rows], dtype=bool),
        )
    )
