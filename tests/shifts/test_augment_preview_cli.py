"""Training-time augmentation, the preview grid, the samplers behind noise, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import stats
from typer.testing import CliRunner

from silentscope.cli import app
from silentscope.shifts import CorruptionAugment, get_corruption
from silentscope.shifts.corruption_augment import TEXTURE_FILTERS
from silentscope.shifts.noise import poisson_counts
from silentscope.shifts.preview import preview_grid
from silentscope.shifts.xray import filtered_back_projection, radon


def _batch(n=6, channels=1, size=32):
    return np.random.default_rng(1).integers(0, 256, (n, size, size, channels), dtype=np.uint8)


def test_texture_augment_is_reproducible_and_varies_between_calls():
    batch = _batch()
    first = CorruptionAugment(p=1.0, random_state=0)
    second = CorruptionAugment(p=1.0, random_state=0)
    a, b = first(batch), second(batch)
    assert np.array_equal(a, b)
    assert not np.array_equal(first(batch), a)  # the stream goes on: new draws next batch
    assert set(first.names) == set(TEXTURE_FILTERS)


def test_augment_probability_zero_passes_images_unchanged():
    batch = _batch()
    assert np.array_equal(CorruptionAugment(p=0.0)(batch), batch)


def test_augment_accepts_torch_batches_float_and_uint8():
    augment = CorruptionAugment(names=["sobel_edges"], severity=(5, 5), p=1.0)
    tensor = torch.rand(3, 1, 24, 24)
    out = augment(tensor)
    assert out.shape == tensor.shape and out.dtype == tensor.dtype
    assert float((out - tensor).abs().mean()) > 0.05
    as_uint8 = augment((tensor * 255).to(torch.uint8))
    assert as_uint8.dtype == torch.uint8
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        augment(torch.rand(3, 24, 24))


def test_augment_rejects_bad_arguments():
    with pytest.raises(ValueError, match="non-empty list"):
        CorruptionAugment(names="sobel_edges")
    with pytest.raises(ValueError, match="unknown corruption"):
        CorruptionAugment(names=["sobel"])
    with pytest.raises(ValueError, match="probability"):
        CorruptionAugment(p=1.5)


def test_poisson_sampler_matches_the_poisson_distribution():
    image = np.full((150, 150), 77, np.uint8)
    lam = 77 * 18 / 255
    counts = poisson_counts(image, 18.0, np.random.default_rng(0)).astype(int).ravel()
    support = np.arange(counts.max() + 1)
    observed = np.bincount(counts, minlength=len(support))
    expected = stats.poisson.pmf(support, lam) * counts.size
    keep = expected > 5
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 0.001


def test_ct_reconstruction_inverts_the_projection():
    yy, xx = np.mgrid[:48, :48] - 23.5
    phantom = ((xx / 15) ** 2 + (yy / 20) ** 2 < 1).astype(np.float32)
    angles = np.linspace(0, 180, 80, endpoint=False)
    recon = filtered_back_projection(radon(phantom, angles), angles, 48)
    inside = (xx / 12) ** 2 + (yy / 17) ** 2 < 1
    assert abs(recon[inside].mean() - 1) < 0.05


def test_ct_noise_level_does_not_depend_on_image_size():
    noise = get_corruption("ct_low_dose_noise", "ct")
    stds = []
    for size in (32, 96):
        images = np.full((2, size, size, 1), 100, np.uint8)
        out = noise.apply(images, noise.sample_params(np.random.default_rng(0), 5, 2))
        stds.append(out.astype(float).std())
    assert 0.6 < stds[0] / stds[1] < 1.6


def test_preview_grid_shows_severity_zero_as_the_clean_image():
    image = _batch(1, 3, 24)[0]
    grid = preview_grid(
        image, ["gaussian_noise", "black_corner"], severities=[0, 3], modality="dermatoscopy"
    )
    assert grid.ndim == 3 and grid.shape[2] == 3
    windows = np.lib.stride_tricks.sliding_window_view(grid, image.shape)[..., 0, :, :, :]
    matches = (windows == image).all(axis=(-3, -2, -1))
    assert matches.sum() == 2  # column 0 of both rows is the clean image, pixel for pixel


runner = CliRunner()


def test_cli_list_shows_modality_levels():
    result = runner.invoke(app, ["shifts", "list", "--modality", "dermatoscopy"])
    assert result.exit_code == 0, result.output
    assert "black_corner" in result.output and "quality: 30 20 15 10 7" in result.output


def test_cli_preview_writes_a_png_grid_from_a_medmnist_file(medmnist_dir, tmp_path):
    out = tmp_path / "grid.png"
    result = runner.invoke(
        app,
        [
            "shifts",
            "preview",
            "--dataset",
            str(medmnist_dir / "pneumoniamnist.npz"),
            "--out",
            str(out),
            "--corruption",
            "gaussian_noise",
            "--corruption",
            "low_dose_noise",
            "--severity",
            "0",
            "--severity",
            "5",
            "--size",
            "48",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "xray levels" in result.output
    width, height = Image.open(out).size
    assert height > 2 * 48 and width > 2 * 48


def test_cli_preview_reports_a_bad_name_in_one_line(medmnist_dir, tmp_path):
    result = runner.invoke(
        app,
        [
            "shifts",
            "preview",
            "--dataset",
            str(medmnist_dir / "dermamnist.npz"),
            "--out",
            str(tmp_path / "g.png"),
            "--corruption",
            "blurr",
        ],
    )
    assert result.exit_code == 2
    assert "unknown corruption 'blurr'; valid names" in result.output
