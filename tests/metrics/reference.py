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


# -- FD-Shifts' definitions, as loops over its ascending removal order (rc_stats_utils.py) ----
def fd_points(conf, correct):
    """FD-Shifts' RC points (descending coverage): remove samples by ascending confidence and
    record a point whenever the next sample's confidence differs; coverage-0 point last."""
    conf = np.asarray(conf, dtype=float)
    res = 1 - np.asarray(correct, dtype=float)
    n = conf.shape[0]
    up = np.argsort(conf, kind="stable")
    c, r = conf[up], res[up]
    cov, sel, gen = [1.0], [r.sum() / n], [r.sum() / n]
    for i in range(n - 1):
        if c[i] != c[i + 1]:
            kept = r[i + 1 :].sum()
            cov.append((n - i - 1) / n)
            sel.append(kept / (n - i - 1))
            gen.append(kept / n)
    return cov, sel, gen


def fd_dominant(conf, correct):
    """Dominant points as FD-Shifts finds them: ROC convex hull with an extra (2, -1) point."""
    from scipy.spatial import ConvexHull
    from sklearn.metrics import roc_curve

    cov, _, _ = fd_points(conf, correct)
    m = len(cov) + 1  # with the coverage-0 point
    correct = np.asarray(correct, dtype=float)
    if correct.sum() in (0, len(correct)):
        mask = np.zeros(m, dtype=bool)
        mask[-1] = True
        return mask[::-1][:-1]
    fpr, tpr, _ = roc_curve(correct, np.asarray(conf, dtype=float), drop_intermediate=False)
    if m == 2:
        return np.array([True])
    pts = np.column_stack((np.append(fpr, 2.0), np.append(tpr, -1.0)))
    idx = ConvexHull(pts).vertices
    idx = idx[(idx != 0) & (idx != m)]
    mask = np.zeros(m, dtype=bool)
    mask[idx] = True
    return mask[::-1][:-1]  # descending coverage, without the coverage-0 point


def mixture_integral(cov, gen, lo=0.0, hi=1.0):
    """Numerical quadrature of g(c) / c, g linear between points and from the origin."""
    from scipy.integrate import quad

    xs = np.concatenate(([0.0], np.sort(cov)))
    ys = np.concatenate(([0.0], np.asarray(gen)[np.argsort(cov)]))
    total = 0.0
    for i in range(len(xs) - 1):
        a, b = max(xs[i], lo), min(xs[i + 1], hi)
        if b <= a:
            continue
        if i == 0:
            total += ys[1] / xs[1] * (b - a)
            continue

        def risk(x, i=i):
            return np.interp(x, xs[i : i + 2], ys[i : i + 2]) / x

        total += quad(risk, a, b, epsabs=1e-13, epsrel=1e-12)[0]
    return total


def fd_aurc_achievable(conf, correct):
    cov, _, gen = fd_points(conf, correct)
    mask = fd_dominant(conf, correct)
    return mixture_integral(np.asarray(cov)[mask], np.asarray(gen)[mask])


def fd_aurc_ba(conf, correct, labels):
    conf = np.asarray(conf, dtype=float)
    res = 1 - np.asarray(correct, dtype=float)
    labels = np.asarray(labels)
    classes = sorted(set(labels.tolist()))
    n = conf.shape[0]
    up = np.argsort(conf, kind="stable")
    cov, risk = [], []
    for k in range(n):  # accept the n - k most confident once a group boundary is passed
        if k > 0 and conf[up[k - 1]] == conf[up[k]]:
            continue
        kept = up[k:]
        rates = []
        for c in classes:
            members = kept[labels[kept] == c]
            rates.append(res[members].mean() if members.size else 0.0)
        cov.append((n - k) / n)
        risk.append(float(np.mean(rates)))
    cov.append(0.0)
    risk.append(risk[-1])
    return trapezoid(cov[::-1], risk[::-1])


def fd_augrc_ba(conf, correct, labels):
    conf = np.asarray(conf, dtype=float)
    res = 1 - np.asarray(correct, dtype=float)
    labels = np.asarray(labels)
    n = conf.shape[0]
    classes, counts = np.unique(labels, return_counts=True)
    size = dict(zip(classes.tolist(), counts.tolist(), strict=True))
    weight = np.array([n / (len(classes) * size[y]) for y in labels.tolist()])
    cov, gen = [0.0], [0.0]
    for t in sorted(set(conf.tolist()), reverse=True):
        accepted = conf >= t
        cov.append(accepted.sum() / n)
        gen.append((weight * res)[accepted].sum() / n)
    return trapezoid(cov, gen)
