"""Analyses of a degenerate classifier's errors say so: subgroups, slices, the predictor."""

import numpy as np
import pandas as pd
import pytest

from silentscope.audit.health import DegenerateModelWarning
from silentscope.predictor import run_predictor
from silentscope.slices import discover_slices
from silentscope.subgroups import analyze_subgroups
from tests.support.audits import imbalanced_audit


def _audit(constant: bool):
    # every image called "normal": the errors are exactly the pneumonia cases, so any
    # "risky group" is only where pneumonia is common
    rng = np.random.default_rng(0)
    meta = pd.DataFrame({"age": rng.integers(20, 90, 400), "sex": rng.choice(["F", "M"], 400)})
    return imbalanced_audit(constant, n=400, metadata=meta)


ANALYSES = {
    "subgroups": lambda audit: analyze_subgroups(audit).settings["health"],
    "slices": lambda audit: discover_slices(audit, n_seeds=2, min_support=10).settings["health"],
    "predictor": lambda audit: run_predictor(audit, n_bootstrap=20).notes,
}


@pytest.mark.parametrize("analysis", ANALYSES)
def test_analyses_of_a_degenerate_classifier_warn_and_record_it(analysis):
    with pytest.warns(DegenerateModelWarning, match="not where it fails"):
        recorded = ANALYSES[analysis](_audit(constant=True))
    if analysis == "predictor":
        assert any("degenerate" in note for note in recorded)
    else:
        assert recorded["degenerate"] is True and "only 'normal'" in recorded["reason"]


@pytest.mark.parametrize("analysis", ["subgroups", "slices"])
def test_a_working_classifier_gets_no_such_warning(analysis, recwarn):
    recorded = ANALYSES[analysis](_audit(constant=False))
    assert recorded["degenerate"] is False
    assert not [w for w in recwarn if issubclass(w.category, DegenerateModelWarning)]
