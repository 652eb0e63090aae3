"""Segmentation audits: train a U-Net, run it on every test set, one AuditSet row per volume.

The API (library level; the CLI, study, report and viewer call these):

- :class:`~silentscope.models.segmentation_training.SegmentationTrainer` -- ``fit(splits)``
  (or ``fit(train, val)``) trains a :class:`~silentscope.models.unet.UNet` (3D or 2D, from
  the data) with Dice + cross-entropy; ``network_``, ``history_`` (``val_dice``),
  ``health_``, ``provenance_``, ``save(path)``; :func:`load_unet` reads it back.
- :func:`audit_segmentation` -- ``audit_segmentation(net, splits, {"cor/rician_noise/3": s, ...},
  mc_samples=10)`` returns a :class:`SegmentationAudit` whose ``audit`` is an AuditSet with
  a continuous ``risk`` (1 - mean foreground Dice), the segmentation CSFs as confidences
  (``msr@mean``, ``pe@foreground``, ``mcd_mi@patch_q05``, ...), ``dice_<class>``
  outcomes and the voxel-level health verdict. Save it with
  :func:`silentscope.audit.store.save_audit`; ``silentscope.evaluation.evaluate(audit)``
  ranks the CSFs (``ext:msr@mean``, ...) by AURC, AUGRC, E-AURC, E-AUGRC on the risk,
  with bootstrap CIs.
- :func:`dice_table` -- mean Dice per class and mean risk per test set.
- :class:`~silentscope.predictor.quality.QualityRegressor` /
  :func:`~silentscope.predictor.quality.quality_scores` -- the learned quality estimate
  (segmentation counterpart of the misclassification predictor), cross-validated.

Examples
--------
>>> from types import SimpleNamespace
>>> import numpy as np, warnings
>>> warnings.simplefilter("ignore")
>>> labels = np.zeros((4, 8, 8, 8), np.int64); labels[:, 2:6, 2:6, 2:6] = 1
>>> data = SimpleNamespace(images=labels[..., None].astype(np.float32), labels=labels,
...                        class_names=("background", "blob"))
>>> trainer = SegmentationTrainer(width=4, depth=2, epochs=1, progress=False).fit(data, data)
>>> audit = audit_segmentation(trainer.network_, {"val": data, "iid": data}, mc_samples=2).audit
>>> audit.test_sets, audit.task
(('val', 'iid'), 'segmentation')
"""

from silentscope.models.segmentation_training import SegmentationTrainer, load_unet
from silentscope.models.unet import UNet
from silentscope.segmentation.audit import SegmentationAudit, audit_segmentation, dice_table

__all__ = [
    "SegmentationAudit",
    "SegmentationTrainer",
    "UNet",
    "audit_segmentation",
    "dice_table",
    "load_unet",
]
