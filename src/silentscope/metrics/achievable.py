"""Achievable AURC (convex hull of the risk-coverage curve) and AURC over a coverage range.

A deployed system may pick any threshold, and may also mix two neighbouring thresholds at
random: accepting a random share of the samples between them moves the accepted errors
*linearly* between the two curve points, so in (coverage c, generalized risk g) space every
point of the segment is achievable, and the selective risk along it is g(c) / c, not a
straight line. The best such mixtures lie on the lower convex hull of the generalized-risk
curve (with the origin: abstaining on everything); its vertices are FD-Shifts' *dominant
points*. The achievable AURC integrates g(c) / c along that hull (Traub et al. 2024,
"Overcoming Common Flaws in the Evaluation of Selective Classification Systems", NeurIPS;
FD-Shifts ``RiskCoverageStatsMixin.aurc_achievable`` and ``evaluate_auc(...,
interpolation="non-linear")`` in ``fd_shifts/analysis/rc_stats.py``, IML-DKFZ/fd-shifts).

On a segment where g(c) = a + b c the area is a ln(c_hi / c_lo) + b (c_hi - c_lo); on the
first segment, from the origin, a = 0 and the selective risk is constant. FD-Shifts computes
the same dominant points as the convex hull of the ROC curve (an affine image of the
(c, g) plane, so the hulls have the same vertices); here the hull is built directly.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_confidence_correct
from .risk_coverage import RiskCoverageCurve

# Distance from the chord (in the cross-product's units, coverages and risks in [0, 1]) below
# which a point counts as on it: floating-point rounding of g = errors / n, not a real vertex.
_FLAT = 1e-12


def _curve_points(confidence, correct) -> tuple[RiskCoverageCurve, np.ndarray, np.ndarray]:
    conf, corr = check_confidence_correct(confidence, correct)
    curve = RiskCoverageCurve(conf, corr)
    # Points 1.. of the curve (index 0 is the coverage-0 point), coverage ascending.
    return curve, curve.coverages[1:], curve.generalized_risks[1:]


def lower_hull(coverages: np.ndarray, risks: np.ndarray) -> np.ndarray:
    """Indices of the vertices of the lower convex hull of (0, 0) and the given points.

    Parameters
    ----------
    coverages : ndarray of shape (m,)
        Strictly increasing coverages in (0, 1].
    risks : ndarray of shape (m,)
        Generalized risks at those coverages (non-decreasing).

    Returns
    -------
    ndarray of int
        Indices into ``coverages`` of the hull vertices after the origin, ascending; the
        last point is always one. Points on a hull edge (collinear) are not vertices.

    Examples
    --------
    >>> lower_hull(np.array([0.25, 0.5, 0.75, 1.0]), np.array([0.0, 0.02, 0.2, 0.25])).tolist()
    [0, 1, 3]
    """
    xs = np.concatenate(([0.0], coverages))
    ys = np.concatenate(([0.0], risks))
    last = xs.shape[0] - 1
    # Side of each point relative to the chord from the origin to the last point: the lower
    # hull's vertices between the two ends lie strictly below it, the upper hull's above.
    side = xs[-1] * ys - ys[-1] * xs
    below = side < -_FLAT  # within rounding of the chord counts as on it
    if not below.any():  # nothing below the chord: the hull is the chord itself
        return np.array([last - 1], dtype=np.int64)
    # Qhull (C, O(n log n)), as FD-Shifts uses for the ROC hull; points on a hull edge are
    # not vertices, and they change no area (g stays the same line across them). Imported
    # here: the metrics package stays numpy-only at import time.
    from scipy.spatial import ConvexHull, QhullError

    try:
        vertices = ConvexHull(np.column_stack((xs, ys))).vertices
    except QhullError:  # nearly flat beyond Qhull's precision: the exact monotone chain
        vertices = _monotone_chain(xs, ys)
    lower = vertices[(vertices == last) | below[vertices]]
    return np.sort(lower[lower > 0]) - 1


def _monotone_chain(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Vertices of the lower hull by Andrew's monotone chain (xs ascending); a slow fallback."""
    stack = [0]
    for i in range(1, xs.shape[0]):
        while len(stack) >= 2:
            o, a = stack[-2], stack[-1]
            if (xs[a] - xs[o]) * (ys[i] - ys[o]) - (ys[a] - ys[o]) * (xs[i] - xs[o]) <= 0:
                stack.pop()
            else:
                break
        stack.append(i)
    return np.asarray(stack, dtype=np.int64)


