"""The error every dataset adapter raises for bad input."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset on disk or in memory is unusable as given.

    The message is one sentence that names the file, row or key at fault and the fix.
    It subclasses ``ValueError`` so that callers (and the CLI) can catch it as bad input.
    """
