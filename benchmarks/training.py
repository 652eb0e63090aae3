"""Training and inference speed of silentscope.models against bare PyTorch baselines.

Run from the repository root::

    python benchmarks/training.py                 # all three parts
    python benchmarks/training.py --part loop     # training loop vs a bare PyTorch loop
    python benchmarks/training.py --part mc       # MC dropout: batched vs M separate passes
    python benchmarks/training.py --part wall     # train + audit PneumoniaMNIST, DermaMNIST

1. **loop**: training images/s of ``Trainer.fit`` against a bare PyTorch loop on the same
   SilentNet, data (PneumoniaMNIST, pre-converted float tensor), batch size, optimiser
   and epochs, without augmentation. The bare loop is timed twice: training only, and
   with the same per-epoch validation pass that ``fit`` runs for model selection.
   Target: within 10% of the bare loop with validation.
2. **mc**: MC-dropout inference with M = 20 on the PneumoniaMNIST test split: silentscope's
   batched pass (encoder once, features repeated M times before dropout and head), the
   pass for arbitrary modules (batch repeated M times at the first dropout layer, chosen
   automatically after an exactness check) and the plain input-repeat pass, against M
   separate full forward passes with dropout on. Target: at least 3x faster.
3. **wall**: wall time to train (library default epochs) and audit (val + iid, MC 20,
   train features) each objective on PneumoniaMNIST and DermaMNIST at 28 px.

Repeats are interleaved and the best of them is reported, since the machine is shared.
Data: ``$SILENTSCOPE_DATA/medmnist`` or ``../shared/data/medmnist``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from silentscope.data import load_medmnist
from silentscope.models import SilentNet, Trainer
from silentscope.models.inference import ModulePredictor, NetPredictor
from silentscope.models.runtime import torch_threads
from silentscope.models.tensors import to_float_tensor

OBJECTIVES = ("ce", "dg", "confidnet", "devries")


def data_root() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    root = Path(os.environ.get("SILENTSCOPE_DATA", default)) / "medmnist"
    if not (root / "pneumoniamnist.npz").is_file():
        sys.exit(
            f"MedMNIST files not found in {root}; set SILENTSCOPE_DATA to the shared data folder"
        )
    return root


def timed(run) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of ``run()``.

    On a shared machine the wall time includes waiting for cores taken by other work; the
    CPU time of a single-threaded run measures the work itself.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def bare_loop(dataset, epochs: int, batch_size: int, seed: int, validate: bool) -> None:
    """The baseline: the same network and optimiser in the shortest loop PyTorch allows."""
    torch.manual_seed(seed)
    train, val = dataset.split_of("train"), dataset.split_of("val")
    x = to_float_tensor(train.load_images())
    y = torch.as_tensor(train.labels)
    xv, yv = to_float_tensor(val.load_images()), torch.as_tensor(val.labels)
    net = SilentNet(dataset.n_classes, x.shape[1], width=32)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), batch_size):
            rows = order[i : i + batch_size]
            loss = torch.nn.functional.cross_entropy(net(x[rows]), y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        if validate:
            net.eval()
            with torch.no_grad():
                float((net(xv).argmax(1) == yv).float().mean())


def silentscope_loop(dataset, epochs: int, batch_size: int, seed: int, threads) -> None:
    Trainer(
        objective="ce",
        width=32,
        epochs=epochs,
        batch_size=batch_size,
        patience=0,
        augment="none",
        progress=False,
        random_state=seed,
        n_threads=threads,
    ).fit(dataset)


def part_loop(root: Path, epochs: int, repeats: int, threads) -> None:
    dataset = load_medmnist("pneumoniamnist", root)
    n_train = int((dataset.split == "train").sum())
    runs = {
        "bare": lambda r: bare_loop(dataset, epochs, 128, r, validate=False),
        "bare + val": lambda r: bare_loop(dataset, epochs, 128, r, validate=True),
        "silentscope": lambda r: silentscope_loop(dataset, epochs, 128, r, threads),
    }
    times = {name: [] for name in runs}
    for r in range(repeats):
        for name, run in runs.items():
            times[name].append(timed(lambda run=run, r=r: run(r)))
    images = n_train * epochs
    best = {name: (min(w for w, _ in v), min(c for _, c in v)) for name, v in times.items()}
    print(
        f"\n## Training loop: PneumoniaMNIST train ({n_train} images, 28 px), SmallCNN width 32, "
        f"batch 128, {epochs} epochs, {torch.get_num_threads()} threads, best of {repeats}"
    )
    print("| loop | wall s | images/s (wall) | CPU s | images/s (CPU) | vs bare + val (CPU) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (wall, cpu) in best.items():
        print(
            f"| {name} | {wall:.1f} | {images / wall:.0f} | {cpu:.1f} | {images / cpu:.0f} | "
            f"{best['bare + val'][1] / cpu:.1%} |"
        )


def part_mc(root: Path, m: int, repeats: int) -> None:
    dataset = load_medmnist("pneumoniamnist", root)
    test = dataset.split_of("test")
    x_all = to_float_tensor(test.load_images())
    torch.manual_seed(0)
    net = SilentNet(2, 1, width=32, dropout=0.3).eval()
    native = NetPredictor(net, torch.device("cpu"))
    generic = ModulePredictor(net, torch.device("cpu"), capture_features=False, batch_size=256)
    forced = ModulePredictor(net, torch.device("cpu"), capture_features=False, batch_size=256)
    forced.mc_sampler.mode = "input"  # skip the automatic choice: repeat at the input

    def batched(predictor):
        for i in range(0, len(x_all), 256):
            predictor.predict(x_all[i : i + 256], m)

    @torch.no_grad()
    def separate():
        net.dropout.train()
        for i in range(0, len(x_all), 256):
            x = x_all[i : i + 256]
            torch.stack([net(x) for _ in range(m)], dim=2)
        net.eval()

    runs = {
        "M separate passes (baseline)": separate,
        "silentscope batched (features x M)": lambda: batched(native),
        "any nn.Module: repeat at first dropout (auto)": lambda: batched(generic),
        "any nn.Module: repeat input batch x M": lambda: batched(forced),
    }
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(timed(run))
    generic.close()
    forced.close()
    assert generic.mc_sampler.mode == "first_dropout"
    best = {name: (min(w for w, _ in v), min(c for _, c in v)) for name, v in times.items()}
    base = best["M separate passes (baseline)"]
    print(
        f"\n## MC dropout, M = {m}: PneumoniaMNIST test ({len(x_all)} images), SmallCNN width 32, "
        f"{torch.get_num_threads()} threads, best of {repeats}"
    )
    print("| method | wall s | CPU s | speed-up (wall) | speed-up (CPU) |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall, cpu) in best.items():
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {base[0] / wall:.1f}x | {base[1] / cpu:.1f}x |")


def part_wall(root: Path, epochs: int | None, objectives, flags, threads) -> None:
    print(
        f"\n## Train + audit wall time (28 px, SmallCNN width 32, default augmentation, "
        f"{torch.get_num_threads()} threads; audit = val + iid with MC 20 and train features)"
    )
    print(
        "| dataset | objective | epochs | train s | audit s | total s | total CPU s | iid accuracy |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for flag in flags:
        dataset = load_medmnist(flag, root)
        for objective in objectives:
            start, cpu = time.perf_counter(), time.process_time()
            trainer = Trainer(objective=objective, epochs=epochs, progress=False, n_threads=threads)
            trainer.fit(dataset)
            trained = time.perf_counter()
            audit = trainer.audit(dataset, mc_samples=20, n_threads=threads)
            done, cpu = time.perf_counter(), time.process_time() - cpu
            accuracy = float(audit.correct[audit.test_set == "iid"].mean())
            print(
                f"| {flag} | {objective} | {trainer.hyperparameters_['epochs']} | "
                f"{trained - start:.0f} | {done - trained:.1f} | {done - start:.0f} | {cpu:.0f} | "
                f"{accuracy:.3f} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("loop", "mc", "wall", "all"), default="all")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the loop comparison")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mc-samples", type=int, default=20)
    parser.add_argument("--wall-epochs", type=int, default=None, help="default: by dataset size")
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), choices=OBJECTIVES)
    parser.add_argument("--datasets", nargs="+", default=["pneumoniamnist", "dermamnist"])
    parser.add_argument("--threads", type=int, default=None, help="default: available cores")
    args = parser.parse_args()
    root = data_root()
    with torch_threads(args.threads):
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, numpy {np.__version__}"
        )
        if args.part in ("loop", "all"):
            part_loop(root, args.epochs, args.repeats, args.threads)
        if args.part in ("mc", "all"):
            part_mc(root, args.mc_samples, args.repeats)
        if args.part in ("wall", "all"):
            part_wall(root, args.wall_epochs, args.objectives, args.datasets, args.threads)
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"\nload average at end {load}")


if __name__ == "__main__":
    main()
