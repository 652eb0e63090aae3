"""The study specification: datasets x objectives x seeds x shift suites x CSFs.

A study is written as YAML (or built from CLI flags) and validated here, with errors that
name the offending key. Example::

    name: demo
    datasets:
      - name: synthetic
        options: {n_samples: 3000, seed: 0}
        corruptions: default        # the modality's default suite, or a list of names
        severities: [1, 3, 5]
    objectives: [ce, dg]
    seeds: [0, 1]
    ensembles: [ce]                 # deep ensemble of the ce runs' seeds (rows "... (de)")
    csfs: all
    train: {epochs: 6}
    evaluation: {bootstrap: 500}    # also mc_correctness: mc_mean, ood_convention: all_iid

A segmentation study (``task: segmentation``) has the same shape: its ``objectives`` are
training variants (``baseline``, ``texture``, ``generic``; see
:mod:`silentscope.shifts.segmentation_suite`), its ``corruptions: default`` is the unseen 3D
MRI suite, and no test corruption may be one a variant trains with::

    name: seg
    task: segmentation
    datasets:
      - name: mni152:tissue
        options: {size: 32, n_train: 16, n_val: 4, n_test: 8, seed: 0}
    objectives: [baseline, texture]
    seeds: [0, 1]
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(_Strict):
    """One dataset of a study and the shifts to build from it."""

    name: str = Field(
        description="Dataset name for silentscope.data.load_dataset (e.g. synthetic, medmnist:dermamnist)."
    )
    label: str | None = Field(
        default=None, description="Short name used in run folders and tables."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Keyword options of the loader."
    )
    corruptions: Literal["default", "none"] | list[str] = "default"
    severities: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    split_shifts: list[dict[str, Any]] = Field(
        default_factory=list, description="Split-based shift builders and their options."
    )
    store: str | None = Field(
        default=None, description="Evaluate this existing audit store instead of training."
    )

    @field_validator("severities")
    @classmethod
    def _severities_in_range(cls, value: list[int]) -> list[int]:
        bad = [s for s in value if s not in range(1, 6)]
        if bad:
            raise ValueError(f"severities must be between 1 and 5, got {bad}")
        return value

    @property
    def key(self) -> str:
        label = self.label or self.name.replace(":", "-")
        if not _NAME.match(label):
            raise ValueError(
                f"dataset label {label!r} may only hold letters, digits, '_', '-' and '.'"
            )
        return label


class TrainSpec(_Strict):
    epochs: int | None = Field(default=None, ge=1)
    batch_size: int | None = Field(default=None, ge=1)
    learning_rate: float | None = Field(default=None, gt=0)
    mc_samples: int = Field(default=10, ge=0)
    image_size: int | None = Field(default=None, ge=8)
    options: dict[str, Any] = Field(default_factory=dict)


class EvaluationSpec(_Strict):
    bootstrap: int = Field(default=1000, ge=0)
    confidence_level: float = Field(default=0.95, gt=0, lt=1)
    metrics: list[str] | None = None
    mc_correctness: Literal["deterministic", "mc_mean"] = Field(
        default="deterministic",
        description="Which prediction MC-dropout CSFs are judged against: the deterministic "
        "one, or the MC-averaged one as FD-Shifts does (silentscope.evaluation.correctness).",
    )
    ood_convention: Literal["fdshifts", "all_iid"] = Field(
        default="fdshifts",
        description="How new-class (ood/) test sets are judged: with the correctly classified "
        "iid samples (FD-Shifts' new-class study) or with every iid sample.",
    )

    #: Keys added after the first studies ran: they enter a run's fingerprint only when set
    #: to something other than their default, so that earlier runs stay resumable.
    LATER_KEYS: ClassVar[dict[str, str]] = {
        "mc_correctness": "deterministic",
        "ood_convention": "fdshifts",
    }

    def fingerprint_fields(self) -> dict[str, Any]:
        fields = self.model_dump()
        for key, default in self.LATER_KEYS.items():
            if fields[key] == default:
                del fields[key]
        return fields


class ExecutorSpec(_Strict):
    kind: Literal["local", "ray"] = "local"
    workers: int | None = Field(default=None, ge=1)
    address: str | None = None
    cpus_per_run: float = Field(default=1.0, gt=0)
    gpus_per_run: float = Field(default=0.0, ge=0)
    retries: int = Field(
        default=1,
        ge=0,
        description="Times a run whose worker died (killed, out of memory) is started again "
        "before it is recorded in failed/; a run that raises is not retried.",
    )


class StudySpec(_Strict):
    """A whole study: the grid of runs and how to execute and evaluate them."""

    name: str
    task: Literal["classification", "segmentation"] = Field(
        default="classification",
        description="classification, or segmentation (objectives are then training variants).",
    )
    datasets: list[DatasetSpec] = Field(min_length=1)
    objectives: list[str] = Field(default_factory=lambda: ["ce"], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    ensembles: list[str] = Field(
        default_factory=list,
        description="Objectives whose seeds are combined into a deep ensemble (needs 2+ seeds).",
    )
    csfs: Literal["all"] | list[str] = "all"
    train: TrainSpec = Field(default_factory=TrainSpec)
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("may only hold letters, digits, '_', '-' and '.'")
        return value

    def runs(self) -> list[RunSpec]:
        """The grid of runs: datasets x objectives x seeds (stores are evaluated once)."""
        keys = [d.key for d in self.datasets]
        if len(set(keys)) != len(keys):
            raise ValueError(f"two datasets share the label {keys}; give each a distinct `label`")
        runs = []
        for dataset in self.datasets:
            if dataset.store is not None:
                runs.append(RunSpec(dataset=dataset, objective="store", seed=0, study=self))
                continue
            for objective in self.objectives:
                for seed in self.seeds:
                    runs.append(
                        RunSpec(dataset=dataset, objective=objective, seed=seed, study=self)
                    )
            for objective in self.ensembles:
                runs.append(
                    RunSpec(
                        dataset=dataset,
                        objective=ensemble_name(objective),
                        seed=self.seeds[0],
                        study=self,
                        members=tuple(self.seeds),
                    )
                )
        return runs

    @model_validator(mode="before")
    @classmethod
    def _segmentation_defaults(cls, raw: Any) -> Any:
        # a segmentation study without objectives trains the baseline, not "ce"
        if isinstance(raw, dict) and raw.get("task") == "segmentation" and "objectives" not in raw:
            return {**raw, "objectives": ["baseline"]}
        return raw

    @model_validator(mode="after")
    def _segmentation_is_consistent(self) -> StudySpec:
        if self.task != "segmentation":
            return self
        from silentscope.shifts.segmentation_suite import (
            SEGMENTATION_VARIANTS,
            check_unseen,
            expand_test_corruptions,
            variant_augment,
        )

        for objective in self.objectives:
            if objective not in SEGMENTATION_VARIANTS:
                raise ValueError(
                    f"objectives: {objective!r} is not a segmentation training variant; use "
                    f"{', '.join(SEGMENTATION_VARIANTS)} (a segmentation study trains variants, "
                    "not classification objectives)"
                )
        if self.ensembles:
            raise ValueError(
                "ensembles: deep ensembles are not supported for task segmentation; remove ensembles"
            )
        augments = [variant_augment(o) for o in self.objectives]
        for i, dataset in enumerate(self.datasets):
            if dataset.split_shifts:
                raise ValueError(
                    f"datasets.{i}.split_shifts: split-based shifts are not supported for task "
                    "segmentation; remove split_shifts"
                )
            if dataset.store is None:
                try:
                    check_unseen(expand_test_corruptions(dataset.corruptions), augments)
                except ValueError as error:
                    raise ValueError(f"datasets.{i}.corruptions: {error}") from None
        return self

    @model_validator(mode="after")
    def _ensembles_have_members(self) -> StudySpec:
        for objective in self.ensembles:
            if objective == "bce":
                raise ValueError(
                    "ensembles: deep ensembles of multi-label (bce) runs are not supported; "
                    "remove bce from ensembles"
                )
            if objective not in self.objectives:
                raise ValueError(
                    f"ensembles: {objective!r} is not among the objectives {self.objectives}; "
                    "an ensemble combines the seeds of a trained objective"
                )
        trained = any(d.store is None for d in self.datasets)
        if self.evaluation.mc_correctness == "mc_mean" and trained and self.train.mc_samples < 1:
            raise ValueError(
                "evaluation.mc_correctness: 'mc_mean' judges MC-dropout CSFs against the "
                "MC-averaged prediction, but train.mc_samples is 0 (no MC-dropout passes); "
                "set train.mc_samples >= 1 or use 'deterministic'"
            )
        if self.ensembles and len(set(self.seeds)) < 2:
            raise ValueError(
                f"ensembles need at least 2 seeds to combine, got seeds {self.seeds}; add seeds"
            )
        return self


def ensemble_name(objective: str) -> str:
    """The objective label of a deep ensemble of ``objective`` runs: ``de`` for ce, else ``de-<o>``.

    Examples
    --------
    >>> ensemble_name("ce"), ensemble_name("dg")
    ('de', 'de-dg')
    """
    return "de" if objective == "ce" else f"de-{objective}"


class RunSpec(BaseModel):
    """One run of a study: train one objective on one dataset with one seed, audit, evaluate."""

    model_config = ConfigDict(frozen=True)

    dataset: DatasetSpec
    objective: str
    seed: int
    study: StudySpec
    members: tuple[int, ...] = ()
    """Seeds of the runs a deep-ensemble run combines (empty for a training run)."""

    @property
    def run_id(self) -> str:
        if self.members:
            return f"{self.dataset.key}__{self.objective}__seeds{'-'.join(map(str, self.members))}"
        return f"{self.dataset.key}__{self.objective}__seed{self.seed}"

    @property
    def member_objective(self) -> str:
        """The objective whose runs an ensemble run combines."""
        return "ce" if self.objective == "de" else self.objective.removeprefix("de-")

    def member_run_ids(self) -> list[str]:
        return [
            RunSpec(
                dataset=self.dataset, objective=self.member_objective, seed=s, study=self.study
            ).run_id
            for s in self.members
        ]

    def fingerprint(self) -> str:
        """Hash of everything that determines the run's result; a changed spec is not resumed."""
        payload = {
            "dataset": self.dataset.model_dump(),
            "objective": self.objective,
            "seed": self.seed,
            "train": self.study.train.model_dump(),
            "evaluation": self.study.evaluation.fingerprint_fields(),
            "csfs": self.study.csfs,
        }
        if self.study.task != "classification":  # so classification fingerprints are stable
            payload["task"] = self.study.task
        if self.members:  # only ensemble runs carry it, so training-run fingerprints are stable
            payload["members"] = list(self.members)
        return hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]


def load_study(path: str | os.PathLike) -> StudySpec:
    """Read and validate a study YAML file; errors name the key and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no study file at {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path} must hold a mapping with at least `name` and `datasets`")
    return parse_study(raw, source=str(path))


def parse_study(raw: dict[str, Any], *, source: str = "study") -> StudySpec:
    """Validate a study given as a dict, turning pydantic's report into one clear sentence."""
    try:
        return StudySpec.model_validate(raw)
    except ValidationError as error:
        problems = []
        for item in error.errors()[:3]:
            where = ".".join(str(part) for part in item["loc"])
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = "unknown key (check the spelling)"
            # a check of the whole study names its key in the message itself
            problems.append(f"{where}: {message}" if where else message)
        more = f" (and {error.error_count() - 3} more)" if error.error_count() > 3 else ""
        raise ValueError(f"{source} is invalid: {'; '.join(problems)}{more}") from None
