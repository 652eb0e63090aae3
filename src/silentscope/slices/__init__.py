"""Multimodal slice discovery: where, systematically, does the classifier fail?

- :func:`discover_slices`: representation -> error-aware slicer -> stability -> held-out
  confirmation with FDR control -> explanations in report terms and metadata.
- Representation (:mod:`~silentscope.slices.representation`): image features, report
  text, metadata; weighted fusion or plain concatenation.
- Slicers by exact name in :data:`SLICERS`: ``error_mixture`` (error-aware Gaussian
  mixture), ``error_clusters`` and ``spotlight`` (baselines).
- Consensus over seeds (:class:`ConsensusSlicer`): aligned fits vote; per-slice stability.
- Per-modality views (:class:`MultiViewSlicer`): each modality alone and the fused
  representation, candidate slices pooled.
- Consolidation (:mod:`~silentscope.slices.consolidate`): one cause, one slice; each slice
  says how many candidates it absorbed.
- Rules (:mod:`~silentscope.slices.rules`): a slice in the data's words, learned on the
  fitting split, with held-out precision and recall.
- Evaluation against planted slices (:mod:`~silentscope.slices.evaluation`), and a
  simulated single-cause case (:func:`single_cause_audit`, issue 17).
"""

from silentscope.metrics.statistics import benjamini_hochberg, wilson_interval
from silentscope.slices.consensus import ConsensusSlicer
from silentscope.slices.consolidate import consolidate
from silentscope.slices.discover import (
    available_modalities,
    discover_slices,
    rerun_arguments,
    settings_differences,
)
from silentscope.slices.error_clusters import ErrorClusterSlicer
from silentscope.slices.evaluation import precision_at_k, score_discovery, score_table
from silentscope.slices.explain import (
    Enrichment,
    TermEvidence,
    distinguishing_terms,
    metadata_enrichment,
    slice_examples,
)
from silentscope.slices.mixture import ErrorAwareMixture
from silentscope.slices.ranking import rank_slices
from silentscope.slices.representation import (
    FUSIONS,
    MODALITIES,
    Representation,
    build_representation,
    encode_metadata,
    fuse_blocks,
    modality_blocks,
)
from silentscope.slices.result import SliceReport, read_slice_settings
from silentscope.slices.rules import condition_matrix, learn_rule
from silentscope.slices.simulation import flip_labels, simulate_logits, single_cause_audit
from silentscope.slices.slicers import SLICERS, make_slicer, membership_and_scores, slice_scores
from silentscope.slices.spotlight import SpotlightSlicer
from silentscope.slices.stability import jaccard_matrix, match_slices, slice_stability
from silentscope.slices.statistics import excess_error_pvalue
from silentscope.slices.views import MultiViewSlicer, modality_views

__all__ = [
    "ConsensusSlicer",
    "Enrichment",
    "ErrorAwareMixture",
    "ErrorClusterSlicer",
    "FUSIONS",
    "MODALITIES",
    "MultiViewSlicer",
    "Representation",
    "SLICERS",
    "SliceReport",
    "SpotlightSlicer",
    "TermEvidence",
    "available_modalities",
    "benjamini_hochberg",
    "build_representation",
    "condition_matrix",
    "consolidate",
    "discover_slices",
    "distinguishing_terms",
    "encode_metadata",
    "excess_error_pvalue",
    "flip_labels",
    "fuse_blocks",
    "jaccard_matrix",
    "learn_rule",
    "make_slicer",
    "match_slices",
    "membership_and_scores",
    "metadata_enrichment",
    "modality_blocks",
    "modality_views",
    "precision_at_k",
    "rank_slices",
    "read_slice_settings",
    "rerun_arguments",
    "settings_differences",
    "score_discovery",
    "score_table",
    "simulate_logits",
    "single_cause_audit",
    "slice_examples",
    "slice_scores",
    "slice_stability",
    "wilson_interval",
]
