"""Severities: the one place where a severity argument is checked and turned into magnitudes.

A severity is an integer 0-5 (0 = clean, 1-5 = the five graded levels of ImageNet-C and
MedMNIST-C) or, for training augmentation, a ``(low, high)`` range of real severities from
which each image draws its own. Every corruption stores its magnitudes as a five-level
table; :func:`level_values` interpolates that table at any real severity, so severity 2.5
lies halfway between levels 2 and 3 and severity 0 is the identity.
"""

from __future__ import annotations

import numbers

import numpy as np

#: The graded severities of a corruption test set (``cor/<name>/<severity>``).
SEVERITIES = (1, 2, 3, 4, 5)
MAX_SEVERITY = 5

_SEVERITY_HELP = (
    "use an integer 0-5 (0 = clean, 5 = strongest) or a (low, high) range within 0-5 "
    "to draw a severity per image"
)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def severity_range(severity) -> tuple[float, float]:
    """Normalise a severity argument to a ``(low, high)`` pair of floats within 0-5.

    Parameters
    ----------
    severity : int or tuple of two floats
        An integer 0-5, or a ``(low, high)`` range of real severities with
        ``0 <= low <= high <= 5``.

    Returns
    -------
    (float, float)
        Equal bounds for an integer severity.

    Raises
    ------
    ValueError
        If the severity is not an integer 0-5 or a valid range.

    Examples
    --------
    >>> severity_range(3)
    (3.0, 3.0)
    >>> severity_range((0, 2.5))
    (0.0, 2.5)
    """
    if isinstance(severity, numbers.Integral) and not isinstance(severity, bool):
        if 0 <= int(severity) <= MAX_SEVERITY:
            return float(severity), float(severity)
    elif isinstance(severity, tuple | list) and len(severity) == 2 and all(map(_is_real, severity)):
        low, high = float(severity[0]), float(severity[1])
        if 0.0 <= low <= high <= MAX_SEVERITY:
            return low, high
    raise ValueError(f"invalid severity {severity!r}; {_SEVERITY_HELP}")


def draw_severities(rng: np.random.Generator, severity, n: int) -> np.ndarray:
    """One severity per image: the integer itself, or uniform draws within a range.

    Examples
    --------
    >>> draw_severities(np.random.default_rng(0), 2, 3)
    array([2., 2., 2.])
    >>> bool(np.all(draw_severities(np.random.default_rng(0), (1, 2), 100) <= 2))
    True
    """
    low, high = severity_range(severity)
    if low == high:
        return np.full(n, low)
    return rng.uniform(low, high, n)


def level_values(
    levels, identity: float, severities: np.ndarray, *, inverse: bool = False
) -> np.ndarray:
    """Interpolate a five-level magnitude table at real severities.

    The table is extended by ``identity`` at severity 0 and interpolated piecewise
    linearly; with ``inverse=True`` the interpolation runs on ``1 / value`` (for
    magnitudes whose identity is infinite, such as a photon count).

    Parameters
    ----------
    levels : sequence of 5 floats
        Magnitudes at severities 1-5.
    identity : float
        The magnitude that leaves an image unchanged (severity 0); may be ``inf`` when
        ``inverse`` is set.
    severities : array of float, shape (n,)
        Severities within 0-5.
    inverse : bool, default False
        Interpolate the reciprocal of the magnitudes.

    Returns
    -------
    array of float, shape (n,)

    Examples
    --------
    >>> level_values([1, 2, 3, 4, 6], 0.0, np.array([0.0, 1.0, 4.5]))
    array([0., 1., 5.])
    >>> level_values([60, 25, 18, 10, 5], np.inf, np.array([0.0, 1.0]), inverse=True)
    array([inf, 60.])
    """
    table = np.asarray([identity, *levels], dtype=float)
    if table.shape != (MAX_SEVERITY + 1,):
        raise ValueError(f"a level table needs {MAX_SEVERITY} values, got {len(table) - 1}")
    grid = np.arange(MAX_SEVERITY + 1, dtype=float)
    severities = np.asarray(severities, dtype=float)
    if not inverse:
        return np.interp(severities, grid, table)
    with np.errstate(divide="ignore"):
        values = np.interp(severities, grid, 1.0 / table)
        return 1.0 / values
