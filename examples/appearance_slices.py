"""Slices of a MedMNIST audit made before audits measured image appearance.

Audits made by silentscope since session 7 carry the appearance measures (brightness,
sharpness, noise, ...) themselves; an older audit store of a MedMNIST study gets them here
from the dataset's test images, then slice discovery runs on its iid test set:

    python examples/appearance_slices.py STUDY/runs/dermamnist__ce__seed0/audit \\
        --dataset medmnist:dermamnist --root ../shared/data/medmnist
"""

from __future__ import annotations

import argparse

import numpy as np

from silentscope.audit.store import load_audit
from silentscope.data import load_dataset
from silentscope.data.appearance import with_appearance
from silentscope.slices import discover_slices


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--dataset", default="medmnist:dermamnist")
    parser.add_argument("--root", default="../shared/data/medmnist")
    args = parser.parse_args(argv)
    audit = load_audit(args.store).select("iid")
    dataset = load_dataset(args.dataset, root=args.root)
    test = np.flatnonzero(dataset.split == "test")
    row_of = {sid: i for i, sid in enumerate(np.asarray(dataset.sample_ids).astype(str)[test])}
    missing = [s for s in np.asarray(audit.sample_id).astype(str) if s not in row_of]
    if missing:
        raise SystemExit(
            f"{len(missing)} audited samples (e.g. {missing[0]!r}) are not in the test split of "
            f"{args.dataset}; pass the dataset the audit was made on"
        )
    order = [row_of[s] for s in np.asarray(audit.sample_id).astype(str)]
    audit = with_appearance(audit, dataset.load_images(test[order]))
    report = discover_slices(audit)
    print(f"{audit.n_samples} iid test samples, error rate {(~audit.correct).mean():.3f}")  # noqa: T201
    print(report)  # noqa: T201


if __name__ == "__main__":
    main()
