"""Check every name a workflow will use before any work starts: the one place for it.

``silentscope train`` and ``audit-model``, a study (``silentscope study run`` and the
demo) and the library's own runners call :func:`check_names` (or :func:`check_study`)
first, so a typo in a dataset, corruption, severity, objective or CSF name fails in a
second, with one sentence and the closest valid name, instead of after training, or once
per run. Checks that need the data (channel counts, whether a corruption changes images of
this size) follow when the data is loaded, still before training
(:func:`silentscope.models.eval_sets.plan_corruption_sets`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from silentscope._suggest import unknown_name
from silentscope.data.medmnist import MEDMNIST_INFO
from silentscope.data.registry import DATASETS, unknown_dataset_message
from silentscope.shifts.registry import get_corruption
from silentscope.shifts.suite import DEFAULT, NONE, test_set_severities

#: The objectives silentscope ships (``silentscope.models.objectives``), named here so that a
#: typo is found without importing torch; a test keeps the two lists equal.
BUILTIN_OBJECTIVES = ("ce", "dg", "confidnet", "devries", "bce")
_OBJECTIVES_MODULE = "silentscope.models.objectives.base"


def registered_objectives() -> tuple[str, ...]:
    """Every objective name a run may use, without importing torch where it is not loaded.

    An objective added with ``register_objective`` lives in the loaded objectives module, so
    its live registry is read when that module is loaded; otherwise only the built-in
    objectives can exist.

    Examples
    --------
    >>> "confidnet" in registered_objectives()
    True
    """
    module = sys.modules.get(_OBJECTIVES_MODULE)
    return tuple(module.OBJECTIVES) if module is not None else BUILTIN_OBJECTIVES


def _dataset_problem(name: str) -> str | None:
    adapter, _, flag = str(name).partition(":")
    if adapter == "medmnist" and flag:
        return (
            None if flag in MEDMNIST_INFO else unknown_name("MedMNIST dataset", flag, MEDMNIST_INFO)
        )
    if name in DATASETS and name != "medmnist":
        return None
    if Path(name).expanduser().exists():
        return None  # its content is checked when it is loaded
    return unknown_dataset_message(str(name))


def _problem(check, *args) -> str | None:
    try:
        check(*args)
    except ValueError as error:
        return str(error)
    return None


def check_names(
    *,
    datasets: Iterable[str] = (),
    corruptions: str | Iterable[str] | None = None,
    severities: Iterable[int] | None = None,
    objectives: Iterable[str] = (),
    csfs: str | Iterable[str] | None = None,
    source: str = "",
) -> None:
    """Raise one ValueError naming every unknown name, each with the closest valid one.

    Parameters
    ----------
    datasets : iterable of str
        Registered names (``synthetic``, ``medmnist:<flag>``) or existing paths.
    corruptions : str or iterable of str, optional
        Corruption names, ``"default"`` or ``"none"``.
    severities : iterable of int, optional
        Corruption test-set severities (1-5).
    objectives : iterable of str
        Training objectives.
    csfs : str or iterable of str, optional
        CSF names, ``ext:<name>`` or ``"all"``.
    source : str, optional
        Where the names come from (a file), to start the message.

    Raises
    ------
    ValueError
        One message, each problem said once.

    Examples
    --------
    >>> check_names(datasets=["synthetic"], corruptions=["gaussian_noise"], objectives=["ce"])
    >>> check_names(corruptions=["gausian_noise"])
    Traceback (most recent call last):
    ...
    ValueError: unknown corruption 'gausian_noise'; did you mean 'gaussian_noise'? (`silentscope shifts list` shows all)
    """
    problems = [_dataset_problem(name) for name in datasets]
    if corruptions is not None:
        names = [corruptions] if isinstance(corruptions, str) else list(corruptions)
        problems += [_problem(get_corruption, n) for n in names if n not in (DEFAULT, NONE)]
    if severities is not None:
        problems.append(_problem(test_set_severities, list(severities)))
    known = registered_objectives()
    problems += [unknown_name("objective", o, sorted(known)) for o in objectives if o not in known]
    if csfs is not None and csfs != "all":
        from silentscope.confidence import get_csf  # the CSF plug-ins load on first use

        problems += [_problem(get_csf, c) for c in ([csfs] if isinstance(csfs, str) else csfs)]
    problems = list(dict.fromkeys(p for p in problems if p))
    if problems:
        prefix = f"{source}: " if source else ""
        raise ValueError(prefix + "; ".join(problems))


def check_study(spec, source: str = "") -> None:
    """:func:`check_names` for every dataset, corruption, severity, objective and CSF of a study.

    Parameters
    ----------
    spec : StudySpec
    source : str, optional
        The study file, to start the message.
    """
    trained = [d for d in spec.datasets if d.store is None]
    if getattr(spec, "task", "classification") == "segmentation":
        _check_segmentation_study(spec, trained, source)
        return
    corruptions = [
        c for d in trained if d.corruptions not in ("default", "none") for c in d.corruptions
    ]
    check_names(
        datasets=[d.name for d in trained],
        corruptions=corruptions,
        severities=[s for d in trained for s in d.severities],
        objectives=spec.objectives if trained else (),
        csfs=spec.csfs,
        source=source,
    )


def check_segmentation_names(
    *, datasets: Iterable[str] = (), corruptions: Iterable[str] = (), source: str = ""
) -> None:
    """:func:`check_names` for a segmentation workflow: its datasets and test corruptions.

    Examples
    --------
    >>> check_segmentation_names(datasets=["mni152:tissue"], corruptions=["rician_noise"])
    >>> check_segmentation_names(datasets=["mni152:tisue"])
    Traceback (most recent call last):
    ...
    ValueError: unknown segmentation dataset 'mni152:tisue'; did you mean 'mni152:tissue'? (or give a folder of NIfTI images and label maps)
    """
    from silentscope.data.segmentation import available_segmentation_datasets

    known = available_segmentation_datasets()
    problems = []
    for name in datasets:
        if name not in known and not Path(name).expanduser().exists():
            message = unknown_name("segmentation dataset", name, known)
            problems.append(f"{message} (or give a folder of NIfTI images and label maps)")
    problems += [_problem(get_corruption, n) for n in corruptions]
    problems = list(dict.fromkeys(p for p in problems if p))
    if problems:
        prefix = f"{source}: " if source else ""
        raise ValueError(prefix + "; ".join(problems))


def _check_segmentation_study(spec, trained, source: str) -> None:
    from silentscope.shifts.segmentation_suite import expand_test_corruptions

    check_segmentation_names(
        datasets=[d.name for d in trained],
        corruptions=[c for d in trained for c in expand_test_corruptions(d.corruptions)],
        source=source,
    )
