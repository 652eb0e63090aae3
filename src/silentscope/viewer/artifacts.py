"""Names of the store artifacts the viewer reads and writes (see :func:`~silentscope.audit.store.write_artifact`)."""

#: The joint 2-D embedding: DataFrame ``sample_id``, ``x``, ``y`` in store row order.
EMBEDDING_ARTIFACT = "embedding"
#: How the embedding was made: method, parameters, input, subsample size.
EMBEDDING_INFO_ARTIFACT = "embedding_info"
#: Every CSF's confidence per sample: ``sample_id`` plus one column per CSF.
CONFIDENCES_ARTIFACT = "viewer_confidences"
#: Which samples the confidences were computed for (``samples_sha256``) and which CSFs could not run.
CONFIDENCES_INFO_ARTIFACT = "viewer_confidences_info"
#: Discovered slices (written by ``silentscope slices``): ``sample_id``, ``rank``.
SLICES_MEMBERSHIP_ARTIFACT = "slices_membership"
#: The slice identifier in the membership and summary tables: ``silentscope slices`` writes
#: the slice's ``rank`` (1 = most confidently failing); ``slice_id`` is read as well, and
#: ``name`` keys the subgroups' summaries.
SLICE_ID_COLUMNS = ("rank", "slice_id", "name")
#: One row per discovered slice, shown beside it (optional).
SLICES_SUMMARY_ARTIFACT = "slices"
#: How the slices were found; its ``empty_note`` says what an empty discovery means.
SLICES_SETTINGS_ARTIFACT = "slices_settings"
#: Slices a person saved from the viewer: ``sample_id``, ``slice``.
USER_SLICES_ARTIFACT = "user_slices"
