"""Find corruptions by exact name, and the default suite of each modality.

Importing this module imports every family module, which registers its corruptions. The
registry (and every suite) is listed in :data:`FAMILIES` order, then in the order of
definition within a family.
"""

from __future__ import annotations

from silentscope._suggest import unknown_name
from silentscope.data.dataset import MODALITIES
from silentscope.shifts import (  # noqa: F401  (imported to register their corruptions)
    blur,
    dermatoscopy,
    digital,
    histology,
    mri,
    noise,
    texture,
    xray,
)
from silentscope.shifts.base import _REGISTRY, Corruption

#: Families in listing order: generic corruptions first, then modality-specific ones.
FAMILIES = ("noise", "blur", "digital", "xray", "dermatoscopy", "histology", "texture", "mri")


def _ordered() -> list[type[Corruption]]:
    return sorted(_REGISTRY.values(), key=lambda cls: FAMILIES.index(cls.family))


def corruption_names(modality: str | None = None) -> tuple[str, ...]:
    """Names of all registered corruptions, or of those in a modality's default suite.

    Examples
    --------
    >>> "gaussian_noise" in corruption_names()
    True
    >>> "bubble" in corruption_names("xray")
    False
    """
    if modality is None:
        return tuple(cls.name for cls in _ordered())
    _check_modality(modality)
    return tuple(cls.name for cls in _ordered() if modality in cls.modalities)


def get_corruption(name: str, modality: str = "generic") -> Corruption:
    """The registered corruption called exactly ``name``, with the modality's severity levels.

    Parameters
    ----------
    name : str
        Exact registry name (see :func:`corruption_names`).
    modality : str, default "generic"
        Selects the five-level table tuned for that modality where one exists.

    Raises
    ------
    ValueError
        If no corruption has that name; the message names the closest one.

    Examples
    --------
    >>> get_corruption("gaussian_noise", "ct").severity_levels
    {'sigma': (0.04, 0.08, 0.12, 0.16, 0.2)}
    """
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            unknown_name(
                "corruption", name, corruption_names(), "`silentscope shifts list` shows all"
            )
        )
    return cls(modality)


def default_suite(modality: str = "generic", channels: int | None = None) -> list[Corruption]:
    """The corruptions a study runs by default for a modality, with its severity levels.

    Parameters
    ----------
    modality : str
        One of ``xray, ct, mri, dermatoscopy, fundus, histology, generic``.
    channels : int, optional
        1 or 3: leave out corruptions that do not support that channel count (saturation
        needs colour).

    Examples
    --------
    >>> [c.name for c in default_suite("histology")][-2:]
    ['stain_deposit', 'bubble']
    >>> "saturate" in [c.name for c in default_suite("generic", channels=1)]
    False
    """
    _check_modality(modality)
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    return [
        cls(modality)
        for cls in _ordered()
        if modality in cls.modalities and (channels is None or channels in cls.channels)
    ]


def _check_modality(modality: str) -> None:
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; choose one of {', '.join(MODALITIES)}")
