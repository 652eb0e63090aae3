"""Classification quality of the underlying classifier: accuracy, balanced accuracy, NLL, Brier."""

from __future__ import annotations

import numpy as np

from ._validation import check_class_labels, check_probs_labels


def _predictions_labels(predictions, labels) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(predictions)
    if pred.ndim == 2:
        probs, y = check_probs_labels(pred, labels)
        return probs.argmax(axis=1), y
    pred = check_class_labels(pred, pred.shape[0] if pred.ndim else 0, name="predictions")
    return pred, check_class_labels(labels, pred.shape[0])


def accuracy(predictions, labels) -> float:
    """Share of samples whose predicted class equals the true class.

    Parameters
    ----------
    predictions : array-like of shape (n_samples,) or (n_samples, n_classes)
        Predicted class indices, or class probabilities (the arg-max is the prediction).
    labels : array-like of shape (n_samples,)
        True class indices.

    Returns
    -------
    float
        Accuracy in [0, 1]; higher is better.

    Raises
    ------
    ValueError
        If the shapes disagree, indices are negative or non-integer, or probabilities are
        invalid.

    Examples
    --------
    >>> accuracy([0, 1, 1, 2], [0, 1, 2, 2])
    0.75
    """
    pred, y = _predictions_labels(predictions, labels)
    return float(np.mean(pred == y))


def balanced_accuracy(predictions, labels) -> float:
    """Mean over the classes present in ``labels`` of the per-class recall.

    Equal to ``sklearn.metrics.balanced_accuracy_score`` (Brodersen et al. 2010, "The
    Balanced Accuracy and Its Posterior Distribution", ICPR).

    Parameters
    ----------
    predictions : array-like of shape (n_samples,) or (n_samples, n_classes)
        Predicted class indices, or class probabilities (the arg-max is the prediction).
    labels : array-like of shape (n_samples,)
        True class indices.

    Returns
    -------
    float
        Balanced accuracy in [0, 1]; higher is better; 1 / n_classes for a constant guess.

    Raises
    ------
    ValueError
        As :func:`accuracy`.

    Examples
    --------
    >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0]) == 0.75
    True
    >>> balanced_accuracy([0, 0, 0, 0], [0, 0, 0, 1])
    0.5
    """
    pred, y = _predictions_labels(predictions, labels)
    classes, inverse = np.unique(y, return_inverse=True)
    hits = np.bincount(inverse, weights=(pred == y).astype(np.float64), minlength=classes.size)
    return float(np.mean(hits / np.bincount(inverse, minlength=classes.size)))


def nll(probs, labels) -> float:
    """Mean negative log-likelihood of the true class (cross-entropy, log loss).

    NLL = -mean_i log p_{i, y_i}, with probabilities clipped below at the float64 machine
    epsilon (as ``sklearn.metrics.log_loss``) so a zero probability costs ~36, not inf.

    Parameters
    ----------
    probs : array-like of shape (n_samples, n_classes)
        Predicted class probabilities (rows sum to 1).
    labels : array-like of shape (n_samples,)
        True class indices in [0, n_classes).

    Returns
    -------
    float
        NLL >= 0 (nats); lower is better, ln(n_classes) for a uniform prediction.

    Raises
    ------
    ValueError
        If ``probs`` is not a finite probability matrix or labels are out of range.

    Examples
    --------
    >>> round(nll([[0.5, 0.5], [0.9, 0.1]], [0, 0]), 6)
    0.399254
    """
    p, y = check_probs_labels(probs, labels)
    true_p = np.maximum(p[np.arange(p.shape[0]), y], np.finfo(np.float64).eps)
    return float(-np.mean(np.log(true_p)))


def brier(probs, labels) -> float:
    """Multiclass Brier score: mean over samples of the squared error summed over classes.

    Brier = mean_i sum_c (p_ic - [c == y_i])^2 (Brier 1950, "Verification of Forecasts
    Expressed in Terms of Probability", Monthly Weather Review).

    Parameters
    ----------
    probs : array-like of shape (n_samples, n_classes)
        Predicted class probabilities (rows sum to 1).
    labels : array-like of shape (n_samples,)
        True class indices in [0, n_classes).

    Returns
    -------
    float
        Brier score in [0, 2]; lower is better.

    Raises
    ------
    ValueError
        If ``probs`` is not a finite probability matrix or labels are out of range.

    Examples
    --------
    >>> round(brier([[0.5, 0.5], [0.9, 0.1]], [0, 0]), 6)
    0.26
    """
    p, y = check_probs_labels(probs, labels)
    onehot = np.zeros_like(p)
    onehot[np.arange(p.shape[0]), y] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))
