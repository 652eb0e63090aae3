"""The U-Net (2D and 3D), batched MC dropout against its loop, and batch-size invariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from silentscope.models.segmentation_inference import segment_batches
from silentscope.models.unet import UNet


@pytest.mark.parametrize(
    ("spatial_dims", "shape"),
    [(3, (2, 1, 8, 8, 8)), (3, (1, 2, 9, 10, 7)), (2, (3, 1, 16, 16)), (2, (2, 3, 13, 11))],
)
def test_output_shape_matches_input_for_any_side(spatial_dims, shape):
    net = UNet(n_classes=4, in_channels=shape[1], spatial_dims=spatial_dims, width=4, depth=3)
    logits, features = net.eval().forward_with_features(torch.rand(shape))
    assert tuple(logits.shape) == (shape[0], 4, *shape[2:])
    assert tuple(features.shape) == (shape[0], 16)  # width * 2 ** (depth - 1)


def test_rejects_bad_settings():
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3"):
        UNet(n_classes=2, spatial_dims=4)
    with pytest.raises(ValueError, match="dropout_sites"):
        UNet(n_classes=2, dropout_sites="everywhere")
    with pytest.raises(ValueError, match="dropout=0"):
        UNet(n_classes=2, dropout=0.0).draw_masks(3, 1)


@pytest.mark.parametrize("sites", ["head", "decoder"])
@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_batched_mc_equals_the_loop_with_the_same_masks(sites, spatial_dims):
    torch.manual_seed(0)
    net = UNet(
        n_classes=3, spatial_dims=spatial_dims, width=4, depth=3, dropout=0.5, dropout_sites=sites
    ).eval()
    x = torch.rand((2, 1) + (12,) * spatial_dims)
    masks = net.draw_masks(5, 2, torch.Generator().manual_seed(1))
    with torch.no_grad():
        batched = net.mc_logits(x, masks)
        looped = net.mc_logits_looped(x, masks)
    assert batched.shape == (5, 2, 3) + (12,) * spatial_dims
    torch.testing.assert_close(batched, looped, rtol=1e-5, atol=1e-5)
    # the masks matter: the samples differ from each other
    assert not torch.allclose(batched[0], batched[1])


def test_mc_outputs_do_not_depend_on_batch_size_or_mode():
    net = UNet(n_classes=3, width=4, depth=2, dropout=0.5).eval()
    images = np.random.default_rng(0).random((3, 8, 8, 8, 1)).astype(np.float32)

    def run(batch_size, mode):
        batches = list(
            segment_batches(
                net,
                images,
                mc_samples=4,
                batch_size=batch_size,
                random_state=7,
                mc_mode=mode,
                device="cpu",
                n_threads=1,
            )
        )
        return np.concatenate([b.mc_mean for b in batches]), np.concatenate(
            [b.mc_expected_entropy for b in batches]
        )

    one, three, looped = run(1, "batched"), run(3, "batched"), run(2, "looped")
    for other in (three, looped):
        np.testing.assert_allclose(one[0], other[0], atol=1e-5)
        np.testing.assert_allclose(one[1], other[1], atol=1e-5)
    again = run(1, "batched")
    np.testing.assert_array_equal(one[0], again[0])  # seeded


def test_segment_batches_refuses_wrong_inputs():
    net = UNet(n_classes=2, width=4, depth=2)
    with pytest.raises(ValueError, match="at least 2 passes"):
        next(segment_batches(net, np.zeros((1, 8, 8, 8, 1), np.float32), mc_samples=1))
    with pytest.raises(ValueError, match="2 spatial dims but the network expects 1 and 3"):
        next(segment_batches(net, np.zeros((1, 8, 8, 1), np.float32), device="cpu"))
