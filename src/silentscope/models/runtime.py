"""Where and how torch runs: the device (GPU when present) and the CPU thread count."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


def available_cores() -> int:
    """CPU cores this process may use (respects affinity masks and container limits).

    Examples
    --------
    >>> available_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # sched_getaffinity is Linux-only
        return max(1, os.cpu_count() or 1)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device to run on: ``auto`` picks CUDA, then Apple MPS, then the CPU.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if device not in DEVICES and not str(device).startswith("cuda:"):
        raise ValueError(
            f"unknown device {device!r}; use one of {', '.join(DEVICES)} or 'cuda:<index>'"
        )
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} was requested but no CUDA GPU is available; use device='cpu'"
        )
    return torch.device(device)


@contextlib.contextmanager
def torch_threads(n_threads: int | None = None) -> Iterator[int]:
    """Run the block with ``n_threads`` intra-op CPU threads (default: the available cores).

    The previous setting is restored afterwards, so a library call never changes the
    caller's global torch configuration.

    Examples
    --------
    >>> with torch_threads(1) as n:
    ...     n
    1
    """
    if n_threads is not None and n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer, got {n_threads}")
    wanted = n_threads or available_cores()
    previous = torch.get_num_threads()
    torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        torch.set_num_threads(previous)
