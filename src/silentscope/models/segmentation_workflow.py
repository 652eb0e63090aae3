"""The rules of a segmentation training run, shared by ``silentscope train --task segmentation``,
studies (``task: segmentation``) and ``silentscope demo --task segmentation``.

What a training variant's ``--augment`` becomes, how the U-Net is trained and how it is
audited on iid and the unseen corruption test sets: one function each, so the command line
and the study runner cannot drift apart (the counterpart of :mod:`silentscope.models.workflow`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from silentscope.shifts.segmentation_suite import check_augment


def load_segmentation_data(name: str, options: dict[str, Any]):
    """The dataset's train / val / test splits (:func:`~silentscope.data.segmentation.load_segmentation_dataset`)."""
    from silentscope.data.segmentation import load_segmentation_dataset

    return load_segmentation_dataset(name, **options)


def segmentation_augmentations(augment: str, seed: int = 0, p: float = 0.5) -> list:
    """The training augmentations of an ``--augment`` value (``none``: no augmentation).

    ``texture`` is :func:`~silentscope.shifts.volume_augment.texture_filter_augmentation`,
    ``generic`` :func:`~silentscope.shifts.volume_augment.intensity_augmentation`: each
    volume of a batch is corrupted with probability ``p`` by one of the variant's
    corruptions at a severity in [1, 5], in 3-D, drawn from a generator seeded by ``seed``.

    Examples
    --------
    >>> segmentation_augmentations("none")
    []
    >>> segmentation_augmentations("texture")[0].name
    'texture: anisotropic_diffusion+bilateral_filter+texture_noise+sobel_edges:1-5:p=0.5'
    """
    names = check_augment(augment)
    if not names:
        return []
    from silentscope.shifts.volume_augment import VolumeAugmentation

    return [_TrainerAugment(augment, VolumeAugmentation(names, p=p), seed)]


class _TrainerAugment:
    """A float-volume augmentation in the trainer's form ``aug(x, generator) -> x``.

    ``x`` is a torch batch (B, C, *spatial) in [0, 1]; the augmentation reads it channels
    last. Its draws come from its own numpy generator seeded with the run's seed (so a run
    is reproducible); the trainer's generator is left to shuffling and dropout.
    """

    def __init__(self, variant: str, augmentation, seed: int):
        import numpy as np

        self.name = f"{variant}: {augmentation.describe()}"
        self.augmentation = augmentation
        self.rng = np.random.default_rng(seed)

    def __call__(self, x, generator=None):
        import numpy as np
        import torch

        images = np.moveaxis(x.detach().cpu().numpy(), 1, -1)
        out = self.augmentation(np.clip(images, 0, 1), self.rng)
        return torch.from_numpy(np.moveaxis(out, -1, 1).copy()).to(x.device, x.dtype)


def fit_segmentation(
    data,
    *,
    augment: str = "none",
    seed: int = 0,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    on_epoch=None,
    **params: Any,
):
    """Train the U-Net with one training variant; ``params`` are :class:`SegmentationTrainer`'s.

    Parameters left at None take the trainer's defaults. ``resume`` continues an interrupted
    run in ``checkpoint_dir`` where a training state was saved.
    """
    from silentscope.models.segmentation_training import STATE_FILE, SegmentationTrainer

    given = {key: value for key, value in params.items() if value is not None}
    trainer = SegmentationTrainer(
        augment=segmentation_augmentations(augment, seed) or None, random_state=seed, **given
    )
    state = None if checkpoint_dir is None else Path(checkpoint_dir) / STATE_FILE
    trainer.fit(
        data,
        checkpoint_dir=checkpoint_dir,
        resume=bool(resume and state is not None and state.is_file()),
        on_epoch=on_epoch,
    )
    return trainer


def corrupted_test_sets(
    test, corruptions: list[str], severities: list[int], seed: int = 0
) -> tuple[dict[str, Any], dict[str, str]]:
    """The test volumes under every corruption and severity, and each set's shift record.

    Volumes are corrupted in 3-D (:func:`~silentscope.shifts.volume_augment.corrupt_float`,
    MRI severity levels). Every corruption draws from a seed derived from ``seed`` and its
    name, the same at every severity, so along the severities of one volume only the
    magnitude changes. A set's record says the corruption, severity, seed and the measured
    mean change in grey levels (``change``), so a set that barely changed is said to be no
    shift (:func:`~silentscope.audit.is_negligible_shift`).

    Returns
    -------
    sets : dict of str to SegmentationSet
        ``cor/<corruption>/<severity>`` to the corrupted test volumes (labels unchanged).
    records : dict of str to str
        The same names to a JSON record.
    """
    import json
    import zlib

    import numpy as np

    from silentscope.data.segmentation import SegmentationSet
    from silentscope.shifts.volume_augment import corrupt_float

    sets, records = {}, {}
    for name in corruptions:
        corruption_seed = np.random.SeedSequence([int(seed), zlib.crc32(name.encode())])
        for severity in severities:
            rng = np.random.default_rng(corruption_seed)
            corrupted, _ = corrupt_float(test.images, name, severity, rng, modality="mri")
            key = f"cor/{name}/{severity}"
            sets[key] = SegmentationSet(
                images=corrupted,
                labels=test.labels,
                class_names=test.class_names,
                metadata=test.metadata,
                ids=test.ids,
                spacing=test.spacing,
            )
            change = float(np.abs(corrupted - test.images).mean() * 255)
            record = {"corruption": name, "severity": int(severity), "seed": int(seed)}
            records[key] = json.dumps({**record, "change": round(change, 3)})
    return sets, records


def audit_segmented(
    model,
    data,
    *,
    corruptions: list[str],
    severities: list[int],
    mc_samples: int = 10,
    seed: int = 0,
    provenance: dict[str, Any] | None = None,
):
    """Audit a trained U-Net on val, iid and ``cor/<corruption>/<severity>`` of the test volumes.

    Returns the AuditSet (``risk`` = 1 - mean foreground Dice) and the mid-slices of every
    volume's image, label and prediction (:func:`~silentscope.audit.volume_slices.slice_stack`,
    in the AuditSet's row order) for the report's worst volumes and the viewer's thumbnails.
    """
    import numpy as np

    from silentscope.audit.volume_slices import slice_stack
    from silentscope.segmentation import audit_segmentation

    sets, records = corrupted_test_sets(data.test, corruptions, severities, seed)
    named = {"val": data.val, "iid": data.test, **sets}
    result = audit_segmentation(
        model.network_,
        named,
        mc_samples=mc_samples,
        random_state=seed,
        keep_predictions=True,
        shift_params=records or None,
        provenance={
            **dict(getattr(model, "provenance_", {}) or {}),
            # e.g. "all volumes derive from one template anatomy": said wherever results go
            "caveats": list(getattr(data, "caveats", ()) or ()),
            **dict(provenance or {}),
        },
    )
    audit = result.audit
    order = list(dict.fromkeys(audit.test_set))
    stack = np.concatenate(
        [slice_stack(named[n].images, named[n].labels, result.predictions[n]) for n in order]
    )
    return audit, stack