def mixture_area(coverages, risks, coverage_range=(0.0, 1.0)) -> float:
    """Area under g(c) / c when g is linear between points, from the origin on.

    Parameters
    ----------
    coverages : array-like of shape (m,)
        Strictly increasing coverages in (0, 1].
    risks : array-like of shape (m,)
        Generalized risks (accepted failures / all samples) at those coverages.
    coverage_range : (float, float), default (0, 1)
        Integration limits ``lo < hi`` inside [0, 1]; the part beyond the last point
        contributes nothing.

    Returns
    -------
    float
        The area (not divided by the range's width).

    Examples
    --------
    Between (0.5, 0.1) and (1, 0.3), g = -0.1 + 0.4 c; from the origin to 0.5 the selective
    risk is 0.2:

    >>> round(mixture_area([0.5, 1.0], [0.1, 0.3]), 6)
    0.230685
    """
    c = np.concatenate(([0.0], np.asarray(coverages, dtype=np.float64)))
    g = np.concatenate(([0.0], np.asarray(risks, dtype=np.float64)))
    lo, hi = (float(x) for x in coverage_range)
    u, v = c[:-1], c[1:]
    slope = (g[1:] - g[:-1]) / (v - u)
    intercept = g[:-1] - slope * u
    intercept[0] = 0.0  # the first segment starts at the origin: exactly a = 0
    s, t = np.clip(u, lo, hi), np.clip(v, lo, hi)
    inside = t > s
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_part = np.where(
            inside & (intercept != 0), intercept * np.log(t / np.where(s > 0, s, 1.0)), 0.0
        )
    return float(np.sum(np.where(inside, log_part + slope * (t - s), 0.0)))


def check_coverage_range(coverage_range) -> tuple[float, float]:
    """Validate a coverage range ``(lo, hi)`` with 0 <= lo < hi <= 1."""
    try:
        lo, hi = (float(x) for x in coverage_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"coverage_range must be a pair (lo, hi) of numbers, got {coverage_range!r}"
        ) from None
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"coverage_range must satisfy 0 <= lo < hi <= 1, got ({lo}, {hi})")
    return lo, hi


def aurc_achievable(confidence, correct) -> float:
    """Achievable AURC: AURC along the lower convex hull of the risk-coverage curve.

    Only the dominant curve points are kept (vertices of the lower convex hull of the
    generalized-risk curve and the origin), and between them thresholds are mixed at
    random, so the selective risk follows g(c) / c with g linear (see the module
    docstring). This is FD-Shifts' ``aurc_achievable`` (Traub et al. 2024). It is never
    above the AURC of the same ranking reached with mixed thresholds, and for an oracle
    ranking it equals err + (1 - err) ln(1 - err) exactly.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.

    Returns
    -------
    float
        Achievable AURC in [0, 1]; lower is better. 0 when every prediction is correct,
        1 when none is.

    Raises
    ------
    ValueError
        If the inputs are not 1-D, differ in length, are empty, contain NaN/inf, or if
        ``correct`` is not binary.

    Examples
    --------
    >>> conf, correct = [0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1]
    >>> round(aurc_achievable(conf, correct), 6)
    0.134475
    """
    _, cov, risk = _curve_points(confidence, correct)
    hull = lower_hull(cov, risk)
    return mixture_area(cov[hull], risk[hull])


