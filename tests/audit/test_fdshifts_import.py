"""FD-Shifts runs in both config layouts: every sample arrives under the right test-set name.

The folders are written here from FD-Shifts' documented output (issue 16): ``raw_logits.npz``
key ``arr_0`` = logits | label | dataset_idx in float16, dataset_idx numbered val, iid, noise
study, in-class studies, new-class studies; new-class sets keep their own label space; the
noise study's rows are 15 corruptions x 5 severities x images.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from silentscope.audit import UNKNOWN_LABEL, AuditSet, AuditSetError
from silentscope.audit.importers import from_fdshifts
from silentscope.audit.store import load_audit
from silentscope.cli import app

C = 10


def head_config(noise: dict | None, in_class: list, new_class: list, val_tuning=True) -> dict:
    """The HEAD layout: top-level ``experiment`` and ``config``, studies as dicts."""
    study = lambda name: {"dataset": name, "num_workers": 12, "img_size": [32, 32, 3]}  # noqa: E731
    return {
        "experiment": "group/run",
        "config": {
            "data": {"dataset": "cifar10", "num_classes": C},
            "eval": {
                "val_tuning": val_tuning,
                "query_studies": {
                    "iid_study": "cifar10",
                    "noise_study": noise if noise is not None else {"pin_memory": True},
                    "in_class_study": [study(n) for n in in_class],
                    "new_class_study": [study(n) for n in new_class],
                },
            },
        },
    }


def v011_config(in_class: list) -> dict:
    """The v0.1.1 layout: top-level ``eval``, names as strings, ``${data.dataset}`` reference."""
    return {
        "data": {"dataset": "dermoscopyall", "num_classes": C},
        "eval": {
            "val_tuning": True,
            "query_studies": {
                "iid_study": "${data.dataset}",
                "noise_study": [],
                "in_class_study": list(in_class),
                "new_class_study": [],
            },
        },
    }


def write_run(
    root: Path,
    config: dict | None,
    blocks: list[tuple[int, int, int]],
    *,
    dtype=np.float16,
    m=0,
    d=0,
    seed=0,
    n_classes=C,
):
    """Write ``test_results`` for datasets given as (dataset_idx, count, label space).

    Returns logits, labels and dataset_idx as FD-Shifts stored them (after the dtype cast).
    """
    rng = np.random.default_rng(seed)
    idx = np.concatenate([np.full(count, i) for i, count, _ in blocks])
    labels = np.concatenate([rng.integers(0, space, count) for _, count, space in blocks])
    logits = rng.normal(size=(len(idx), n_classes)) * 3
    # make a good share of the in-distribution predictions right
    known = labels < n_classes
    rows = np.flatnonzero(known & (rng.random(len(idx)) < 0.7))
    logits[rows, labels[rows]] += 6
    raw = np.column_stack([logits, labels, idx]).astype(dtype)
    results = root / "test_results"
    results.mkdir(parents=True)
    np.savez_compressed(results / "raw_logits.npz", raw)
    n = len(idx)
    if m:
        mc = (logits[:, :, None] + rng.normal(size=(n, n_classes, m)) * 2).astype(dtype)
        np.savez_compressed(results / "raw_logits_dist.npz", mc)
        np.savez_compressed(results / "external_confids_dist.npz", rng.random((n, m)).astype(dtype))
        np.savez_compressed(results / "external_confids.npz", rng.random(n).astype(dtype))
    if d:
        features = rng.normal(size=(n, d))
        np.savez_compressed(
            results / "encoded_output.npz", np.column_stack([features, idx]).astype(dtype)
        )
        train = np.column_stack([rng.normal(size=(30, d)), rng.integers(0, n_classes, 30)])
        np.savez_compressed(results / "train_features.npz", train.astype(dtype))
    if config is not None:
        (root / "hydra").mkdir()
        (root / "hydra" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return raw[:, :-2].astype(np.float64), raw[:, -2].astype(np.int64), raw[:, -1].astype(np.int64)


def expected_noise_names(noise: str, count: int) -> list[str]:
    # FD-Shifts: rows reshaped (15, 5, -1) -> [:, k] is severity k + 1
    per = count // 75
    return [f"cor/{noise}/{(i // per) % 5 + 1}" for i in range(count)]


def test_head_layout_every_sample_under_its_name(tmp_path):
    config = head_config(
        {"dataset": "corrupt_cifar10", "num_workers": 12},
        in_class=["cifar10_1"],
        new_class=["cifar100", "svhn", "tinyimagenet_resize"],
    )
    blocks = [
        (0, 20, C),
        (1, 40, C),
        (2, 150, C),
        (3, 12, C),
        (4, 15, 100),
        (5, 9, 10),
        (6, 11, 200),
    ]
    logits, labels, idx = write_run(tmp_path / "run", config, blocks, m=3, d=4)
    audit = from_fdshifts(tmp_path / "run")
    names = {0: ["val"] * 20, 1: ["iid"] * 40, 2: expected_noise_names("corrupt_cifar10", 150),
             3: ["shift/cifar10_1"] * 12, 4: ["ood/cifar100"] * 15, 5: ["ood/svhn"] * 9,
             6: ["ood/tinyimagenet_resize"] * 11}  # fmt: skip
    expected = np.concatenate([names[i] for i in range(7)])
    np.testing.assert_array_equal(audit.test_set, expected)
    assert (audit.test_set == "cor/corrupt_cifar10/3").sum() == 30
    np.testing.assert_array_equal(audit.logits, logits)  # float16 values, exactly
    assert audit.provenance["stored_dtype"] == "float16"
    # ood samples: label unknown to the classifier, their own label kept (0-199 for tinyimagenet)
    ood = np.char.startswith(expected.astype(str), "ood/")
    np.testing.assert_array_equal(audit.label[ood], UNKNOWN_LABEL)
    np.testing.assert_array_equal(audit.label[~ood], labels[~ood])
    np.testing.assert_array_equal(audit.metadata["fdshifts_label"], labels)
    assert audit.metadata["fdshifts_label"][idx == 6].max() > C  # a label beyond the classes
    assert not audit.correct[ood].any()
    # every other array FD-Shifts writes
    assert audit.mc_logits.shape == (len(idx), C, 3) and audit.features.shape == (len(idx), 4)
    assert audit.train_features.shape == (30, 4) and audit.train_labels.shape == (30,)
    dist = np.load(tmp_path / "run/test_results/external_confids_dist.npz")["arr_0"]
    np.testing.assert_array_equal(audit.mc_confidences["external"], dist.astype(float))
    assert set(audit.confidences) == {"external"}


def test_head_noise_study_without_dataset_is_skipped(tmp_path):
    # camelyon: the noise study is a dict with no dataset; FD-Shifts skips it in dataset_idx
    config = head_config(None, in_class=["wilds_camelyon_ood_test"], new_class=[])
    write_run(tmp_path / "run", config, [(0, 10, C), (1, 20, C), (2, 30, C)])
    audit = from_fdshifts(tmp_path / "run")
    assert audit.test_sets == ("val", "iid", "shift/wilds_camelyon_ood_test")
    assert (audit.test_set == "shift/wilds_camelyon_ood_test").sum() == 30


def test_v011_layout_and_float64(tmp_path):
    sets = ["dermoscopyallcorrbrhigh", "dermoscopyallcorrgaunoilow"]
    logits, labels, _ = write_run(
        tmp_path / "run",
        v011_config(sets),
        [(0, 5, C), (1, 6, C), (2, 7, C), (3, 8, C)],
        dtype=np.float64,
    )
    audit = from_fdshifts(tmp_path / "run" / "test_results")
    expected = ["val"] * 5 + ["iid"] * 6 + [f"shift/{sets[0]}"] * 7 + [f"shift/{sets[1]}"] * 8
    np.testing.assert_array_equal(audit.test_set, expected)
    np.testing.assert_array_equal(audit.label, labels)
    assert audit.provenance["stored_dtype"] == "float64"


def test_without_val_tuning_iid_is_index_0(tmp_path):
    config = head_config(
        {"dataset": "corrupt_cifar10"}, in_class=[], new_class=["svhn"], val_tuning=False
    )
    write_run(tmp_path / "run", config, [(0, 10, C), (1, 75, C), (2, 4, 10)])
    audit = from_fdshifts(tmp_path / "run")
    assert (
        list(audit.test_set[:10]) == ["iid"] * 10 and list(audit.test_set[-4:]) == ["ood/svhn"] * 4
    )


def test_noise_study_not_in_fdshifts_blocks_is_refused(tmp_path):
    config = head_config({"dataset": "corrupt_cifar10"}, in_class=[], new_class=[])
    write_run(tmp_path / "run", config, [(0, 10, C), (1, 10, C), (2, 76, C)])
    with pytest.raises(AuditSetError, match="multiple of 75"):
        from_fdshifts(tmp_path / "run")


def test_unknown_label_only_on_ood_test_sets():
    base = dict(sample_id=["a", "b"], logits=np.eye(2) * 3, class_names=["no", "yes"])
    audit = AuditSet(test_set=["iid", "ood/svhn"], label=[0, UNKNOWN_LABEL], **base)
    assert audit.correct.tolist() == [True, False]
    with pytest.raises(AuditSetError, match=r"label -1 .* not in an ood/ test set"):
        AuditSet(test_set=["iid", "shift/x"], label=[0, UNKNOWN_LABEL], **base)
    with pytest.raises(AuditSetError, match="label out of range"):
        AuditSet(test_set=["iid", "ood/svhn"], label=[0, -2], **base)


def test_cli_imports_current_layout_without_names(tmp_path):
    config = head_config({"dataset": "corrupt_cifar10"}, in_class=[], new_class=["cifar100"])
    write_run(tmp_path / "run", config, [(0, 10, C), (1, 10, C), (2, 75, C), (3, 10, 100)])
    result = CliRunner().invoke(
        app, ["import", "fdshifts", str(tmp_path / "run"), "--out", str(tmp_path / "store")]
    )
    assert result.exit_code == 0, result.output
    stored = load_audit(tmp_path / "store")
    assert "ood/cifar100" in stored.test_sets and (stored.label == UNKNOWN_LABEL).sum() == 10


@pytest.mark.parametrize(
    ("config_file", "blocks", "expected", "n_classes"),
    [
        (
            "cifar10_paper_sweep.config.yaml",
            [(0, 5, C), (1, 6, C), (2, 75, C), (3, 4, 100), (4, 3, 10), (5, 2, 200)],
            ["val", "iid", *[f"cor/corrupt_cifar10/{k}" for k in range(1, 6)],
             "ood/cifar100", "ood/svhn", "ood/tinyimagenet_resize"],
            10,
        ),
        (
            "camelyon_paper_sweep.config.yaml",
            [(0, 5, 2), (1, 6, 2), (2, 7, 2)],
            ["val", "iid", "shift/wilds_camelyon_ood_test"],
            2,
        ),
        (
            "medshifts.config.yaml",
            [(i, 3, 2) for i in range(8)],
            ["val", "iid", "shift/dermoscopyallcorrbrhigh", "shift/dermoscopyallcorrbrhighhigh",
             "shift/dermoscopyallcorrbrlow", "shift/dermoscopyallcorrbrlowlow",
             "shift/dermoscopyallcorrgaunoilow", "shift/dermoscopyallcorrgaunoilowlow"],
            2,
        ),
    ],
)  # fmt: skip
def test_real_fdshifts_configs(tmp_path, shared_data, config_file, blocks, expected, n_classes):
    """End to end with FD-Shifts' real configs: every array written, ``import fdshifts`` and
    ``evaluate`` through the CLI, every sample under the right name and evaluated in its set."""
    from silentscope.evaluation import read_evaluation

    source = shared_data / "fdshifts_layout" / config_file
    if not source.is_file():
        pytest.skip(f"{source} not found")
    root = tmp_path / "run"
    logits, labels, idx = write_run(root, None, blocks, m=3, d=4, n_classes=n_classes)
    (root / "hydra").mkdir()
    shutil.copy(source, root / "hydra" / "config.yaml")
    runner = CliRunner()
    store = tmp_path / "store"
    result = runner.invoke(app, ["import", "fdshifts", str(root), "--out", str(store)])
    assert result.exit_code == 0, result.output
    audit = load_audit(store)
    per_sample, position = [], 0
    for _, count, _ in blocks:  # the names in dataset_idx order, a noise study as 5 severities
        if expected[position].startswith("cor/"):
            per_sample += expected_noise_names(expected[position].split("/")[1], count)
            position += 5
        else:
            per_sample += [expected[position]] * count
            position += 1
    np.testing.assert_array_equal(audit.test_set, per_sample)
    np.testing.assert_array_equal(audit.logits, logits)
    ood = np.char.startswith(np.asarray(per_sample), "ood/")
    np.testing.assert_array_equal(audit.label[~ood], labels[~ood])
    assert (audit.label[ood] == UNKNOWN_LABEL).all()
    assert audit.mc_logits.shape == (len(idx), n_classes, 3) and audit.features.shape[1] == 4
    assert set(audit.mc_confidences) == {"external"}

    out = tmp_path / "evaluation"
    args = ["evaluate", str(store), "--csf", "MSR", "--csf", "MCD-MSR", "--metric", "aurc"]
    args += ["--bootstrap", "20", "--mc-correctness", "mc_mean", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    table = read_evaluation(out / "evaluation.json").table
    rows = table[(table.csf == "MSR") & ~table.pooled].set_index("test_set")
    iid = np.asarray(per_sample) == "iid"
    for name in set(per_sample) - {"val"}:
        members = np.asarray(per_sample) == name
        want = members.sum()
        if name.startswith("ood/"):  # FD-Shifts' new-class study: correct iid + every ood sample
            want += (audit.correct & iid).sum()
        assert rows.loc[name, "n"] == want, name
    assert "val" not in rows.index
    mcd = table[(table.csf == "MCD-MSR") & (table.test_set == "iid")].iloc[0]
    assert "MC-averaged" in mcd["note"]


def test_logits_of_another_class_count_than_the_config_are_refused(tmp_path, shared_data):
    """Arrays of a 10-class run beside camelyon's 2-class config: the names would be wrong."""
    source = shared_data / "fdshifts_layout" / "camelyon_paper_sweep.config.yaml"
    if not source.is_file():
        pytest.skip(f"{source} not found")
    root = tmp_path / "run"
    write_run(root, None, [(0, 5, 2), (1, 6, 2), (2, 7, 2)], n_classes=10)
    (root / "hydra").mkdir()
    shutil.copy(source, root / "hydra" / "config.yaml")
    with pytest.raises(AuditSetError, match=r"has 10 logit columns but .* data.num_classes: 2"):
        from_fdshifts(root)


