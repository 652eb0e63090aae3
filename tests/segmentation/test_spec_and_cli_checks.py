"""A segmentation study's specification and the train command's checks, before any training."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from silentscope.cli import app
from silentscope.preflight import check_study
from silentscope.study.spec import parse_study

runner = CliRunner()


def _study(**overrides) -> dict:
    raw = {
        "name": "seg",
        "task": "segmentation",
        "datasets": [{"name": "mni152:tissue", "options": {"size": 16}}],
    }
    raw.update(overrides)
    return raw


def test_segmentation_study_trains_variants_and_defaults_to_the_baseline():
    spec = parse_study(_study())
    assert spec.task == "segmentation" and spec.objectives == ["baseline"]
    spec = parse_study(_study(objectives=["baseline", "texture", "generic"], seeds=[0, 1]))
    assert [r.run_id for r in spec.runs()][:2] == [
        "mni152-tissue__baseline__seed0",
        "mni152-tissue__baseline__seed1",
    ]
    assert len(spec.runs()) == 6
    check_study(spec)  # every name is known


def test_a_classification_study_keeps_its_fingerprints():
    raw = {"name": "c", "datasets": [{"name": "synthetic"}]}
    plain, explicit = parse_study(raw), parse_study({**raw, "task": "classification"})
    assert plain.task == "classification"
    assert plain.runs()[0].fingerprint() == explicit.runs()[0].fingerprint()
    segmentation = parse_study({**raw, "task": "segmentation", "objectives": ["baseline"]})
    assert segmentation.runs()[0].fingerprint() != plain.runs()[0].fingerprint()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"objectives": ["ce"]},
            "objectives: 'ce' is not a segmentation training variant; use baseline, texture, generic",
        ),
        ({"task": "segmentaton"}, "task: Input should be 'classification' or 'segmentation'"),
        (
            {"objectives": ["baseline"], "seeds": [0, 1], "ensembles": ["baseline"]},
            "ensembles: deep ensembles are not supported for task segmentation",
        ),
        (
            {
                "objectives": ["baseline", "texture"],
                "datasets": [{"name": "mni152:tissue", "corruptions": ["ghosting", "sobel_edges"]}],
            },
            "datasets.0.corruptions: test corruption 'sobel_edges' is used in training by "
            "--augment texture, so it is not an unseen shift",
        ),
        (
            {"datasets": [{"name": "mni152:tissue", "split_shifts": [{"kind": "acquisition"}]}]},
            "datasets.0.split_shifts: split-based shifts are not supported for task segmentation",
        ),
    ],
)
def test_segmentation_study_errors_are_one_sentence_naming_the_key(overrides, message):
    with pytest.raises(ValueError, match="study is invalid") as error:
        parse_study(_study(**overrides))
    text = str(error.value)
    assert message in text and "\n" not in text and "(top level)" not in text


def test_a_generic_variant_may_test_on_texture_filters_it_never_trained_with():
    spec = parse_study(
        _study(
            objectives=["baseline", "generic"],
            datasets=[{"name": "mni152:tissue", "corruptions": ["default", "sobel_edges"]}],
        )
    )
    assert spec.datasets[0].corruptions == ["default", "sobel_edges"]


def test_preflight_names_an_unknown_segmentation_dataset_and_corruption():
    spec = parse_study(_study(datasets=[{"name": "mni152:tisue", "corruptions": ["rician_nois"]}]))
    with pytest.raises(ValueError) as error:
        check_study(spec)
    assert "did you mean 'mni152:tissue'" in str(error.value)
    assert "did you mean 'rician_noise'" in str(error.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--objective", "dg"], "--objective applies to classification only"),
        (["--ensemble", "3"], "--ensemble applies to classification only"),
        (["--augment", "textures"], "--augment 'textures' is not a segmentation augmentation"),
        (["--augment", "texture", "--augment", "generic"], "takes one --augment"),
        (
            ["--augment", "texture", "--corruption", "bilateral_filter"],
            "test corruption 'bilateral_filter' is used in training by --augment texture",
        ),
        (["--severity", "3"], "--severity needs at least one --corruption"),
        (["--task", "detection"], "--task must be classification or segmentation"),
    ],
)
def test_train_segmentation_refuses_what_it_cannot_honour_before_loading_data(
    tmp_path, extra, message
):
    args = ["train", "--task", "segmentation", "--dataset", "mni152:tissue"]
    if "--task" in extra:
        args = ["train", "--dataset", "mni152:tissue"]
    result = runner.invoke(app, [*args, *extra, "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "run").exists()


def test_train_segmentation_names_an_unknown_dataset(tmp_path):
    result = runner.invoke(
        app,
        ["train", "--task", "segmentation", "--dataset", "mni152:tisue", "--out", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "did you mean 'mni152:tissue'" in result.output
