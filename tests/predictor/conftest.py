"""The ODIR-based fixtures of the subgroup tests serve the predictor tests too."""

from tests.subgroups.conftest import odir_metadata  # noqa: F401
