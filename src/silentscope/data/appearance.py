"""Image appearance measures: acquisition properties a clinician can read, measured per image.

A failure that lives only in the image (a fogged lens, a noisy sensor, scan lines, a colour
cast, over-exposure) shows in the classifier's features, but there it is tangled with what
the network predicts: the same haze lands in different places for images predicted
"normal" and "abnormal", so slice discovery finds it as one piece per predicted class, and
no rule over report or metadata names it. A handful of task-blind measures of the image
itself sees the artefact the same way in every class and gives slices a rule in plain
words ("image sharpness <= 40"). They follow the image-quality measures of MR and
photographic quality control (brightness, contrast, sharpness as the variance of the
Laplacian, noise by Immerkaer's estimator, banding, clipping), computed on the grey image
in the 0-255 range:

``image brightness``
    Mean grey level.
``image contrast``
    Standard deviation of the grey levels.
``image saturation``
    Mean of (max - min) over the colour channels (0 for a grey image).
``image red-green``, ``image blue-yellow``
    Mean R - G and mean B - (R + G) / 2: a colour cast.
``image sharpness``
    Variance of the 4-neighbour Laplacian (Pech-Pacheco et al. 2000): low when blurred.
``image noise``
    Immerkaer's (1996) fast estimate of the standard deviation of additive noise in the
    grey image (noise independent per colour channel is divided by sqrt(3) there).
``image row banding``, ``image column banding``
    Mean absolute second difference of the row (column) means: alternating lines.
``image dark share``, ``image bright share``
    Share of pixels at most 5 or at least 250: under- and over-exposure.

Three measures say *where* the light falls, as fundus and photographic quality control
grade uneven illumination (vignetting, a shadow over part of the field, a specular
reflection): measures of the whole image cannot, since a dark rim and a bright centre
average to an ordinary brightness. Ratios add 1 to both means, so a black region gives a
finite value. There is no left/right ratio: in a fundus photograph it is the side of the
optic disc, the eye's laterality, an anatomical property and not an acquisition one (on
ODIR it described the errors of a laterality classifier, not its acquisition):

``image edge-to-centre brightness``
    Mean grey level of the ring 0.3-0.5 from the centre over that of the disc within 0.2
    (distances in image heights and widths): below 1 when the edges darken (vignetting).
``image top-to-bottom brightness``
    Mean grey level of the top third over that of the bottom third: far from 1 when an
    eyelid or lashes shadow the top, or the light falls from above or below.
``image highlight``
    Mean grey level of the brightest square patch (an eighth of the shorter side) minus the
    image's mean: a glare spot or specular reflection.

``image white highlight``
    Mean of the least bright colour channel over its brightest square patch (a quarter of
    the shorter side) minus that channel's median over the lit field (grey over 20 levels):
    white light laid over part of the image. A specular reflection or glare has the colour
    of the light source (the dichromatic reflection model, Shafer 1985), so it raises every
    channel where the tissue beneath raises only some: in a fundus photograph the optic disc
    is bright but orange, a glare spot bright and white. On grey images it is the grey
    level's brightest patch over its median.

One measure counts what lies *on* the image rather than how it is lit:

``image dark spots``
    The number of small, round dark spots in the field of view: places at least 25% darker
    than their surroundings at the scale of 2% of the shorter side (a difference of
    Gaussian blurs of 2% and 6% of that side, counted as connected regions where the wider
    blur is over 20 grey levels). Dust or dirt on the lens or sensor shows as such spots;
    so can dark lesions (haemorrhages), which is why a slice's example images say which.
    Only regions that are small (under a disc of 8% of the side), round-ish (the bounding
    box at most three times as long as wide and a third filled) and whole (not touching the
    image's edge) and darker than their surroundings on every side (filled in by a closing
    with a disc of 6% of the side) count: thin lines (vessels), the dark side of an edge,
    the band beside a body on a radiograph and the dark surround of a fundus photograph are
    not spots. Anatomy of that size is: on a 28 px chest radiograph, bits of the spaces
    between the ribs (median 1 spot, 5 at the 90th percentile on PneumoniaMNIST).
    Measured at most 128 pixels on the shorter side (larger images are reduced first), and
    not on images under 24 pixels (2% of their side is under half a pixel): there it is
    missing (NaN), never 0, and slice discovery leaves it out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The measures, in the order of :func:`appearance_measures`'s columns.
APPEARANCE_COLUMNS = (
    "image brightness",
    "image contrast",
    "image saturation",
    "image red-green",
    "image blue-yellow",
    "image sharpness",
    "image noise",
    "image row banding",
    "image column banding",
    "image dark share",
    "image bright share",
    "image edge-to-centre brightness",
    "image top-to-bottom brightness",
    "image highlight",
    "image white highlight",
    "image dark spots",
)

#: Images measured at once (bounds the float copy: 256 x 256 x 256 x 3 x 4 bytes = 200 MB).
_BATCH = 256


def _as_float_batch(images) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 3:  # (N, H, W) grey
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(
            "images must have shape (N, H, W), (N, H, W, 1) or (N, H, W, 3), got "
            f"{np.asarray(images).shape}; pass channel-last uint8 (or 0-255) arrays"
        )
    if array.shape[1] < 3 or array.shape[2] < 3:
        raise ValueError(f"images must be at least 3 x 3 pixels, got {array.shape[1:3]}")
    array = array[..., :3].astype(np.float32)
    if np.issubdtype(np.asarray(images).dtype, np.floating) and array.size and array.max() <= 1.0:
        array *= 255.0  # float images in [0, 1]: measures are in grey levels
    return array


def _measure(batch: np.ndarray) -> np.ndarray:
    colour = batch.shape[-1] == 3
    # channel reductions spelt out: numpy reduces a last axis of length 3 slowly
    if colour:
        r, g, b = batch[..., 0], batch[..., 1], batch[..., 2]
        grey = (r + g + b) / 3
    else:
        grey = batch[..., 0]
    laplacian = (
        grey[:, 1:-1, :-2] + grey[:, 1:-1, 2:] + grey[:, :-2, 1:-1] + grey[:, 2:, 1:-1]
        - 4 * grey[:, 1:-1, 1:-1]
    )  # fmt: skip
    mask = (
        grey[:, :-2, :-2] - 2 * grey[:, :-2, 1:-1] + grey[:, :-2, 2:]
        - 2 * grey[:, 1:-1, :-2] + 4 * grey[:, 1:-1, 1:-1] - 2 * grey[:, 1:-1, 2:]
        + grey[:, 2:, :-2] - 2 * grey[:, 2:, 1:-1] + grey[:, 2:, 2:]
    )  # fmt: skip
    h, w = grey.shape[1:]
    noise = np.sqrt(np.pi / 2) * np.abs(mask).sum(axis=(1, 2)) / (6 * (w - 2) * (h - 2))
    rows, columns = grey.mean(axis=2), grey.mean(axis=1)
    brightness = grey.mean(axis=(1, 2))

    def banding(means):
        return np.abs(means[:, 1:-1] - (means[:, :-2] + means[:, 2:]) / 2).mean(axis=1)

    if colour:
        least = np.minimum(np.minimum(r, g), b)
        saturation = (np.maximum(np.maximum(r, g), b) - least).mean(axis=(1, 2))
        red_green = (r - g).mean(axis=(1, 2))
        blue_yellow = (b - (r + g) / 2).mean(axis=(1, 2))
    else:
        saturation = red_green = blue_yellow = np.zeros(len(batch), np.float32)
    return np.column_stack(
        [
            brightness,
            grey.std(axis=(1, 2)),
            saturation,
            red_green,
            blue_yellow,
            laplacian.var(axis=(1, 2)),
            noise,
            banding(rows) if h >= 3 else np.zeros(len(batch)),
            banding(columns) if w >= 3 else np.zeros(len(batch)),
            (grey <= 5).mean(axis=(1, 2)),
            (grey >= 250).mean(axis=(1, 2)),
            *_where_the_light_falls(grey, brightness),
            _white_highlight(least if colour else grey, grey),
            _dark_spots(grey),
        ]
    ).astype(np.float64)


def _where_the_light_falls(grey: np.ndarray, brightness: np.ndarray) -> list[np.ndarray]:
    """Edge/centre and top/bottom brightness ratios and the highlight."""
    import cv2  # a dependency already; imported here to keep the module's import light

    n, h, w = grey.shape
    y, x = np.mgrid[0:h, 0:w]
    radius = np.hypot((y - (h - 1) / 2) / h, (x - (w - 1) / 2) / w).ravel()
    flat = grey.reshape(n, -1)
    # region means as one matrix product each (a boolean gather copies every image)
    centre = flat @ (radius <= 0.2).astype(np.float32) / (radius <= 0.2).sum()
    ring_mask = (radius > 0.3) & (radius <= 0.5)
    ring = flat @ ring_mask.astype(np.float32) / ring_mask.sum()
    third = max(h // 3, 1)
    top, bottom = grey[:, :third].mean(axis=(1, 2)), grey[:, h - third :].mean(axis=(1, 2))
    # the brightest k x k patch: a box filter, read where the window lies inside the image
    k = max(min(h, w) // 8, 1)
    start, end = k // 2, k - 1 - k // 2
    patch = np.array(
        [
            cv2.boxFilter(image, -1, (k, k), borderType=cv2.BORDER_CONSTANT)[
                start : h - end, start : w - end
            ].max()
            for image in np.ascontiguousarray(grey, dtype=np.float32)
        ]
    )
    highlight = patch - brightness
    return [(ring + 1) / (centre + 1), (top + 1) / (bottom + 1), highlight]


def _white_highlight(least: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Brightest patch of the least bright channel over its median in the lit field."""
    import cv2

    n, h, w = least.shape
    k = max(min(h, w) // 4, 1)
    start, end = k // 2, k - 1 - k // 2
    out = np.zeros(n)
    for i, (channel, lit) in enumerate(
        zip(np.ascontiguousarray(least, dtype=np.float32), grey > 20, strict=True)
    ):
        patch = cv2.boxFilter(channel, -1, (k, k), borderType=cv2.BORDER_CONSTANT)
        base = np.median(channel[lit]) if lit.any() else np.median(channel)
        out[i] = patch[start : h - end, start : w - end].max() - base
    return out


#: Spots are found on images at most this many pixels on the shorter side (blurs of a few
#: per cent of the side cost in proportion to it; a spot of 2% of 128 pixels is 2.6 pixels).
_SPOT_SIDE = 128
#: ... and not on images under this many pixels (2% of the side is under half a pixel).
SMALLEST_SPOT_SIDE = 24
#: The measures that may be missing (NaN) by design: not taken on images too small for them.
SIZE_LIMITED_COLUMNS = ("image dark spots",)


def _dark_spots(grey: np.ndarray) -> np.ndarray:
    """Number of small dark spots per image (see ``image dark spots``)."""
    import cv2

    n, h, w = grey.shape
    if min(h, w) < SMALLEST_SPOT_SIDE:
        return np.full(n, np.nan)
    scale = min(1.0, _SPOT_SIDE / min(h, w))
    counts = np.zeros(n)
    for i, image in enumerate(np.ascontiguousarray(grey, dtype=np.float32)):
        if scale < 1.0:
            size = (max(round(w * scale), 1), max(round(h * scale), 1))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        side = min(image.shape)
        narrow = cv2.GaussianBlur(image, (0, 0), 0.02 * side)
        wide = cv2.GaussianBlur(image, (0, 0), 0.06 * side)
        # darker than its surroundings by a quarter, inside the lit field: the black surround
        # of a fundus photograph (dark pixels joined to the image's edge) would otherwise
        # ring the field with "spots" where the wide blur reaches over the field's rim
        spots = (wide > 20) & (wide - narrow > 0.25 * (wide + 1)) & ~_dark_surround(image)
        # ... and filled in by a closing with a disc of 6% of the side: a spot is darker
        # than its surroundings on every side, where the dark side of an edge (a lung field
        # beside a rib) is dark on one side only and stays dark after the closing
        radius = max(int(round(0.06 * side)), 1)
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        closed = cv2.morphologyEx(image, cv2.MORPH_CLOSE, disc)
        spots &= closed - image > 0.15 * (closed + 1)
        counts[i] = _round_and_small(spots, side)
    return counts


def _round_and_small(spots: np.ndarray, side: int) -> int:
    """Connected regions that are spots: small, round-ish and whole (not cut by the edge).

    A chest radiograph's dark margin beside the body, or the edge of a lung field, is a
    long dark band, not a spot; a region that touches the image's edge cannot be judged.
    """
    import cv2

    n, _, stats, _ = cv2.connectedComponentsWithStats(spots.astype(np.uint8), connectivity=8)
    left, top, width, height, area = stats[1:].T
    h, w = spots.shape
    whole = (left > 0) & (top > 0) & (left + width < w) & (top + height < h)
    small = area <= np.pi * (0.08 * side) ** 2
    # round-ish: neither side of the box over three times the other, the box at least a
    # third filled (a thin diagonal line fills little of its box)
    round_ = (np.maximum(width, height) <= 3 * np.minimum(width, height)) & (
        area >= 0.3 * width * height
    )
    return int((whole & small & round_).sum())


def _dark_surround(image: np.ndarray) -> np.ndarray:
    """Pixels under 20 grey levels joined to the image's edge, and their neighbours."""
    import cv2

    n, labels = cv2.connectedComponents((image < 20).astype(np.uint8), connectivity=8)
    if n == 1:
        return np.zeros(image.shape, bool)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    surround = np.isin(labels, edge[edge > 0]).astype(np.uint8)
    return cv2.dilate(surround, np.ones((3, 3), np.uint8)).astype(bool)


def appearance_measures(images) -> pd.DataFrame:
    """Per-image appearance measures (:data:`APPEARANCE_COLUMNS`), one row per image.

    Parameters
    ----------
    images : array-like of shape (N, H, W), (N, H, W, 1) or (N, H, W, 3)
        Channel-last images with grey levels 0-255 (uint8), or floats in [0, 1].

    Returns
    -------
    DataFrame of shape (N, 16)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> flat = np.full((2, 16, 16, 3), 120, np.uint8)
    >>> noisy = np.clip(flat + rng.normal(0, 20, (2, 16, 16, 1)), 0, 255).astype(np.uint8)
    >>> lined = flat.copy(); lined[:, ::4] = 50
    >>> m = appearance_measures(np.concatenate([flat[:1], noisy[:1], lined[:1]]))
    >>> m["image noise"].round(0).tolist(), m["image row banding"].round(0).tolist()
    ([0.0, 22.0, 0.0], [0.0, 8.0, 32.0])
    >>> m["image column banding"].round(0).tolist()
    [0.0, 4.0, 0.0]

    A shadow over the top rows, and a small glare spot:

    >>> lit = np.full((2, 32, 32), 150, np.uint8); lit[0, :10] = 50; lit[1, 8:12, 20:24] = 250
    >>> m = appearance_measures(lit)
    >>> m["image top-to-bottom brightness"].round(2).tolist(), m["image highlight"].round(0).tolist()
    ([0.34, 1.02], [31.0, 98.0])

    Three dark specks on an even field; a thin dark line is not a spot:

    >>> field = np.full((2, 64, 64), 150, np.uint8)
    >>> for y, x in [(15, 15), (40, 20), (30, 50)]:
    ...     field[0, y - 2 : y + 2, x - 2 : x + 2] = 40
    >>> field[1, :, 32] = 75
    >>> appearance_measures(field)["image dark spots"].tolist()
    [3.0, 0.0]
    >>> appearance_measures(field[:, :16, :16])["image dark spots"].tolist()  # too small to say
    [nan, nan]
    """
    n = len(images)
    parts = [
        _measure(_as_float_batch(images[start : start + _BATCH])) for start in range(0, n, _BATCH)
    ]
    values = np.vstack(parts) if parts else np.zeros((0, len(APPEARANCE_COLUMNS)))
    return pd.DataFrame(values, columns=list(APPEARANCE_COLUMNS))


def measured_columns(metadata) -> list[str]:
    """The appearance measures a metadata table holds (its ``image ...`` columns), in order.

    Examples
    --------
    >>> measured_columns(pd.DataFrame({"age": [1], "image noise": [2.0]}))
    ['image noise']
    >>> measured_columns(None)
    []
    """
    if metadata is None:
        return []
    return [column for column in APPEARANCE_COLUMNS if column in metadata.columns]


def join_measures(metadata, measures: pd.DataFrame) -> pd.DataFrame:
    """``metadata`` (or nothing) with the appearance measures as columns beside it.

    A column of the same name already there is never overwritten: that is an error naming
    it (rename or drop it, or audit without the measures).

    Examples
    --------
    >>> join_measures(pd.DataFrame({"age": [30]}), pd.DataFrame({"image noise": [1.5]})).columns.tolist()
    ['age', 'image noise']
    """
    measures = measures.reset_index(drop=True)
    if metadata is None:
        return measures
    check_free(metadata)
    return pd.concat([metadata.reset_index(drop=True), measures], axis=1)


def check_free(metadata) -> None:
    """Refuse a metadata table that already has columns named like the appearance measures.

    Examples
    --------
    >>> check_free(pd.DataFrame({"age": [30]}))
    >>> check_free(pd.DataFrame({"image noise": [3.0]}))
    Traceback (most recent call last):
    ...
    ValueError: the metadata already has column(s) ['image noise'], which the image appearance measures would replace; rename or drop them first, or audit without the measures (appearance=False, --no-appearance)
    """
    clash = measured_columns(metadata)
    if clash:
        raise ValueError(
            f"the metadata already has column(s) {clash}, which the image appearance measures "
            "would replace; rename or drop them first, or audit without the measures "
            "(appearance=False, --no-appearance)"
        )


def with_appearance(audit, images=None, *, measures=None):
    """An AuditSet with the appearance measures of its images added to its metadata.

    For audits made elsewhere (imported predictions): ``images`` are the audited images in
    the AuditSet's row order, as the model saw them. The measures become acquisition
    columns ``image ...`` (:func:`silentscope.models.audit_model` adds them itself).

    Parameters
    ----------
    audit : AuditSet
    images : array-like of shape (N, H, W[, C]), optional
    measures : DataFrame, optional
        Measures taken earlier by :func:`appearance_measures`, one row per AuditSet row, in
        place of ``images``.

    Returns
    -------
    AuditSet

    Examples
    --------
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid"] * 2, label=[0, 1],
    ...                  logits=[[2.0, 0.0], [0.0, 2.0]], class_names=["n", "y"])
    >>> images = np.stack([np.full((8, 8), 40, np.uint8), np.full((8, 8), 200, np.uint8)])
    >>> out = with_appearance(audit, images)
    >>> out.metadata["image brightness"].tolist(), out.metadata_roles["image noise"].role
    ([40.0, 200.0], 'acquisition')
    """
    from dataclasses import replace

    if (images is None) == (measures is None):
        raise ValueError("give the audited images or their measures, not both and not neither")
    if images is not None:
        if len(images) != audit.n_samples:
            raise ValueError(
                f"images must hold one image per AuditSet row ({audit.n_samples}), got "
                f"{len(images)}"
            )
        measures = appearance_measures(images)
    absent = [c for c in APPEARANCE_COLUMNS if c not in measures.columns]
    if absent or len(measures) != audit.n_samples:
        raise ValueError(
            f"measures must have the columns {list(APPEARANCE_COLUMNS)} and one row per "
            f"AuditSet row ({audit.n_samples}); missing {absent}, {len(measures)} rows"
        )
    metadata = join_measures(
        audit.metadata if audit.has("metadata") else None, measures[list(APPEARANCE_COLUMNS)]
    )
    roles = {c: r.role for c, r in (audit.metadata_roles or {}).items() if r.source == "declared"}
    roles.update({column: "acquisition" for column in APPEARANCE_COLUMNS})
    return replace(audit, metadata=metadata, metadata_roles=roles)


def measure_image_refs(refs, base=None, root=None) -> pd.DataFrame:
    """Appearance measures of the images that references point to, one row per reference.

    For imported audits, whose images are files (of any size) rather than an array: each
    image is read (:func:`silentscope.data.refs.read_image_ref`) and measured alone.

    Parameters
    ----------
    refs : array-like of str
        Image references: a path, ``<file.npy>#<index>`` or ``<file.npz>#<key>/<index>``.
    base : path-like, optional
        Folder that relative paths start from (e.g. the imported table's folder).
    root : path-like, optional
        Read only files inside this folder.

    Raises
    ------
    ValueError
        A reference that cannot be read, named with its row.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> np.save(folder + "/images.npy", np.stack([np.full((8, 8), 40, np.uint8),
    ...                                            np.full((8, 8), 200, np.uint8)]))
    >>> measure_image_refs(["images.npy#1", "images.npy#0"], base=folder)["image brightness"].tolist()
    [200.0, 40.0]
    """
    from silentscope.data.refs import read_image_ref

    rows = []
    for i, ref in enumerate(np.asarray(refs, dtype=object)):
        try:
            image = read_image_ref(str(ref), base=base, root=root)
        except (OSError, ValueError, KeyError, IndexError) as error:
            raise ValueError(
                f"image reference {str(ref)!r} (row {i}) cannot be read for the appearance "
                f"measures: {error}; fix the path or import without them (--no-appearance)"
            ) from None
        rows.append(appearance_measures(np.asarray(image)[None]).iloc[0].to_numpy())
    values = np.vstack(rows) if rows else np.zeros((0, len(APPEARANCE_COLUMNS)))
    return pd.DataFrame(values, columns=list(APPEARANCE_COLUMNS))


__all__ = [
    "APPEARANCE_COLUMNS",
    "SIZE_LIMITED_COLUMNS",
    "SMALLEST_SPOT_SIDE",
    "appearance_measures",
    "check_free",
    "join_measures",
    "measure_image_refs",
    "measured_columns",
    "with_appearance",
]
