"""Training augmentations: what they do to images, seeded, and the corruption hook."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from silentscope.models import Trainer
from silentscope.models.augmentations import (
    CorruptionAugmentation,
    HorizontalFlip,
    RandomShift,
    VerticalFlip,
    build_augmentations,
)


def _translations(original: torch.Tensor, shifted: torch.Tensor, s: int) -> list[tuple[int, int]]:
    """Offsets (dy, dx) in [-s, s] for which ``shifted`` is ``original`` translated (edge-padded)."""
    padded = torch.nn.functional.pad(original[None], (s, s, s, s), mode="replicate")[0]
    h, w = original.shape[-2:]
    return [
        (dy - s, dx - s)
        for dy in range(2 * s + 1)
        for dx in range(2 * s + 1)
        if torch.equal(padded[:, dy : dy + h, dx : dx + w], shifted)
    ]


def test_random_shift_translates_each_image_within_the_range():
    x = torch.rand(16, 1, 20, 20)
    shifted = RandomShift(0.1)(x, torch.Generator().manual_seed(0))
    offsets = [_translations(x[i], shifted[i], 2) for i in range(16)]
    assert all(len(o) == 1 for o in offsets)  # every image is exactly one translation
    assert len({o[0] for o in offsets}) > 3  # and the translations vary


def test_flips_follow_their_probability():
    x = torch.rand(64, 3, 5, 5)
    g = torch.Generator().manual_seed(0)
    flipped = HorizontalFlip(p=0.5)(x, g)
    is_flipped = [torch.equal(flipped[i], x[i].flip(2)) for i in range(64)]
    is_same = [torch.equal(flipped[i], x[i]) for i in range(64)]
    assert all(a != b for a, b in zip(is_flipped, is_same, strict=True))
    assert 16 < sum(is_flipped) < 48
    assert torch.equal(VerticalFlip(p=0.0)(x, g), x)


def test_augmentations_are_reproducible_from_the_generator():
    x = torch.rand(8, 1, 12, 12)
    augs = build_augmentations(("hflip", "vflip", "shift"))

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        out = x
        for aug in augs:
            out = aug(out, g)
        return out

    assert torch.equal(run(1), run(1)) and not torch.equal(run(1), run(2))


def test_defaults_depend_on_the_modality_and_names_are_exact():
    assert [a.name for a in build_augmentations("default", "xray")] == ["shift"]
    assert [a.name for a in build_augmentations("default", "dermatoscopy")] == [
        "hflip",
        "vflip",
        "shift",
    ]
    assert build_augmentations("none") == []
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        build_augmentations(["flip"])


def test_corruption_hook_uses_the_shift_suite():
    x = torch.rand(8, 1, 16, 16)
    aug = CorruptionAugmentation("gaussian_noise", severities=(5,), p=1.0, modality="xray")
    out = aug(x, torch.Generator().manual_seed(0))
    again = aug(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert (out - x).abs().mean() > 0.05  # severity-5 noise, well above uint8 rounding
    untouched = CorruptionAugmentation("gaussian_noise", p=0.0)(x, torch.Generator())
    assert torch.equal(untouched, x)


def test_trainer_trains_with_a_texture_filter_augmentation(pneumonia, tiny):
    # The texture filters of Chai, Rueckert and Fetit (2021) live in the shift suite.
    texture = CorruptionAugmentation("anisotropic_diffusion", severities=(2, 4), p=0.5)
    tiny["augment"] = ["shift", texture]
    trainer = Trainer(epochs=1, **tiny).fit(pneumonia)
    assert trainer.provenance_["augmentations"] == [
        "shift",
        "corruption:anisotropic_diffusion:[2, 4]:p=0.5",
    ]
    assert np.isfinite(trainer.history_["train_loss"]).all()
    plain = Trainer(epochs=1, **{**tiny, "augment": ["shift"]}).fit(pneumonia)
    assert trainer.history_["train_loss"].iloc[0] != plain.history_["train_loss"].iloc[0]
