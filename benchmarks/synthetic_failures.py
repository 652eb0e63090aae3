"""Do the synthetic dataset's planted failures show up in a real classifier?

Trains a small CNN (CPU, a minute or two) on the synthetic training split and prints its
accuracy on every planted slice next to the in-distribution baseline of the same run:
``iid`` (site A test split, clean of the planted slices) is the baseline; the spurious-ruler
slice, the rare amelanotic subtype, the noisy-label subgroup and site B should all fall
below it.

    python benchmarks/synthetic_failures.py [--n-samples 5000] [--size 32] [--epochs 12]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from silentscope.data import make_synthetic


def small_cnn(n_classes: int) -> nn.Module:
    def block(c_in, c_out):
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)
        )

    return nn.Sequential(
        block(3, 16),
        block(16, 32),
        block(32, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, n_classes),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=5000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    data = make_synthetic(args.n_samples, args.size, seed=args.seed)
    generated = time.perf_counter() - start
    x = torch.from_numpy(data.load_images()).permute(0, 3, 1, 2).float().div(255.0)
    x = (x - x[data.split == "train"].mean((0, 2, 3), keepdim=True)) / 0.25
    y = torch.from_numpy(data.labels)
    train = torch.from_numpy(np.flatnonzero(data.split == "train"))
    model = small_cnn(data.n_classes)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, 3e-3, total_steps=args.epochs * (len(train) // 64 + 1)
    )
    start = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        for batch in train[torch.randperm(len(train))].split(64):
            images = x[batch]
            flip = torch.rand(len(batch)) < 0.5  # horizontal flips: rulers stay rulers
            images[flip] = images[flip].flip(3)
            loss = nn.functional.cross_entropy(model(images), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    trained = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(chunk).argmax(1) for chunk in x.split(512)]).numpy()
    meta = data.metadata
    test = data.split == "test"
    site_a = (meta["site"] == "site_A").to_numpy()
    planted = meta[["gt_slice_spurious", "gt_slice_rare", "gt_slice_noisy"]].any(axis=1).to_numpy()
    correct = predicted == data.labels
    rows = [
        ("iid baseline (site A test, no planted slice)", test & site_a & ~planted),
        (
            "spurious: benign lesion + ruler (site A test)",
            site_a & meta["gt_slice_spurious"].to_numpy(),
        ),
        (
            "rare: amelanotic melanoma (site A test)",
            test & site_a & meta["gt_slice_rare"].to_numpy(),
        ),
        ("noisy labels: age > 70, site A (test)", test & meta["gt_slice_noisy"].to_numpy()),
        ("acquisition: site B (test)", test & ~site_a),
    ]
    print(
        f"synthetic: {len(data)} images of {args.size} px generated in {generated:.1f} s; CNN trained in {trained:.0f} s"
    )
    print(f"{'test rows':48s} {'n':>5s} {'accuracy':>9s} {'vs baseline':>12s}")
    baseline = correct[rows[0][1]].mean()
    for name, mask in rows:
        accuracy = correct[mask].mean()
        print(f"{name:48s} {int(mask.sum()):5d} {accuracy:9.3f} {accuracy - baseline:+12.3f}")
    ruler = meta["gt_ruler"].to_numpy()
    melanoma_rate = [(predicted[test & site_a & (ruler == r)] == 1).mean() for r in (False, True)]
    print(
        f"share predicted melanoma on site A test without / with ruler: {melanoma_rate[0]:.3f} / {melanoma_rate[1]:.3f}"
    )


if __name__ == "__main__":
    main()