def test_slice_discovery_leaves_new_class_sets_out():
    import pandas as pd

    from silentscope.slices import discover_slices

    rng = np.random.default_rng(1)
    n, c = 400, 3
    test_set = np.array(["iid"] * 300 + ["ood/svhn"] * 100)
    label = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c))
    logits[np.arange(300), label[:300]] += 1.5
    label[300:] = UNKNOWN_LABEL
    metadata = pd.DataFrame({"age": rng.integers(20, 90, n), "site": rng.choice(["a", "b"], n)})
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=test_set, label=label, logits=logits,
        class_names=["a", "b", "c"], metadata=metadata,
    )  # fmt: skip
    result = discover_slices(audit, ["metadata"], n_seeds=1, n_resamples=0)
    assert result.settings["test_sets"] == ["iid"]
    with pytest.raises(ValueError, match="ood/svhn hold new-class samples"):
        discover_slices(audit, ["metadata"], test_sets=["iid", "ood/svhn"])


def test_imported_mc_external_confidence_judged_like_fdshifts_mcd_ext(tmp_path):
    from silentscope.evaluation import evaluate

    config = head_config(None, in_class=[], new_class=["svhn"])
    write_run(tmp_path / "run", config, [(0, 40, C), (1, 200, C), (2, 60, 10)], m=5)
    audit = from_fdshifts(tmp_path / "run")
    result = evaluate(
        audit, csfs=["mcd-ext:external"], metrics=["auroc_f"], n_bootstrap=0,
        mc_correctness="mc_mean",
    )  # fmt: skip
    # FD-Shifts: mcd_ext = mean of external_confids_dist over M, judged against mcd_correct;
    # the new-class study keeps the iid samples the MC-averaged prediction gets right
    dist = np.load(tmp_path / "run/test_results/raw_logits_dist.npz")["arr_0"].astype(float)
    probs = np.exp(dist - dist.max(axis=1, keepdims=True))
    mcd_correct = (probs / probs.sum(axis=1, keepdims=True)).mean(axis=2).argmax(
        axis=1
    ) == audit.label
    confidence = (
        np.load(tmp_path / "run/test_results/external_confids_dist.npz")["arr_0"]
        .astype(float)
        .mean(1)
    )
    keep = (audit.test_set == "ood/svhn") | ((audit.test_set == "iid") & mcd_correct)
    good, bad = confidence[keep & mcd_correct], confidence[keep & ~mcd_correct]
    expected = ((good[:, None] > bad).sum() + 0.5 * (good[:, None] == bad).sum()) / (
        len(good) * len(bad)
    )
    row = result.table.query("test_set == 'ood/svhn'").iloc[0]
    assert row["value"] == pytest.approx(expected, abs=1e-9)
    assert row["n"] == keep.sum() and row["n_errors"] == 60
