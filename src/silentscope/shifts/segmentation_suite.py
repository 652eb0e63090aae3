"""The shifts of a segmentation study: unseen 3D test corruptions and the training variants.

Texture-filter training (Chai, Rueckert and Fetit 2021) is judged by whether a network
trained with textural filters keeps its Dice under noise it never saw. So the test
corruptions (MRI acquisition artifacts) and the training augmentations (texture filters, or
generic intensity changes as the control) are disjoint by construction, and
:func:`check_unseen` refuses a study that would test on a corruption it trained with.

Only names live here (no torch, no arrays): the spec, the preflight checks and the
command line read them without loading the training code; the lists themselves are
:mod:`silentscope.shifts.volume_augment`'s.
"""

from __future__ import annotations

from collections.abc import Iterable

from silentscope.shifts.volume_augment import (
    GENERIC_INTENSITY,
    MRI_TEST_CORRUPTIONS,
    TEXTURE_FILTERS,
)

#: Test corruptions of a segmentation study (``corruptions: default``): the MRI artifacts
#: in 3-D, none of them used in training by any variant.
SEGMENTATION_TEST_CORRUPTIONS = MRI_TEST_CORRUPTIONS

#: Training augmentations by the name ``--augment`` takes (the lists of
#: :mod:`silentscope.shifts.volume_augment`). ``texture``: the texture filters of the seed
#: study. ``generic``: the intensity part of nnU-Net's default augmentation (Gaussian noise
#: and blur, brightness, contrast, gamma) as the control; its Gaussian noise is kin to the
#: Rician test set, which the results say where it matters.
TRAINING_AUGMENTS: dict[str, tuple[str, ...]] = {
    "none": (),
    "texture": TEXTURE_FILTERS,
    "generic": GENERIC_INTENSITY,
}

#: Training variants of a segmentation study (its ``objectives``) and their ``--augment``.
SEGMENTATION_VARIANTS: dict[str, str] = {
    "baseline": "none",
    "texture": "texture",
    "generic": "generic",
}


def variant_augment(variant: str) -> str:
    """The ``--augment`` value of a segmentation study's training variant.

    Examples
    --------
    >>> variant_augment("texture")
    'texture'
    >>> variant_augment("ce")
    Traceback (most recent call last):
    ...
    ValueError: 'ce' is not a segmentation training variant; use one of baseline, texture, generic
    """
    if variant not in SEGMENTATION_VARIANTS:
        raise ValueError(
            f"{variant!r} is not a segmentation training variant; use one of "
            f"{', '.join(SEGMENTATION_VARIANTS)}"
        )
    return SEGMENTATION_VARIANTS[variant]


def check_augment(augment: str) -> tuple[str, ...]:
    """The corruptions an ``--augment`` value trains with; one sentence for an unknown value.

    Examples
    --------
    >>> check_augment("none")
    ()
    >>> check_augment("textures")
    Traceback (most recent call last):
    ...
    ValueError: --augment 'textures' is not a segmentation augmentation; use texture, generic or none
    """
    if augment not in TRAINING_AUGMENTS:
        raise ValueError(
            f"--augment {augment!r} is not a segmentation augmentation; use texture, generic or none"
        )
    return TRAINING_AUGMENTS[augment]


def expand_test_corruptions(names: str | Iterable[str] | None) -> list[str]:
    """Test corruption names of a segmentation run: ``default`` is the unseen MRI suite.

    Examples
    --------
    >>> expand_test_corruptions("default")[:2]
    ['rician_noise', 'kspace_motion']
    >>> expand_test_corruptions(["ghosting", "default"])[:2], expand_test_corruptions("none")
    (['ghosting', 'rician_noise'], [])
    """
    if names is None or names == "none":
        return []
    names = [names] if isinstance(names, str) else list(names)
    out: list[str] = []
    for name in names:
        out += list(SEGMENTATION_TEST_CORRUPTIONS) if name == "default" else [name]
    return list(dict.fromkeys(out))


def check_unseen(corruptions: Iterable[str], augments: Iterable[str]) -> None:
    """Refuse test corruptions that a training augmentation of the same study uses.

    Examples
    --------
    >>> check_unseen(["rician_noise"], ["texture", "none"])
    >>> check_unseen(["bilateral_filter"], ["texture"])
    Traceback (most recent call last):
    ...
    ValueError: test corruption 'bilateral_filter' is used in training by --augment texture, so it is not an unseen shift; drop it from the test corruptions
    """
    used = {name: augment for augment in augments for name in check_augment(augment)}
    for name in corruptions:
        if name in used:
            raise ValueError(
                f"test corruption {name!r} is used in training by --augment {used[name]}, so it is "
                "not an unseen shift; drop it from the test corruptions"
            )
