"""Brute-force reference implementations, written straight from the definitions.

Loops over thresholds and pairs: slow, obvious, and independent of the vectorised code.
"""

from __future__ import annotations

import math

import numpy as np


def rc_curve(conf, correct, weight=None):
    """Grouped risk-coverage points: (coverage, selective risk, generalized risk) lists."""
    conf = np.asarray(conf, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    weight = np.ones(conf.shape[0]) if weight is None else np.asarray(weight, dtype=float)
    total = weight.sum()
    cov, sel, gen = [0.0], [None], [0.0]
    for t in sorted(set(conf.tolist()), reverse=True):
        accepted = conf >= t
        w_acc = weight[accepted].sum()
        w_err = weight[accepted & ~correct].sum()
        cov.append(w_acc / total)
        sel.append(w_err / w_acc)
        gen.append(w_err / total)
    sel[0] = sel[1]
    return cov, sel, gen


def trapezoid(x, y) -> float:
    return sum((x[i + 1] - x[i]) * (y[i] + y[i + 1]) / 2 for i in range(len(x) - 1))


def aurc(conf, correct, weight=None) -> float:
    cov, sel, _ = rc_curve(conf, correct, weight)
    return trapezoid(cov, sel)


def augrc(conf, correct, weight=None) -> float:
    cov, _, gen = rc_curve(conf, correct, weight)
    return trapezoid(cov, gen)


def auroc(conf, correct) -> float:
    """Mann-Whitney over all (correct, failure) pairs; ties count one half."""
    pos = [c for c, y in zip(conf, correct, strict=True) if y]
    neg = [c for c, y in zip(conf, correct, strict=True) if not y]
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def fpr_at_tpr(conf, correct, level=0.95) -> float:
    conf = np.asarray(conf, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    for t in sorted(set(conf.tolist()), reverse=True):
        accepted = conf >= t
        tpr = (accepted & correct).sum() / correct.sum()
        if tpr >= level - 1e-12:
            return (accepted & ~correct).sum() / (~correct).sum()
    raise AssertionError("unreachable: the lowest threshold accepts everything")


def ece(conf, correct, n_bins=15) -> float:
    """Binned ECE; a score c belongs to bin min(floor(B c), B - 1) as documented."""
    sums: dict[int, list[float]] = {}
    for c, y in zip(conf, correct, strict=True):
        k = min(math.floor(c * n_bins), n_bins - 1)
        sums.setdefault(k, [0.0, 0.0])
        sums[k][0] += c
        sums[k][1] += float(y)
    return sum(abs(s_conf - s_acc) for s_conf, s_acc in sums.values()) / len(conf)


def legacy_aurc(conf, correct) -> float:
    """FD-Shifts v0.1.x AURC as documented in ``risk_coverage.legacy_aurc``.

    Positions are counted in removed samples s (ascending, stable order): the curve has
    the point (0, rho_0) and, for each kept step i, the point (i + 1, rho_{i+1}); it is
    flat from the last kept point to s = n - 1 and the area is divided by n.
    """
    conf = np.asarray(conf, dtype=float)
    errors = 1 - np.asarray(correct, dtype=float)
    n = conf.shape[0]
    up = np.argsort(conf, kind="stable")
    c_up, e_up = conf[up], errors[up]
    rho = [e_up[k:].sum() / (n - k) for k in range(n)]
    xs, ys = [0], [rho[0]]
    for i in range(n - 1):
        if i == 0 or c_up[i] != c_up[i - 1]:
            xs.append(i + 1)
            ys.append(rho[i + 1])
    area = trapezoid(xs, ys) + (n - 1 - xs[-1]) * ys[-1]
    return area / n


def rc_curve_loss(conf, loss, weight=None):
    """Grouped risk-coverage points for a continuous per-sample loss in [0, 1]."""
    conf = np.asarray(conf, dtype=float)
    loss = np.asarray(loss, dtype=float)
    weight = np.ones(conf.shape[0]) if weight is None else np.asarray(weight, dtype=float)
    total = weight.sum()
    cov, sel, gen = [0.0], [None], [0.0]
    for t in sorted(set(conf.tolist()), reverse=True):
        accepted = conf >= t
        w_acc = weight[accepted].sum()
        w_loss = (weight * loss)[accepted].sum()
        cov.append(w_acc / total)
        sel.append(w_loss / w_acc)
        gen.append(w_loss / total)
    sel[0] = sel[1]
    return cov, sel, gen


def aurc_loss(conf, loss, weight=None) -> float:
    cov, sel, _ = rc_curve_loss(conf, loss, weight)
    return trapezoid(cov, sel)


def augrc_loss(conf, loss, weight=None) -> float:
    cov, _, gen = rc_curve_loss(conf, loss, weight)
    return trapezoid(cov, gen)


def risk_at_coverage_loss(conf, loss, coverage) -> float:
    """Selective risk at the first grouped point whose coverage reaches ``coverage``."""
    cov, sel, _ = rc_curve_loss(conf, loss)
    for c, r in zip(cov, sel, strict=True):
        if c >= coverage - 1e-12:
            return r
    return sel[-1]