def e_aurc_achievable(confidence, correct) -> float:
    """Achievable excess AURC: :func:`aurc_achievable` minus err + (1 - err) ln(1 - err).

    The subtracted term is the AURC of an oracle ranking in the continuous limit; with
    mixed thresholds an oracle reaches it exactly, so an oracle scores 0 here (the plain
    E-AURC of an oracle is slightly negative for small n). FD-Shifts ``eaurc_achievable``.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.

    Returns
    -------
    float
        Achievable E-AURC, >= 0 up to rounding; lower is better.

    Raises
    ------
    ValueError
        On invalid inputs, as :func:`aurc_achievable`.

    Examples
    --------
    >>> abs(e_aurc_achievable([0.9, 0.8, 0.7, 0.6], [1, 1, 1, 0])) < 1e-15  # oracle
    True
    """
    curve, cov, risk = _curve_points(confidence, correct)
    hull = lower_hull(cov, risk)
    return mixture_area(cov[hull], risk[hull]) - curve.aurc_optimal


def aurc_partial(
    confidence,
    correct=None,
    coverage_range=(0.5, 1.0),
    *,
    interpolation: str = "linear",
    loss=None,
) -> float:
    """AURC over a coverage range: the area under selective risk vs coverage from lo to hi.

    With ``interpolation="linear"`` (default) this integrates the same piecewise-linear
    curve as :func:`~silentscope.metrics.aurc` (grouped ties, coverage-0 point), so the
    range (0, 1) gives exactly the AURC. With ``interpolation="mixture"`` the selective risk
    between curve points is g(c) / c with g linear (random mixing of neighbouring
    thresholds) and constant from coverage 0 to the first point: FD-Shifts'
    ``evaluate_auc(cov_min=lo, cov_max=hi, interpolation="non-linear")``, which is the
    only interpolation FD-Shifts implements for a partial range.

    The default range (0.5, 1) keeps the coverages a screening system would use and
    drops the low-coverage end, where a handful of the most confident samples decides the
    AURC. The result is an area, not divided by hi - lo (as in FD-Shifts); divide by the
    width for the mean selective risk over the range.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.
    coverage_range : (float, float), default (0.5, 1.0)
        ``(lo, hi)`` with 0 <= lo < hi <= 1.
    interpolation : {"linear", "mixture"}, default "linear"
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1] (e.g. 1 - Dice); the
        selective risk is then the mean loss among accepted samples.

    Returns
    -------
    float
        Area in [0, hi - lo]; lower is better.

    Raises
    ------
    ValueError
        On invalid inputs, as :func:`aurc_achievable`, an invalid range or an unknown
        interpolation.

    Examples
    --------
    >>> conf, correct = [0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]
    >>> round(aurc_partial(conf, correct, (0.0, 1.0)), 6)  # equals aurc
    0.114583
    >>> round(aurc_partial(conf, correct, (0.5, 1.0)), 6)
    0.114583
    >>> round(aurc_partial(conf, correct, (0.5, 1.0), interpolation="mixture"), 6)
    0.119188
    >>> round(aurc_partial(conf, coverage_range=(0.0, 1.0), loss=[0.1, 0.5, 0.3, 0.0]), 6)
    0.215625
    """
    lo, hi = check_coverage_range(coverage_range)
    if interpolation not in ("linear", "mixture"):
        raise ValueError(f"interpolation must be 'linear' or 'mixture', got {interpolation!r}")
    curve = RiskCoverageCurve(confidence, correct, loss=loss)
    cov, risk = curve.coverages[1:], curve.generalized_risks[1:]
    if interpolation == "mixture":
        return mixture_area(cov, risk, (lo, hi))
    x, y = curve.coverages, curve.selective_risks
    inner = (x > lo) & (x < hi)
    xs = np.concatenate(([lo], x[inner], [hi]))
    ys = np.concatenate(([np.interp(lo, x, y)], y[inner], [np.interp(hi, x, y)]))
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) * 0.5))
