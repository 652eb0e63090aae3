"""Deep ensembles over seeds (Lakshminarayanan et al. 2017) as a confidence scoring function.

This module trains the members (:class:`DeepEnsemble`); the network that combines them,
:class:`~silentscope.models.network.EnsembleNet`, lives with :class:`SilentNet` in
:mod:`silentscope.models.network`, so that loading and inference need no training code.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd

from silentscope.data.dataset import ImageDataset
from silentscope.models.audit_model import audit_model
from silentscope.models.checkpoint import save_model
from silentscope.models.network import EnsembleNet
from silentscope.models.training import Trainer


class DeepEnsemble:
    """Train K networks that differ only in their seed (``random_state + k``).

    Parameters
    ----------
    n_members : int, default 5
        K (FD-Shifts uses 5).
    random_state : int, default 0
    **trainer_params
        Passed to every member's :class:`~silentscope.models.training.Trainer`.

    Attributes
    ----------
    network_ : EnsembleNet
    members_ : list of Trainer
    history_ : DataFrame
        The members' histories with a ``member`` column.
    provenance_ : dict

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.data.dataset import ImageDataset
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 2, 40)
    >>> ds = ImageDataset("toy", rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), labels, ["a", "b"],
    ...                   ["train"] * 32 + ["val"] * 8, [str(i) for i in range(40)])
    >>> ens = DeepEnsemble(n_members=2, epochs=1, width=2, progress=False).fit(ds)
    >>> len(ens.network_.members), ens.history_["member"].tolist()
    (2, [0, 1])
    """

    def __init__(self, n_members: int = 5, random_state: int = 0, **trainer_params: Any):
        self.n_members = n_members
        self.random_state = random_state
        self.trainer_params = trainer_params

    def fit(
        self,
        dataset: ImageDataset,
        *,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
    ) -> DeepEnsemble:
        """Train the members one after the other (each resumable in ``checkpoint_dir/member_<k>``)."""
        if int(self.n_members) < 2:
            raise ValueError(f"n_members must be at least 2 for an ensemble, got {self.n_members}")
        members = []
        for k in range(int(self.n_members)):
            folder = None if checkpoint_dir is None else Path(checkpoint_dir) / f"member_{k}"
            can_resume = resume and folder is not None and (folder / "training_state.pt").is_file()
            trainer = Trainer(random_state=int(self.random_state) + k, **self.trainer_params)
            members.append(trainer.fit(dataset, checkpoint_dir=folder, resume=can_resume))
        self.members_ = members
        self.network_ = EnsembleNet([m.network_ for m in members]).eval()
        self.history_ = pd.concat(
            [m.history_.assign(member=k) for k, m in enumerate(members)], ignore_index=True
        )
        provenance = copy.deepcopy(members[0].provenance_)
        provenance.pop("selected_epochs", None)
        provenance.update(
            ensemble={
                "n_members": int(self.n_members),
                "seeds": [m.random_state for m in members],
                "selected_epochs": [m.provenance_["selected_epochs"] for m in members],
                "logits": "log mean softmax of the members",
                "mc_logits": "members' logits (N, C, K)",
                "features": "member 0",
            },
            seed=int(self.random_state),
        )
        self.provenance_ = provenance
        return self

    def save(self, path: str | Path) -> Path:
        """Save the ensemble as one weights-only checkpoint."""
        if not hasattr(self, "network_"):
            raise ValueError("this DeepEnsemble is not fitted yet; call fit(dataset) first")
        return save_model(self.network_, path, self.provenance_)

    def audit(self, dataset: ImageDataset, **kwargs):
        """Inference on val, iid and shifts: see :func:`~silentscope.models.audit_model.audit_model`."""
        if not hasattr(self, "network_"):
            raise ValueError("this DeepEnsemble is not fitted yet; call fit(dataset) first")
        provenance = {**self.provenance_, **kwargs.pop("provenance", {})}
        kwargs.setdefault("device", self.trainer_params.get("device", "auto"))
        kwargs.setdefault("n_threads", self.trainer_params.get("n_threads"))
        return audit_model(self.network_, dataset, provenance=provenance, **kwargs)
