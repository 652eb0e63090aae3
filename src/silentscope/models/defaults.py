"""Training hyper-parameters that work out of the box, by dataset size and image size."""

from __future__ import annotations

from typing import Any


def default_hyperparameters(n_train: int, image_size: int) -> dict[str, Any]:
    """Epochs, batch size, learning rate, weight decay and early-stopping patience.

    Small datasets get more epochs (each epoch is short and they need more passes to
    converge); large images get smaller batches to bound memory. The optimiser is AdamW
    with a cosine learning-rate schedule per training stage.

    Parameters
    ----------
    n_train : int
        Training images.
    image_size : int
        Side length the network sees.

    Returns
    -------
    dict
        ``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``patience``.

    Examples
    --------
    >>> default_hyperparameters(4708, 28)["epochs"]
    20
    >>> default_hyperparameters(100_000, 224)["batch_size"]
    64
    """
    if n_train < 1:
        raise ValueError(f"the training split is empty (n_train={n_train}); training needs images")
    if n_train <= 2_000:
        epochs = 40
    elif n_train <= 10_000:
        epochs = 20
    elif n_train <= 50_000:
        epochs = 12
    else:
        epochs = 8
    batch_size = 128 if image_size <= 64 else 64
    return {
        "epochs": epochs,
        "batch_size": min(batch_size, max(2, n_train)),
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "patience": max(5, epochs // 3),
    }
