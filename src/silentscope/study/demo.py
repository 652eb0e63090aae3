"""The study behind ``silentscope demo``: small enough for a 2-core laptop in a few minutes."""

from __future__ import annotations

from pathlib import Path

from silentscope.study.spec import StudySpec, parse_study

#: Corruptions of the demo: a few generic ones and the dermatoscopy artifacts, three severities.
DEMO_CORRUPTIONS = [
    "gaussian_noise",
    "motion_blur",
    "contrast_down",
    "jpeg_compression",
    "black_corner",
    "ink_marks",
]


def demo_study(
    medmnist: str | None = None, root: str | Path | None = None, n_seeds: int = 1
) -> StudySpec:
    """The demo study: two or more objectives on the synthetic planted-failure dataset.

    With ``medmnist`` (a flag such as ``dermamnist``), the same study runs on that MedMNIST
    dataset read from ``root``.
    """
    if medmnist:
        options = {"root": str(root)} if root else {}
        dataset = {
            "name": f"medmnist:{medmnist}",
            "label": medmnist,
            "options": options,
            "corruptions": "default",
            "severities": [1, 3, 5],
        }
        train = {"epochs": 4, "mc_samples": 10}
    else:
        dataset = {
            "name": "synthetic",
            "options": {"seed": 0, "n_samples": 3000, "size": 32},
            "corruptions": DEMO_CORRUPTIONS,
            "split_shifts": [{"kind": "acquisition", "attribute": "site", "values": "site_B"}],
            "severities": [1, 3, 5],
        }
        # Width 16 trains about 3x faster than the default 32 and still fails where the
        # synthetic data plants failures; the demo must finish in minutes on 2 cores.
        train = {"epochs": 6, "mc_samples": 10, "options": {"width": 16}}
    return parse_study(
        {
            "name": "demo",
            "datasets": [dataset],
            "objectives": ["ce", "dg"],
            "seeds": list(range(n_seeds)),
            "csfs": "all",
            "train": train,
            "evaluation": {"bootstrap": 200},
            "executor": {"kind": "local"},
        },
        source="the demo study",
    )


def run_demo(spec: StudySpec, out: str | Path, *, restart: bool = False, console=None):
    """Run a demo study into ``out`` and write its tables; an error when every run failed.

    Returns the :class:`~silentscope.study.runner.StudyOutcome` (some runs may have failed).
    """
    from silentscope.study.results import write_results
    from silentscope.study.runner import run_study

    outcome = run_study(spec, out, restart=restart, console=console)
    if not outcome.done:
        raise ValueError(f"every demo run failed; see {Path(out) / 'failed'}")
    write_results(out)
    return outcome


def demo_slice_store(spec: StudySpec, out: str | Path) -> tuple[str, Path] | None:
    """The run id and audit store of the first finished cross-entropy run (``None``: none)."""
    from silentscope.study.pipelines import STORE
    from silentscope.study.runs import run_folder

    run = next((r for r in spec.runs() if r.objective == "ce"), None)
    store = None if run is None else run_folder(Path(out), run.run_id) / STORE
    if store is None or not (store / "manifest.json").is_file():
        return None
    return run.run_id, store


def demo_slices(store: str | Path):
    """Find the slices of the store's iid test set as the demo does, and save them there.

    They are found with :func:`~silentscope.slices.discover_slices`' defaults, the same as
    ``silentscope slices STORE -t iid``, so that command reproduces them; the settings are
    saved with them in the store.

    Returns
    -------
    SliceReport
    """
    from silentscope.audit.store import load_audit
    from silentscope.slices import discover_slices

    report = discover_slices(load_audit(store), test_sets=["iid"])
    report.save(store)
    return report


def segmentation_demo_study(n_seeds: int = 1, size: int = 24, quick: bool = False) -> StudySpec:
    """The segmentation demo: baseline vs texture-filter training on the embedded MNI152 set.

    Volumes are ``size`` voxels a side, made from the one MNI152 template anatomy; the test
    sets are iid and the six unseen MRI corruptions at severities 1, 3 and 5. ``quick`` is
    the smallest study that still runs every step (for tests): tiny volumes, two epochs,
    two corruptions.
    """
    # 24 voxels a side, 12 training volumes and 12 epochs: both variants train and audit in
    # minutes on 2 cores (at 32 an epoch costs about 2.5 times as much for +0.02 val Dice)
    options = {"size": size, "n_train": 12, "n_val": 4, "n_test": 6, "seed": 0}
    train = {"epochs": 12, "mc_samples": 4, "options": {"width": 8}}
    corruptions: str | list[str] = "default"
    severities = [1, 3, 5]
    if quick:
        options.update(size=min(size, 16), n_train=4, n_val=2, n_test=4)
        train = {"epochs": 2, "mc_samples": 2, "options": {"width": 4}}
        corruptions, severities = ["rician_noise", "ghosting"], [1, 5]
    return parse_study(
        {
            "name": "segmentation-demo",
            "task": "segmentation",
            "datasets": [
                {
                    "name": "mni152:tissue",
                    "label": "mni152",
                    "options": options,
                    "corruptions": corruptions,
                    "severities": severities,
                }
            ],
            "objectives": ["baseline", "texture"],
            "seeds": list(range(n_seeds)),
            "csfs": "all",
            "train": train,
            "evaluation": {"bootstrap": 200},
            "executor": {"kind": "local"},
        },
        source="the segmentation demo study",
    )
