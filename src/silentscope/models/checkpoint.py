"""Saving and loading models and training states, atomically and without pickled code.

silentscope checkpoints hold only tensors and plain values, so they load with
``torch.load(weights_only=True)``: opening a checkpoint never runs code from it.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from silentscope.models.network import CHECKPOINT_FORMAT, ENSEMBLE_FORMAT, EnsembleNet, SilentNet


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a silentscope checkpoint dict (weights only), with a clear error if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several unrelated types for foreign files
        lines = [line for line in str(error).splitlines() if "error" in line.lower()] or [
            type(error).__name__
        ]
        raise ValueError(
            f"{path} is not a weights-only checkpoint ({lines[-1].strip()}); save a state dict "
            "(torch.save(model.state_dict())) or a TorchScript model (torch.jit.save)"
        ) from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a checkpoint dict")
    return obj


def is_torchscript(path: str | Path) -> bool:
    """Whether ``path`` is a TorchScript archive (it holds ``constants.pkl`` and code)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(
                name.endswith("/constants.pkl") or name == "constants.pkl"
                for name in archive.namelist()
            )
    except (zipfile.BadZipFile, OSError):
        return False


def save_model(
    model: nn.Module, path: str | Path, provenance: dict[str, Any] | None = None
) -> Path:
    """Save a :class:`SilentNet` or :class:`EnsembleNet` as a weights-only checkpoint.

    Examples
    --------
    >>> import tempfile
    >>> from silentscope.models.network import SilentNet
    >>> net = SilentNet(n_classes=2, in_channels=1, width=4)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     loaded = load_model(save_model(net, f"{tmp}/model.pt"))
    >>> type(loaded).__name__
    'SilentNet'
    """
    if not hasattr(model, "to_checkpoint"):
        raise ValueError(
            f"save_model saves silentscope networks; for a {type(model).__name__} use "
            "torch.save(model.state_dict(), path) or torch.jit.save"
        )
    return atomic_save(model.to_checkpoint(provenance), path)


def load_model(
    path: str | Path,
    model_class: type[nn.Module] | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> nn.Module:
    """Load a model from a silentscope checkpoint, a TorchScript file or a state dict.

    Parameters
    ----------
    path : path
        A file written by :func:`save_model`, ``torch.jit.save`` or
        ``torch.save(model.state_dict())``.
    model_class : type, optional
        Needed for a bare state dict: the module class to instantiate.
    model_kwargs : dict, optional
        Keyword arguments of ``model_class``.

    Returns
    -------
    nn.Module in eval mode.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if is_torchscript(path):
        with (
            warnings.catch_warnings()
        ):  # TorchScript is deprecated upstream but still what users export
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    checkpoint = read_checkpoint(path)
    fmt = checkpoint.get("format")
    if fmt == CHECKPOINT_FORMAT:
        return SilentNet.from_checkpoint(checkpoint)
    if fmt == ENSEMBLE_FORMAT:
        return EnsembleNet.from_checkpoint(checkpoint)
    if model_class is None:
        raise ValueError(
            f"{path} is a bare state dict; pass the model class (model_class=, or "
            "--model-class package.module:ClassName on the command line) to rebuild it"
        )
    model = model_class(**(model_kwargs or {}))
    try:
        model.load_state_dict(checkpoint)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise ValueError(
            f"the state dict in {path} does not fit {model_class.__name__}: {first}"
        ) from None
    return model.eval()
