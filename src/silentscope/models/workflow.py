"""The rules of a training run, shared by ``silentscope train``, studies and the demo.

Which objectives are multi-label, what ``--augment`` and ``--augment-corruption`` become,
when MC-dropout sampling applies (not for ensembles, not without dropout), training a single
network or a deep ensemble, and auditing either (one AuditSet, or one per finding for a
multi-label network): one function each, so the command line and the study runner cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from silentscope.data.dataset import ImageDataset
from silentscope.models.augmentations import DEFAULTS_BY_MODALITY, CorruptionAugmentation
from silentscope.models.ensemble import DeepEnsemble
from silentscope.models.multilabel import audit_multilabel
from silentscope.models.objectives import OBJECTIVES, make_objective
from silentscope.models.training import Trainer


def is_multi_label(objective: str) -> bool:
    """Whether a registered objective trains a multi-label network (one audit per finding).

    Examples
    --------
    >>> is_multi_label("bce"), is_multi_label("dg")
    (True, False)
    """
    if objective not in OBJECTIVES:
        make_objective(objective)  # raises the unknown-objective message
    return bool(OBJECTIVES[objective].multi_label)


def check_training_request(objective: str, ensemble: int = 1) -> None:
    """Refuse requests no run can honour, before any data is loaded.

    Examples
    --------
    >>> check_training_request("bce", ensemble=3)
    Traceback (most recent call last):
    ...
    ValueError: deep ensembles of multi-label (bce) networks are not supported; drop --ensemble
    """
    if ensemble < 1:
        raise ValueError(f"--ensemble must be at least 1, got {ensemble}")
    if ensemble > 1 and is_multi_label(objective):
        raise ValueError(
            f"deep ensembles of multi-label ({objective}) networks are not supported; drop --ensemble"
        )


def training_augmentations(
    augment: Sequence[str] | None, augment_corruption: str | None, modality: str
) -> str | list:
    """The ``augment`` argument of :class:`Trainer` from augmentation names and a corruption.

    ``default`` stands for the modality's augmentations; ``augment_corruption`` adds a
    corruption (e.g. a texture filter) applied during training on top of them.

    Examples
    --------
    >>> training_augmentations(None, None, "xray")
    'default'
    >>> augment = training_augmentations(["hflip"], "sobel_edges", "xray")
    >>> augment[0], type(augment[1]).__name__
    ('hflip', 'CorruptionAugmentation')
    """
    names = list(augment or ["default"])
    if not augment_corruption:
        return names[0] if len(names) == 1 else names
    base = [a for a in names if a not in ("default", "none")]
    if "default" in names:
        base = list(DEFAULTS_BY_MODALITY.get(modality, DEFAULTS_BY_MODALITY["generic"])) + base
    return base + [CorruptionAugmentation(augment_corruption, modality=modality)]


def mc_samples_for(mc_samples: int, dropout: float, ensemble: int = 1) -> tuple[int, str | None]:
    """MC-dropout samples to record, and why they were turned off (or None).

    An ensemble's members take the place of MC samples; without dropout there is nothing
    to sample.

    Examples
    --------
    >>> mc_samples_for(20, 0.3)
    (20, None)
    >>> mc_samples_for(20, 0.0)[0], mc_samples_for(20, 0.3, ensemble=5)[0]
    (0, 0)
    """
    if ensemble > 1:
        return 0, None  # the members' logits are recorded as mc_logits instead
    if mc_samples and dropout == 0:
        return 0, "dropout 0 leaves nothing to sample; no MC-dropout logits recorded"
    return mc_samples, None


def fit_model(
    dataset: ImageDataset,
    *,
    ensemble: int = 1,
    seed: int = 0,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    **params: Any,
) -> Trainer | DeepEnsemble:
    """Train one network (:class:`Trainer`) or a deep ensemble of ``ensemble`` seeds.

    ``params`` are :class:`Trainer` parameters. ``resume`` continues an interrupted run in
    ``checkpoint_dir`` (a single network resumes only where a training state was saved).
    """
    if ensemble > 1:
        model = DeepEnsemble(n_members=ensemble, random_state=seed, **params)
        model.fit(dataset, checkpoint_dir=checkpoint_dir, resume=resume)
        return model
    model = Trainer(random_state=seed, **params)
    state = None if checkpoint_dir is None else Path(checkpoint_dir) / "training_state.pt"
    model.fit(
        dataset,
        checkpoint_dir=checkpoint_dir,
        resume=bool(resume and state is not None and state.is_file()),
    )
    return model


def audit_trained(
    model: Trainer | DeepEnsemble,
    dataset: ImageDataset,
    *,
    objective: str,
    threshold: float | str = 0.5,
    **kwargs: Any,
):
    """Audit a trained model: an AuditSet, or one per finding for a multi-label objective.

    ``kwargs`` go to :meth:`Trainer.audit` or :func:`audit_multilabel` (``test_sets``,
    ``mc_samples``, ``seed``, ``provenance``, ...); ``threshold`` is the multi-label
    decision threshold.
    """
    if is_multi_label(objective):
        return audit_multilabel(model, dataset, threshold=threshold, **kwargs)
    return model.audit(dataset, **kwargs)
