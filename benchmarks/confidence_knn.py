"""Deep-kNN CSF speed: silentscope's blocked search against scikit-learn's NearestNeighbors.

Both are exact brute-force searches over L2-normalised features; the table shows wall time
and the largest difference of the k-th neighbour distances (they must agree).

Run:  python benchmarks/confidence_knn.py                      # 20k x 20k, 512-d
      python benchmarks/confidence_knn.py --train 100000 --queries 100000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors

from silentscope.audit import AuditSet
from silentscope.confidence import KNN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--skip-sklearn", action="store_true", help="Time silentscope only.")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    # ReLU-like, correlated features, as a penultimate layer produces
    mixing = rng.normal(size=(64, args.dims)).astype(np.float32)
    train = np.maximum(rng.normal(size=(args.train, 64)).astype(np.float32) @ mixing, 0)
    queries = np.maximum(rng.normal(size=(args.queries, 64)).astype(np.float32) @ mixing, 0)
    audit = AuditSet(
        sample_id=np.arange(args.queries).astype(str),
        test_set=np.full(args.queries, "iid"),
        label=np.zeros(args.queries, dtype=int),
        logits=np.zeros((args.queries, 2), dtype=np.float32),
        class_names=["a", "b"],
        features=queries,
        train_features=train,
        train_labels=np.zeros(args.train, dtype=int),
    )

    rows = []
    start = time.perf_counter()
    ours = KNN(k=args.k).fit(audit).score(audit)
    rows.append(("silentscope KNN (torch, blocked)", time.perf_counter() - start, 0.0))
    if not args.skip_sklearn:
        start = time.perf_counter()
        unit = lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # noqa: E731
        search = NearestNeighbors(n_neighbors=args.k, algorithm="brute").fit(unit(train))
        distances, _ = search.kneighbors(unit(queries))
        elapsed = time.perf_counter() - start
        rows.append(
            (
                "sklearn NearestNeighbors (brute)",
                elapsed,
                float(np.abs(-distances[:, -1] - ours).max()),
            )
        )

    print(f"{args.queries} queries x {args.train} training features x {args.dims} dims, k={args.k}")
    print(f"{'method':36s} {'seconds':>9s} {'max |diff|':>11s}")
    for name, seconds, diff in rows:
        print(f"{name:36s} {seconds:9.2f} {diff:11.2e}")


if __name__ == "__main__":
    main()
