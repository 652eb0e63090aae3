"""``load_dataset``: every adapter found by its exact name, or a path by what it holds."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from silentscope._suggest import closest_name
from silentscope.data.dataset import ImageDataset
from silentscope.data.errors import DatasetError
from silentscope.data.folder import load_folder
from silentscope.data.medmnist import MEDMNIST_INFO, load_medmnist
from silentscope.data.odir import load_odir
from silentscope.data.synthetic import make_synthetic

#: Adapter name -> loader. ``medmnist`` takes its flag after a colon: ``medmnist:dermamnist``.
DATASETS: dict[str, Callable[..., ImageDataset]] = {}


def register_dataset(name: str):
    """Register a loader under an exact name (a decorator); names must be new.

    Examples
    --------
    >>> @register_dataset("my_toy")
    ... def _toy(**options):
    ...     return make_synthetic(200, 16)
    >>> len(load_dataset("my_toy"))
    200
    >>> del DATASETS["my_toy"]
    """

    def decorate(loader: Callable[..., ImageDataset]) -> Callable[..., ImageDataset]:
        if name in DATASETS:
            raise ValueError(f"a dataset adapter named {name!r} is already registered")
        DATASETS[name] = loader
        return loader

    return decorate


register_dataset("synthetic")(make_synthetic)
register_dataset("medmnist")(load_medmnist)
register_dataset("odir")(load_odir)
register_dataset("folder")(load_folder)


def available_datasets() -> list[str]:
    """Every name :func:`load_dataset` accepts (MedMNIST flags spelled out)."""
    names = [n for n in DATASETS if n != "medmnist"]
    return names + [f"medmnist:{flag}" for flag in MEDMNIST_INFO]


def load_dataset(name_or_path: str | Path, **options) -> ImageDataset:
    """Load a dataset by adapter name or from a path.

    Parameters
    ----------
    name_or_path : str or Path
        ``synthetic``, ``odir`` (needs ``root=``), ``folder`` (needs ``root=``),
        ``medmnist:<flag>`` (e.g. ``medmnist:pneumoniamnist``; ``root=``, ``size=``,
        ``download=``), any name added with :func:`register_dataset`; or a path: a
        MedMNIST-style ``.npz`` file, a folder (image folder with a table or class
        sub-folders), or a ``.csv``/``.parquet`` table.
    **options
        Passed to the adapter.

    Returns
    -------
    ImageDataset

    Raises
    ------
    DatasetError
        Unknown name (the message lists the known ones) or a path that is neither a folder,
        an npz file nor a table.

    Examples
    --------
    >>> load_dataset("synthetic", n_samples=200, size=16).name
    'synthetic'
    >>> load_dataset("synthetic", root="/data")
    Traceback (most recent call last):
    ...
    silentscope.data.errors.DatasetError: the synthetic dataset takes no option 'root'; its options are n_samples, size, seed
    >>> load_dataset("medmnist:nomnist")
    Traceback (most recent call last):
    ...
    silentscope.data.errors.DatasetError: unknown MedMNIST dataset 'nomnist'; did you mean 'octmnist'?
    """
    text = str(name_or_path)
    adapter, _, argument = text.partition(":")
    if adapter == "medmnist" and argument:
        return _call("medmnist", DATASETS["medmnist"], options, argument)
    if text in DATASETS and text != "medmnist":
        return _call(text, DATASETS[text], options)
    path = Path(text).expanduser()
    if path.suffix.lower() == ".npz":
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
        flag, _, size = path.stem.partition("_")
        if flag not in MEDMNIST_INFO:
            raise DatasetError(
                f"{path.name} is not named like a MedMNIST file (<flag>.npz or <flag>_<size>.npz with a flag "
                f"in {', '.join(MEDMNIST_INFO)}); rename it or load it with load_medmnist"
            )
        options = {"root": path.parent, "size": int(size) if size.isdigit() else 28, **options}
        return _call("medmnist", load_medmnist, options, flag)
    if path.is_dir() or (
        path.is_file() and path.suffix.lower() in (".csv", ".tsv", ".parquet", ".pq")
    ):
        return _call("folder", load_folder, options, path)
    raise DatasetError(unknown_dataset_message(text))


def unknown_dataset_message(text: str) -> str:
    """The one sentence for a dataset name that is neither registered nor an existing path.

    Examples
    --------
    >>> unknown_dataset_message("synthtic")
    "unknown dataset 'synthtic'; did you mean 'synthetic'? (not a registered name nor an existing folder, table or .npz file)"
    """
    close = closest_name(text, available_datasets())
    if close is not None:
        return (
            f"unknown dataset {text!r}; did you mean {close!r}? (not a registered name nor an "
            "existing folder, table or .npz file)"
        )
    return (
        f"unknown dataset {text!r}: not a registered name ({', '.join(available_datasets())}) "
        "and not an existing folder, table or .npz file"
    )


def _call(name: str, loader: Callable[..., ImageDataset], options: dict, *args) -> ImageDataset:
    """Call a loader after checking the option names against its signature."""
    parameters = inspect.signature(loader).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    accepted = [p for p in parameters if parameters[p].kind is not inspect.Parameter.VAR_KEYWORD]
    accepted = accepted[len(args) :]
    unknown = [key for key in options if key not in accepted]
    if unknown and not takes_any:
        raise DatasetError(
            f"the {name} dataset takes no option {unknown[0]!r}; its options are {', '.join(accepted)}"
        )
    return loader(*args, **options)
