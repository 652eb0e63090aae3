"""Deep ensembles over seeds (Lakshminarayanan et al. 2017) as a confidence scoring function."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from silentscope.data.dataset import ImageDataset
from silentscope.models.checkpoint import save_model
from silentscope.models.network import SilentNet
from silentscope.models.training import Trainer

ENSEMBLE_FORMAT = "silentscope.ensemble"


class EnsembleNet(nn.Module):
    """K networks whose prediction is the mean of their softmax outputs.

    ``forward`` returns :math:`\\log \\frac{1}{K}\\sum_k \\mathrm{softmax}(z_k)`, a valid
    logit vector whose softmax is the ensemble's mean probability. In an AuditSet the
    ensemble is stored as:

    - ``logits``: that log mean-softmax, so MSR, PE and every logit-based CSF score the
      ensemble prediction (DE-MSR, DE-PE of FD-Shifts);
    - ``mc_logits``: the K members' logits (N, C, K), so the MC-sample CSFs (expected
      entropy, mutual information, sample variance) become their ensemble versions;
    - ``features``: the first member's penultimate features;
    - external confidences: the members' mean (for DG, ConfidNet or DeVries members).

    Examples
    --------
    >>> members = [SilentNet(n_classes=2, in_channels=1, width=4) for _ in range(3)]
    >>> ensemble = EnsembleNet(members).eval()
    >>> probs = ensemble(torch.rand(2, 1, 28, 28)).exp()
    >>> torch.allclose(probs.sum(1), torch.ones(2))
    True
    """

    def __init__(self, members: list[SilentNet]):
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        classes = {m.n_classes for m in members}
        if len(classes) != 1:
            raise ValueError(
                f"ensemble members disagree on the number of classes: {sorted(classes)}"
            )
        self.members = nn.ModuleList(members)
        self.n_classes = members[0].n_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([torch.log_softmax(m(x), dim=1) for m in self.members], dim=2)
        return torch.logsumexp(log_probs, dim=2) - np.log(len(self.members))

    def to_checkpoint(self, provenance: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "format": ENSEMBLE_FORMAT,
            "version": 1,
            "members": [m.to_checkpoint() for m in self.members],
            "provenance": provenance or {},
        }

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> EnsembleNet:
        if checkpoint.get("format") != ENSEMBLE_FORMAT:
            raise ValueError(
                f"not a silentscope ensemble checkpoint (format {checkpoint.get('format')!r})"
            )
        return cls([SilentNet.from_checkpoint(m) for m in checkpoint["members"]]).eval()


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
        from silentscope.models.audit_model import audit_model

        if not hasattr(self, "network_"):
            raise ValueError("this DeepEnsemble is not fitted yet; call fit(dataset) first")
        provenance = {**self.provenance_, **kwargs.pop("provenance", {})}
        kwargs.setdefault("device", self.trainer_params.get("device", "auto"))
        kwargs.setdefault("n_threads", self.trainer_params.get("n_threads"))
        return audit_model(self.network_, dataset, provenance=provenance, **kwargs)


def ensemble_from_models(models: list[SilentNet]) -> EnsembleNet:
    """An ensemble of already trained networks (e.g. loaded checkpoints)."""
    return EnsembleNet([copy.deepcopy(m).eval() for m in models])
