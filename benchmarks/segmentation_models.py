"""Segmentation model benchmarks: U-Net training step vs a bare torch loop, MC dropout batched vs looped.

Run from the repository root::

    python benchmarks/segmentation_models.py                      # both parts, 48^3 volumes
    python benchmarks/segmentation_models.py --part mc --n 4 --mc 10
    python benchmarks/segmentation_models.py --part training --steps 12

1. **training**: seconds per optimisation step (forward, Dice + CE loss, backward, AdamW)
   of :class:`~silentscope.models.segmentation_training.SegmentationTrainer` against a bare
   torch loop written here with the same network, batch, loss and optimiser. Steps are
   timed from inside the trainer (an identity augmentation records the time at every
   batch), so the per-epoch work the bare loop does not do (batch-norm recomputation,
   validation, checkpoints) is left out and reported separately as "epoch overhead".
2. **mc**: volumes per second of MC-dropout inference with M passes
   (:func:`~silentscope.models.segmentation_inference.segment_batches`), batched (one pass
   up to the first dropout site, then M repeated activations) against looped (M full
   passes with the same masks), for both dropout placements; the last column is their
   largest difference in the MC-mean softmax.

Repeats are interleaved and the best is reported, since the machine is shared. Threads:
``--threads`` (default 2).
"""

from __future__ import annotations

import argparse
import time
import warnings
from types import SimpleNamespace

import numpy as np
import torch

from silentscope.models.segmentation_inference import segment_batches
from silentscope.models.segmentation_training import (
    SegmentationTrainer,
    dice_ce_loss,
    volume_tensor,
)
from silentscope.models.unet import UNet


def _data(n: int, size: int, seed: int = 0) -> SimpleNamespace:
    """Random volumes with a cube label (the timing does not depend on the content)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((n, size, size, size), np.int64)
    q = size // 4
    labels[:, q : 3 * q, q : 3 * q, q : 3 * q] = 1
    labels[:, q + 2 : 3 * q - 2, q + 2 : 3 * q - 2, q + 2 : 3 * q - 2] = 2
    images = (labels * 0.4 + rng.normal(0, 0.2, labels.shape)).astype(np.float32)[..., None]
    return SimpleNamespace(images=images, labels=labels, class_names=("bg", "a", "b"))


class _Clock:
    """An identity augmentation that records when each batch starts."""

    name = "clock"

    def __init__(self):
        self.times: list[float] = []

    def __call__(self, x, generator):
        self.times.append(time.perf_counter())
        return x


def _step_times(times: list[float], steps_per_epoch: int) -> list[float]:
    # differences within an epoch only: the gap across an epoch boundary holds the overhead
    return [
        b - a
        for i, (a, b) in enumerate(zip(times, times[1:], strict=False))
        if (i + 1) % steps_per_epoch
    ]


def trainer_steps(data, epochs: int, batch_size: int, threads: int) -> tuple[float, float]:
    clock = _Clock()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = SegmentationTrainer(
            width=8, depth=3, epochs=epochs, batch_size=batch_size, lr=3e-3, augment=[clock],
            progress=False, n_threads=threads, device="cpu",
        ).fit(data)  # fmt: skip
    steps = len(data.images) // batch_size
    step_times = _step_times(clock.times, steps)
    epoch_seconds = float(trainer.history_["seconds"].sum()) / epochs
    return float(np.median(step_times)), max(epoch_seconds - np.median(step_times) * steps, 0.0)


def bare_steps(data, epochs: int, batch_size: int, threads: int) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = volume_tensor(data.images)
    y = torch.from_numpy(data.labels)
    net = UNet(n_classes=3, width=8, depth=3, dropout=0.2)
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    net.train()
    generator = torch.Generator().manual_seed(0)
    times = []
    steps = len(x) // batch_size
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for i in range(steps):
            times.append(time.perf_counter())
            rows = order[i * batch_size : (i + 1) * batch_size]
            loss = dice_ce_loss(net(x[rows]), y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter())
    return float(np.median(_step_times(times, steps + 1)))


def training(size: int, steps: int, batch_size: int, threads: int, repeats: int) -> None:
    data = _data(steps * batch_size, size)
    print(f"U-Net training step, {size}^3, batch {batch_size}, width 8, depth 3, {threads} threads")
    best_trainer, best_bare, best_overhead = np.inf, np.inf, np.inf
    for _ in range(repeats):  # interleaved
        t, overhead = trainer_steps(data, 2, batch_size, threads)
        best_trainer, best_overhead = min(best_trainer, t), min(best_overhead, overhead)
        best_bare = min(best_bare, bare_steps(data, 2, batch_size, threads))
    print(f"{'loop':28s} {'s/step':>8s}")
    print(f"{'bare torch loop':28s} {best_bare:8.3f}")
    print(f"{'SegmentationTrainer':28s} {best_trainer:8.3f}   ratio {best_trainer / best_bare:.3f}")
    print(f"epoch overhead (BN recompute, validation): {best_overhead:.2f} s per epoch")


def mc(size: int, n: int, m: int, threads: int, repeats: int) -> None:
    data = _data(n, size)
    print(f"MC dropout, {n} volumes of {size}^3, M = {m}, width 8, depth 3, {threads} threads")
    print(
        f"{'dropout sites':14s} {'batched vol/s':>14s} {'looped vol/s':>13s} {'speed-up':>9s} {'max |diff|':>11s}"
    )
    for sites in ("head", "decoder"):
        torch.manual_seed(0)
        net = UNet(n_classes=3, width=8, depth=3, dropout=0.2, dropout_sites=sites).eval()
        times = {"batched": np.inf, "looped": np.inf}
        outputs = {}
        for _ in range(repeats):
            for mode in times:
                start = time.perf_counter()
                out = [b.mc_mean for b in segment_batches(
                    net, data.images, mc_samples=m, mc_mode=mode, device="cpu", n_threads=threads)]  # fmt: skip
                times[mode] = min(times[mode], time.perf_counter() - start)
                outputs[mode] = np.concatenate(out)
        diff = np.abs(outputs["batched"] - outputs["looped"]).max()
        print(
            f"{sites:14s} {n / times['batched']:14.2f} {n / times['looped']:13.2f} "
            f"{times['looped'] / times['batched']:8.1f}x {diff:11.2e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["training", "mc"], action="append")
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--n", type=int, default=4, help="volumes for the MC part")
    parser.add_argument("--mc", type=int, default=10, help="MC passes")
    parser.add_argument("--steps", type=int, default=8, help="steps per epoch for training")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    parts = args.part or ["training", "mc"]
    if "training" in parts:
        training(args.size, args.steps, args.batch_size, args.threads, args.repeats)
    if "mc" in parts:
        mc(args.size, args.n, args.mc, args.threads, args.repeats)


if __name__ == "__main__":
    main()
