"""The appearance modality: an artefact only the image shows is one slice, named by a measure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSet
from silentscope.data.appearance import APPEARANCE_COLUMNS, with_appearance
from silentscope.slices import discover_slices
from silentscope.slices.discover import available_modalities


def _fogged_audit(n=1000, seed=0):
    """Textured images; 8% fogged (blurred, paler) in both classes fail half the time.

    The classifier's features hold the class and noise: nothing of the fog.
    """
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    images = rng.normal(120, 35, (n, 16, 16, 3))
    fogged = rng.random(n) < 0.08
    smooth = (images[fogged] + np.roll(images[fogged], 1, 1) + np.roll(images[fogged], 1, 2)) / 3
    images[fogged] = 0.6 * smooth + 0.4 * 225
    images = np.clip(images, 0, 255).astype(np.uint8)
    wrong = rng.random(n) < np.where(fogged, 0.5, 0.05)
    features = rng.normal(size=(n, 16))
    features[:, 0] += np.where(label == 1, 4.0, -4.0)
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
        logits=np.eye(2)[np.where(wrong, 1 - label, label)] * 3, class_names=["a", "b"],
        features=features, metadata=pd.DataFrame({"age": rng.integers(20, 90, n)}),
    )  # fmt: skip
    return with_appearance(audit, images), fogged


def _best(report, audit, truth):
    best, rule = 0.0, ""
    for row in report.slices.itertuples():
        chosen = report.membership.loc[report.membership["rank"] == row.rank, "sample_id"]
        members = np.isin(audit.sample_id, chosen)
        jaccard = (members & truth).sum() / (members | truth).sum()
        if jaccard > best:
            best, rule = jaccard, str(row.rule)
    return best, rule


def test_fog_only_the_image_shows_is_one_slice_whose_rule_names_an_image_measure():
    audit, fogged = _fogged_audit()
    assert "appearance" in available_modalities(audit)
    report = discover_slices(audit, n_seeds=3)
    jaccard, rule = _best(report, audit, fogged)
    assert jaccard >= 0.8 and "image " in rule
    # without the measures the same data gives no slice near the fog
    without = audit.metadata.drop(columns=list(APPEARANCE_COLUMNS))
    plain = discover_slices(
        AuditSet(sample_id=audit.sample_id, test_set=audit.test_set, label=audit.label,
                 logits=audit.logits, class_names=audit.class_names, features=audit.features,
                 metadata=without),
        n_seeds=3,
    )  # fmt: skip
    assert _best(plain, audit, fogged)[0] < 0.5


def test_a_glare_spot_is_one_slice_named_by_where_the_light_falls():
    """Glare at a random place on images of varied exposure: only a highlight measure names it.

    The glare lies anywhere between a quarter and three quarters of the way across, so the
    images it spoils differ in where the light falls; the slice is every glared image, not
    the glare near the centre, and its rule reads the highlight ("image highlight" or
    "image white highlight"), not the exposure.
    """
    rng = np.random.default_rng(3)
    n, size = 1000, 16
    label = rng.integers(0, 2, n)
    exposure = rng.uniform(60, 150, n)[:, None, None, None]
    texture = rng.uniform(15, 45, n)[:, None, None, None]
    images = exposure + texture * rng.standard_normal((n, size, size, 3))
    glared = rng.random(n) < 0.08
    yy, xx = np.mgrid[:size, :size] / size
    for i in np.flatnonzero(glared):
        cy, cx = rng.uniform(0.25, 0.75, 2)
        spot = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 0.08**2))
        images[i] += 110 * spot[..., None]
    wrong = rng.random(n) < np.where(glared, 0.5, 0.05)
    features = rng.normal(size=(n, 16))
    features[:, 0] += np.where(label == 1, 4.0, -4.0)
    audit = with_appearance(
        AuditSet(
            sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
            logits=np.eye(2)[np.where(wrong, 1 - label, label)] * 3, class_names=["a", "b"],
            features=features, metadata=pd.DataFrame({"age": rng.integers(20, 90, n)}),
        ),
        np.clip(images, 0, 255).astype(np.uint8),
    )  # fmt: skip
    report = discover_slices(audit, n_seeds=3)
    jaccard, rule = _best(report, audit, glared)
    assert jaccard >= 0.75 and "highlight" in rule


def test_appearance_measures_are_not_mixed_into_the_metadata_block():
    audit, _ = _fogged_audit(n=300)
    report = discover_slices(audit, n_seeds=2)
    assert "appearance" in report.representation.blocks
    metadata_note = [n for n in report.notes if n.startswith("metadata encoded as")]
    assert metadata_note and "image" not in metadata_note[0]


def test_errors_that_depend_on_nothing_give_no_slice_with_the_appearance_modality():
    found = 0
    for seed in range(4):
        audit, _ = _fogged_audit(n=800, seed=seed)
        rng = np.random.default_rng(100 + seed)
        wrong = rng.random(audit.n_samples) < 0.15  # errors independent of every input
        label = np.asarray(audit.label)
        null = AuditSet(
            sample_id=audit.sample_id, test_set=audit.test_set, label=label,
            logits=np.eye(2)[np.where(wrong, 1 - label, label)] * 3,
            class_names=audit.class_names, features=audit.features, metadata=audit.metadata,
            metadata_roles={c: "acquisition" for c in APPEARANCE_COLUMNS},
        )  # fmt: skip
        report = discover_slices(null, n_seeds=2)
        assert "appearance" in report.settings["modalities"]  # the measures were read
        found += report.n_slices
    assert found == 0


def test_identical_images_drop_the_appearance_modality_with_a_note_instead_of_failing():
    audit, _ = _fogged_audit(n=400)
    flat = with_appearance(
        AuditSet(
            sample_id=audit.sample_id, test_set=audit.test_set, label=audit.label,
            logits=audit.logits, class_names=audit.class_names, features=audit.features,
            metadata=audit.metadata.drop(columns=list(APPEARANCE_COLUMNS)),
        ),
        np.full((audit.n_samples, 8, 8, 3), 90, np.uint8),
    )  # fmt: skip
    report = discover_slices(flat, n_seeds=2)
    assert "appearance" not in report.settings["modalities"]
    assert any("'appearance' modality was dropped" in note for note in report.notes)


def test_dark_spots_missing_on_small_images_are_left_out_with_a_note_not_an_error():
    """Imported images of mixed sizes: spots are not measured under 24 px (NaN, never 0)."""
    from silentscope.data.appearance import appearance_measures
    from silentscope.slices.representation import appearance_block

    rng = np.random.default_rng(0)
    large = appearance_measures(rng.integers(0, 255, (10, 64, 64, 3), dtype=np.uint8))
    small = appearance_measures(rng.integers(0, 255, (10, 16, 16, 3), dtype=np.uint8))
    mixed = pd.concat([large, small], ignore_index=True)
    assert mixed["image dark spots"].isna().sum() == 10
    block, notes = appearance_block(mixed)
    whole, _ = appearance_block(large)
    assert block.shape == (20, whole.shape[1] - 1)  # every measure but the spots
    assert "not measured on every image: image dark spots" in notes[0]
    broken = mixed.assign(**{"image noise": np.r_[np.nan, mixed["image noise"][1:]]})
    with pytest.raises(ValueError, match="missing or infinite values"):
        appearance_block(broken)


def test_appearance_measures_missing_on_some_images_are_said_not_silently_skipped():
    """Slices are widened only to images that look like them; where the measures are missing
    on some image that check cannot run, and the report says so instead of dropping it."""
    audit, _ = _fogged_audit(n=600)
    metadata = audit.metadata.copy()
    metadata.loc[metadata.index[:3], "image sharpness"] = np.nan
    gappy = AuditSet(
        sample_id=audit.sample_id, test_set=audit.test_set, label=audit.label,
        logits=audit.logits, class_names=audit.class_names, features=audit.features,
        metadata=metadata,
    )  # fmt: skip
    report = discover_slices(gappy, modalities=("image",), n_seeds=2)
    said = [n for n in report.notes if "without checking that the added images look" in n]
    assert len(said) == 1 and "missing on 3 images" in said[0]
    whole = discover_slices(audit, modalities=("image",), n_seeds=2)
    assert not any("without checking" in n for n in whole.notes)
