"""Shifts that shift: blur on small images, the measured change, negligible sets refused."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from silentscope.audit import NEGLIGIBLE_CHANGE, is_negligible_shift, shift_changes
from silentscope.data.dataset import ImageDataset
from silentscope.models.audit_model import audit_model
from silentscope.models.eval_sets import plan_corruption_sets
from silentscope.shifts import NegligibleShiftWarning, corrupt, default_suite, expand_corruptions
from silentscope.shifts.apply import corruption_test_sets as image_test_sets
from silentscope.shifts.effect import measure_effects


def _images(n=8, size=28, channels=1, seed=0):
    """Smooth-ish random images: structure at a few pixels, like a downsampled scan."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, size // 4, size // 4, channels)).astype(np.uint8)
    return np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)


def _dataset(images, modality="xray"):
    n = len(images)
    split = np.array(["train", "val", "test"] * (n // 3 + 1))[:n]
    return ImageDataset(
        "toy", images, np.arange(n) % 2, ("a", "b"), split, [str(i) for i in range(n)],
        modality=modality,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "modality"), [("gaussian_blur", "xray"), ("defocus_blur", "dermatoscopy")]
)
def test_small_image_blur_changes_the_images_and_grows_with_severity(name, modality):
    images = _images(size=28, channels=3 if modality == "dermatoscopy" else 1)
    changes = []
    for severity in range(1, 6):
        blurred, _ = corrupt(images, name, severity, seed=0, modality=modality)
        changes.append(np.abs(blurred.astype(float) - images).mean())
    assert min(changes) > NEGLIGIBLE_CHANGE  # was 0.00 at every severity (X-ray Gaussian)
    assert all(b > a for a, b in zip(changes, changes[1:], strict=False))


def test_blur_at_the_reference_size_is_unchanged_by_the_small_image_floor():
    images = _images(n=2, size=224)
    blurred, _ = corrupt(images, "gaussian_blur", 1, seed=0, modality="xray")
    reference = np.stack(
        [__import__("cv2").GaussianBlur(im, (9, 9), 0.8, borderType=4)[..., None] for im in images]
    )
    assert np.abs(blurred.astype(int) - reference).max() <= 1


def test_a_negligible_named_corruption_is_refused_before_training():
    white = np.full((12, 28, 28, 1), 255, np.uint8)  # brightening white images changes nothing
    with pytest.raises(ValueError, match="brightness_up at 28x28 px .* not a shift; use larger"):
        plan_corruption_sets(_dataset(white), ["brightness_up"], (1, 5))


def test_negligible_sets_of_the_default_suite_are_left_out_with_a_warning():
    white = np.full((12, 28, 28, 1), 255, np.uint8)
    with pytest.warns(NegligibleShiftWarning, match="brightness_up"):
        plan = plan_corruption_sets(_dataset(white), "default", (1, 5))
    assert "brightness_up" not in plan.corruptions
    assert "cor/brightness_up/5" in plan.dropped and "cor/brightness_up/5" not in plan.test_sets
    assert "gaussian_noise" in plan.corruptions
    assert plan.record()["checked_change"]["brightness_up"] == {"1": 0.0, "5": 0.0}


def test_severities_that_do_not_grow_are_warned_about():
    effect = measure_effects(_images(), ["motion_blur"], [1, 2], "generic")[0]
    if effect.not_increasing:  # MedMNIST-C's motion blur: radius 10 vs 15 at the same sigma
        assert "does not change them more" in effect.problem()
    else:
        assert effect.changes[1] > effect.changes[0]


def test_default_is_expanded_the_same_way_everywhere():
    images = _images(n=12)
    data = _dataset(images)
    expected = [c.name for c in default_suite("xray", channels=1)]
    assert expand_corruptions("default", "xray", 1) == expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegligibleShiftWarning)
        assert plan_corruption_sets(data, "default", (3,), n_check=0).corruptions == expected
    named = list(
        dict.fromkeys(
            n.split("/")[1] for n, _, _ in image_test_sets(images, "xray", severities=[3])
        )
    )
    assert named == expected


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 4))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.features(x))


def test_every_corrupted_set_records_its_measured_change():
    torch.manual_seed(0)
    data = _dataset(_images(n=24))
    plan = plan_corruption_sets(data, ["gaussian_noise", "gaussian_blur"], (1, 5))
    audit = audit_model(_Tiny(), data, test_sets=plan.test_sets, feature_layer="features")
    changes = shift_changes(audit)
    assert set(changes) == set(plan.test_sets)
    assert all(not is_negligible_shift(c) for c in changes.values())
    assert changes["cor/gaussian_noise/5"] > changes["cor/gaussian_noise/1"]
    record = json.loads(audit.shift_params[np.asarray(audit.test_set) == "cor/gaussian_blur/1"][0])
    assert record["change"] > NEGLIGIBLE_CHANGE
    from silentscope.evaluation import evaluate

    table = evaluate(audit, csfs=["MSR"], metrics=["aurc"], n_bootstrap=0, random_state=0).table
    by_set = table.set_index("test_set")["shift_change"]
    assert by_set["cor/gaussian_noise/5"] == pytest.approx(changes["cor/gaussian_noise/5"])
    assert np.isnan(by_set["iid"])
