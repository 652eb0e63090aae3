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

Repeats are interleaved and the best is reported, since the machine is shared; CPU seconds
(process time) are reported beside wall time, as a busy machine distorts wall time only. Threads:
``--threads`` (default 1; 2 for a 2-core wall-clock figure).
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
        self.cpu: list[float] = []

    def __call__(self, x, generator):
        self.times.append(time.perf_counter())
        self.cpu.append(time.process_time())
        return x


def _step_times(times: list[float], steps_per_epoch: int) -> list[float]:
    # differences within an epoch only: the gap across an epoch boundary holds the overhead
    return [
        b - a
        for i, (a, b) in enumerate(zip(times, times[1:], strict=False))
        if (i + 1) % steps_per_epoch
    ]


def trainer_steps(data, epochs: int, batch_size: int, threads: int) -> tuple[float, float, float]:
    clock = _Clock()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = SegmentationTrainer(
            width=8, depth=3, epochs=epochs, batch_size=batch_size, lr=3e-3, augment=[clock],
            progress=False, n_threads=threads, device="cpu",
        ).fit(data)  # fmt: skip
    steps = len(data.images) // batch_size
    step_times = _step_times(clock.times, steps)
    cpu = float(np.median(_step_times(clock.cpu, steps)))
    epoch_seconds = float(trainer.history_["seconds"].sum()) / epochs
    overhead = max(epoch_seconds - np.median(step_times) * steps, 0.0)
    return float(np.median(step_times)), cpu, overhead


def bare_steps(data, epochs: int, batch_size: int, threads: int) -> tuple[float, float]:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = volume_tensor(data.images)
    y = torch.from_numpy(data.labels)
    net = UNet(n_classes=3, width=8, depth=3, dropout=0.2)
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    net.train()
    generator = torch.Generator().manual_seed(0)
    times, cpu = [], []
    steps = len(x) // batch_size
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for i in range(steps):
            times.append(time.perf_counter())
            cpu.append(time.process_time())
            rows = order[i * batch_size : (i + 1) * batch_size]
            loss = dice_ce_loss(net(x[rows]), y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter())
        cpu.append(time.process_time())
    return (
        float(np.median(_step_times(times, steps + 1))),
        float(np.median(_step_times(cpu, steps + 1))),
    )


def training(size: int, steps: int, batch_size: int, threads: int, repeats: int) -> None:
    data = _data(steps * batch_size, size)
    print(f"U-Net training step, {size}^3, batch {batch_size}, width 8, depth 3, {threads} threads")
    trainer, bare = np.full(2, np.inf), np.full(2, np.inf)  # wall, CPU seconds per step
    best_overhead = np.inf
    for _ in range(repeats):  # interleaved
        wall, cpu, overhead = trainer_steps(data, 2, batch_size, threads)
        trainer = np.minimum(trainer, [wall, cpu])
        best_overhead = min(best_overhead, overhead)
        bare = np.minimum(bare, bare_steps(data, 2, batch_size, threads))
    # CPU seconds are what a busy shared machine does not distort (with --threads 1)
    print(f"{'loop':22s} {'wall s/step':>12s} {'CPU s/step':>11s}")
    print(f"{'bare torch loop':22s} {bare[0]:12.3f} {bare[1]:11.3f}")
    print(f"{'SegmentationTrainer':22s} {trainer[0]:12.3f} {trainer[1]:11.3f}")
    print(f"{'ratio':22s} {trainer[0] / bare[0]:12.3f} {trainer[1] / bare[1]:11.3f}")
    print(f"epoch overhead outside the steps (BN recompute): {best_overhead:.2f} s wall per epoch")


def mc(size: int, n: int, m: int, threads: int, repeats: int) -> None:
    data = _data(n, size)
    print(f"MC dropout, {n} volumes of {size}^3, M = {m}, width 8, depth 3, {threads} threads")
    print(
        f"{'dropout sites':14s} {'batched vol/s':>14s} {'looped vol/s':>13s} {'speed-up':>9s} "
        f"{'CPU speed-up':>13s} {'max |diff|':>11s}"
    )
    for sites in ("head", "decoder"):
        torch.manual_seed(0)
        net = UNet(n_classes=3, width=8, depth=3, dropout=0.2, dropout_sites=sites).eval()
        wall = {"batched": np.inf, "looped": np.inf}
        cpu = dict(wall)
        outputs = {}
        for _ in range(repeats):
            for mode in wall:
                start, start_cpu = time.perf_counter(), time.process_time()
                batches = segment_batches(
                    net, data.images, mc_samples=m, mc_mode=mode, device="cpu", n_threads=threads
                )
                outputs[mode] = np.concatenate([b.mc_mean for b in batches])
                wall[mode] = min(wall[mode], time.perf_counter() - start)
                cpu[mode] = min(cpu[mode], time.process_time() - start_cpu)
        diff = np.abs(outputs["batched"] - outputs["looped"]).max()
        print(
            f"{sites:14s} {n / wall['batched']:14.2f} {n / wall['looped']:13.2f} "
            f"{wall['looped'] / wall['batched']:8.1f}x {cpu['looped'] / cpu['batched']:12.1f}x "
            f"{diff:11.2e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["training", "mc"], action="append")
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--n", type=int, default=4, help="volumes for the MC part")
    parser.add_argument("--mc", type=int, default=10, help="MC passes")
    parser.add_argument("--steps", type=int, default=8, help="steps per epoch for training")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    parts = args.part or ["training", "mc"]
    if "training" in parts:
        training(args.size, args.steps, args.batch_size, args.threads, args.repeats)
    if "mc" in parts:
        mc(args.size, args.n, args.mc, args.threads, args.repeats)


if __name__ == "__main__":
    main()
