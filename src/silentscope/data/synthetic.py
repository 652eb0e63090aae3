"""A synthetic dermatoscopy dataset with planted, known failure modes (silentscope's demo data).

No download, deterministic by seed, vectorised numpy (a few seconds of one CPU core for
5,000 images of 64 px). Three classes, told apart by shape, colour and border (a small CNN
reaches about 94 % on the clean in-distribution test rows; see
``benchmarks/synthetic_failures.py``):

* **nevus**: small, round or oval, even brown, smooth fading border, pigment network;
* **melanoma**: larger, asymmetric, irregular jagged border, several colours (black
  blotches, blue-grey veil, red areas);
* **seborrheic keratosis**: waxy tan, sharply demarcated ("stuck-on"), dark comedo-like
  openings and white milia-like cysts, fissured surface; more common with age.

Planted failure modes, each with ground truth in ``metadata`` (columns starting with
``gt_``, which an analysis must not use as inputs; they exist to score it):

* **spurious correlation**: a ruler scale at the image edge accompanies 80 % of training
  and validation melanomas but 4 % of other lesions; in the test split rulers appear on 30 %
  of all lesions regardless of class. ``gt_slice_spurious``: test-time benign lesions with a
  ruler (where a shortcut-learning classifier says melanoma). ``gt_ruler`` marks every ruler.
* **rare subtype**: amelanotic melanoma (pink, little pigment, fairly regular, dotted
  vessels) is about 2 % of training images and about 5 % of the test split
  (``gt_slice_rare``; ``gt_subtype`` names every subtype for manifestation shifts).
* **label noise**: 35 % of the labels of patients over 70 at site A are flipped to another
  class, in every split (``gt_slice_noisy``: the subgroup; ``gt_label_flipped``: the rows
  actually flipped; ``gt_label``: the clean class index).
* **acquisition shift**: site B's dermatoscope is cooler, noisier and strongly vignetted;
  all site B patients are in the test split (test set ``acq/site_B``). Label noise sits at
  site A so that the two failure modes are not confounded.

Every image has a generated report sentence with its findings and negations
("no ruler marks", "no hair artifacts").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from silentscope.data.dataset import ImageDataset
from silentscope.data.errors import DatasetError
from silentscope.data.patient_split import patient_split
from silentscope.data.synthetic_render import render_lesions

CLASS_NAMES = ("nevus", "melanoma", "seborrheic keratosis")
BODY_SITES = (
    "back",
    "chest",
    "abdomen",
    "upper arm",
    "forearm",
    "thigh",
    "lower leg",
    "face",
    "neck",
)
GROUND_TRUTH_PREFIX = "gt_"
_FIELD_OF_VIEW_MM = 20.0  # width of the dermatoscope image, for the lesion diameter in reports
_CHUNK = 256  # images rendered per batch: fixed, so that results never depend on memory

#: Planted-failure settings (recorded in ``info["planted"]``).
PLANTED = {
    "ruler_given_melanoma_train": 0.80,
    "ruler_given_other_train": 0.04,
    "ruler_test": 0.30,
    "amelanotic_given_melanoma_train": 0.075,
    "amelanotic_given_melanoma_test": 0.20,
    "noisy_subgroup": "age > 70 and site == 'site_A'",
    "noise_flip_fraction": 0.35,
    "held_out_site": "site_B",
    "site_B_patient_share": 0.15,
}


def _patients(rng: np.random.Generator, n_samples: int) -> pd.DataFrame:
    n_patients = int(np.ceil(n_samples / 1.5)) + 10
    lesions = 1 + rng.poisson(0.55, n_patients)
    patients = pd.DataFrame(
        {
            "patient_id": [f"P{i:05d}" for i in range(n_patients)],
            "age": np.clip(np.round(rng.normal(54, 17, n_patients)), 18, 92).astype(int),
            "sex": rng.choice(["female", "male"], n_patients),
            "site": np.where(
                rng.random(n_patients) < PLANTED["site_B_patient_share"], "site_B", "site_A"
            ),
            "skin_tone": rng.choice(["light", "medium", "dark"], n_patients, p=[0.55, 0.3, 0.15]),
            "n_lesions": lesions,
        }
    )
    keep = np.cumsum(lesions) - lesions < n_samples
    patients = patients[keep].reset_index(drop=True)
    overflow = patients["n_lesions"].sum() - n_samples
    patients.loc[len(patients) - 1, "n_lesions"] -= overflow
    return patients


def _draw_classes(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    sigmoid = 1.0 / (1.0 + np.exp(-(age - 60.0) / 8.0))
    p_keratosis = 0.04 + 0.36 * sigmoid
    p_melanoma = 0.16 + 0.18 / (1.0 + np.exp(-(age - 55.0) / 10.0))
    p_nevus = 1.0 - p_keratosis - p_melanoma
    u = rng.random(len(age))
    return np.where(u < p_nevus, 0, np.where(u < p_nevus + p_melanoma, 1, 2))


def _lesion_params(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    """Per-image rendering parameters, drawn per lesion kind with overlapping ranges."""
    n = len(rows)
    kind = rows["gt_subtype"].to_numpy()
    is_nev, is_mel = kind == "nevus", kind == "melanoma"
    is_sk, is_amel = kind == "seborrheic_keratosis", kind == "amelanotic_melanoma"

    def per_kind(nevus, melanoma, keratosis, amelanotic):
        low = np.select(
            [is_nev, is_mel, is_sk, is_amel], [nevus[0], melanoma[0], keratosis[0], amelanotic[0]]
        )
        high = np.select(
            [is_nev, is_mel, is_sk, is_amel], [nevus[1], melanoma[1], keratosis[1], amelanotic[1]]
        )
        return rng.uniform(low, high)

    def chance(nevus, melanoma, keratosis, amelanotic):
        prob = np.select([is_nev, is_mel, is_sk, is_amel], [nevus, melanoma, keratosis, amelanotic])
        return rng.random(n) < prob

    atypical = is_nev & (rng.random(n) < 0.15)  # dysplastic-looking nevi overlap with melanoma
    irregularity = per_kind((0.0, 0.035), (0.06, 0.16), (0.015, 0.05), (0.03, 0.07))
    irregularity = np.where(atypical, rng.uniform(0.04, 0.09, n), irregularity)
    params = pd.DataFrame(
        {
            "kind": kind,
            "skin_tone": rows["skin_tone"].to_numpy(),
            "site": rows["site"].to_numpy(),
            "cx": rng.uniform(-0.07, 0.07, n),
            "cy": rng.uniform(-0.07, 0.07, n),
            "radius": per_kind((0.11, 0.19), (0.16, 0.29), (0.13, 0.23), (0.12, 0.21)),
            "elongation": per_kind((1.0, 1.35), (1.0, 1.5), (1.1, 1.6), (1.0, 1.3)),
            "angle": rng.uniform(0, np.pi, n),
            "irregularity": irregularity,
            "jaggedness": per_kind((0.0, 0.01), (0.02, 0.06), (0.0, 0.015), (0.0, 0.02)),
            "softness": per_kind((0.08, 0.16), (0.03, 0.09), (0.015, 0.04), (0.1, 0.2)),
            "opacity": per_kind((0.7, 0.95), (0.88, 0.98), (0.85, 0.97), (0.55, 0.8)),
            "lightness": per_kind((0.75, 1.2), (0.7, 1.15), (0.6, 1.15), (0.9, 1.05)),
            "black": chance(0.03, 0.7, 0.05, 0.0) * rng.uniform(0.6, 1.0, n),
            "veil": chance(0.0, 0.55, 0.0, 0.05) * rng.uniform(0.5, 0.9, n),
            "red": chance(0.05, 0.35, 0.05, 0.6) * rng.uniform(0.4, 0.8, n),
            "network": chance(0.8, 0.4, 0.05, 0.0) * rng.uniform(0.3, 0.6, n),
            "comedo": chance(0.0, 0.0, 0.9, 0.0) * rng.uniform(0.01, 0.03, n),
            "milia": chance(0.0, 0.0, 0.7, 0.0) * rng.uniform(0.005, 0.015, n),
            "vessels": chance(0.0, 0.1, 0.0, 0.9) * rng.uniform(0.01, 0.03, n),
            "n_hairs": np.where(rng.random(n) < 0.35, rng.integers(1, 6, n), 0),
            "ruler": rows["gt_ruler"].to_numpy(),
            "ruler_side": rng.integers(0, 4, n),
            "vignette": np.where(
                rows["site"] == "site_B", rng.uniform(0.4, 0.62, n), rng.uniform(0.1, 0.3, n)
            ),
            "noise": np.where(rows["site"] == "site_B", 0.022, 0.015) * rng.uniform(0.7, 1.3, n),
        }
    )
    return params


_COLOUR_WORDS = (("black", "black areas"), ("veil", "a blue-grey veil"), ("red", "red areas"))


def _report(row, params, rng: np.random.Generator) -> str:
    diameter = 2 * params.radius * np.sqrt(params.elongation) * _FIELD_OF_VIEW_MM
    opening = rng.choice(["Dermoscopy", "Dermatoscopic image", "Dermoscopic examination"])
    site = row.site.replace("site_", "site ")
    findings = [
        f"{opening} ({site}) of a {diameter:.0f} mm lesion on the {row.body_site}.",
    ]
    symmetric = params.irregularity < 0.05
    border = (
        "sharply demarcated"
        if params.softness < 0.045
        else ("irregular" if params.jaggedness > 0.02 or params.irregularity > 0.08 else "regular")
    )
    article = "an" if border[0] in "aeiou" else "a"
    findings.append(f"{'Symmetric' if symmetric else 'Asymmetric'} with {article} {border} border.")
    colours = [word for column, word in _COLOUR_WORDS if getattr(params, column) > 0]
    if params.kind == "amelanotic_melanoma":
        findings.append("Pink to red, with little pigment and dotted vessels.")
    elif colours:
        findings.append(
            f"{'Brown' if params.lightness < 1.0 else 'Light brown'} with {', '.join(colours)}."
        )
    else:
        findings.append(f"Uniform {'brown' if params.lightness < 1.0 else 'light brown'} colour.")
    if params.network > 0:
        findings.append("Pigment network present.")
    elif params.kind != "amelanotic_melanoma":
        findings.append("No pigment network.")
    if params.comedo > 0 or params.milia > 0:
        findings.append("Comedo-like openings and milia-like cysts.")
    if not (params.veil > 0):
        findings.append("No blue-white veil.")
    findings.append("Ruler marks at the image edge." if params.ruler else "No ruler marks.")
    findings.append(
        "Hair artifacts over the lesion." if params.n_hairs > 0 else "No hair artifacts."
    )
    return " ".join(findings)


def make_synthetic(n_samples: int = 5000, size: int = 64, seed: int = 0) -> ImageDataset:
    """Generate the synthetic planted-failure dermatoscopy dataset.

    Parameters
    ----------
    n_samples : int
        Number of images (at least 200).
    size : int
        Image side in pixels (16 to 512); RGB.
    seed : int
        The same seed gives the same images, labels, split and reports.

    Returns
    -------
    ImageDataset
        Splits: site A patients split 70/10/20 by patient; all site B patients in ``test``.
        Metadata: ``patient_id, age, sex, site, skin_tone, body_site`` and the ground-truth
        columns ``gt_label, gt_subtype, gt_ruler, gt_hair, gt_label_flipped,
        gt_slice_spurious, gt_slice_rare, gt_slice_noisy``. ``info["planted"]`` records
        the settings.

    Examples
    --------
    >>> data = make_synthetic(n_samples=300, size=32, seed=1)
    >>> data.class_names, data.load_images([0]).shape
    (('nevus', 'melanoma', 'seborrheic keratosis'), (1, 32, 32, 3))
    >>> sorted(set(data.metadata.loc[data.split != "test", "site"]))
    ['site_A']
    >>> bool((make_synthetic(300, 32, seed=1).load_images() == data.load_images()).all())
    True
    """
    if not isinstance(n_samples, int | np.integer) or n_samples < 200:
        raise DatasetError(f"n_samples must be an integer of at least 200, got {n_samples!r}")
    if not isinstance(size, int | np.integer) or not 16 <= size <= 512:
        raise DatasetError(f"size must be an integer from 16 to 512 pixels, got {size!r}")
    rng = np.random.default_rng(seed)
    patients = _patients(rng, n_samples)
    patient_split_ = np.full(len(patients), "test", dtype=object)
    site_a = (patients["site"] == "site_A").to_numpy()
    patient_split_[site_a] = patient_split(np.zeros(site_a.sum(), dtype=int), None, seed=seed)
    patients["split"] = patient_split_.astype(str)
    rows = patients.loc[patients.index.repeat(patients["n_lesions"])].reset_index(drop=True)
    rows = rows.drop(columns="n_lesions")
    n = len(rows)
    test = (rows["split"] == "test").to_numpy()
    label = _draw_classes(rng, rows["age"].to_numpy())
    amelanotic_p = np.where(
        test, PLANTED["amelanotic_given_melanoma_test"], PLANTED["amelanotic_given_melanoma_train"]
    )
    amelanotic = (label == 1) & (rng.random(n) < amelanotic_p)
    rows["gt_subtype"] = np.select(
        [label == 0, amelanotic, label == 1],
        ["nevus", "amelanotic_melanoma", "melanoma"],
        "seborrheic_keratosis",
    )
    ruler_p = np.where(
        test,
        PLANTED["ruler_test"],
        np.where(
            label == 1, PLANTED["ruler_given_melanoma_train"], PLANTED["ruler_given_other_train"]
        ),
    )
    rows["gt_ruler"] = rng.random(n) < ruler_p
    rows["body_site"] = rng.choice(BODY_SITES, n)
    params = _lesion_params(rng, rows)
    rows["gt_hair"] = params["n_hairs"].to_numpy() > 0
    noisy = ((rows["age"] > 70) & (rows["site"] == "site_A")).to_numpy()
    flipped = noisy & (rng.random(n) < PLANTED["noise_flip_fraction"])
    shift = rng.integers(1, len(CLASS_NAMES), n)
    observed = np.where(flipped, (label + shift) % len(CLASS_NAMES), label)
    rows["gt_label"] = label
    rows["gt_label_flipped"] = flipped
    rows["gt_slice_spurious"] = test & rows["gt_ruler"].to_numpy() & (label != 1)
    rows["gt_slice_rare"] = amelanotic
    rows["gt_slice_noisy"] = noisy
    text_rng = np.random.default_rng([seed, 1])
    text = np.array(
        [
            _report(r, p, text_rng)
            for r, p in zip(rows.itertuples(), params.itertuples(), strict=True)
        ],
        dtype=object,
    )
    images = np.concatenate(
        [
            render_lesions(
                params.iloc[start : start + _CHUNK],
                size,
                seed=int(np.random.SeedSequence([seed, start]).generate_state(1)[0]),
            )
            for start in range(0, n, _CHUNK)
        ]
    )
    metadata_columns = ["patient_id", "age", "sex", "site", "skin_tone", "body_site", "gt_label", "gt_subtype",
                        "gt_ruler", "gt_hair", "gt_label_flipped", "gt_slice_spurious", "gt_slice_rare", "gt_slice_noisy"]  # fmt: skip
    return ImageDataset(
        name="synthetic",
        images=images,
        labels=observed,
        class_names=CLASS_NAMES,
        split=rows["split"].to_numpy(),
        sample_ids=np.array([f"syn{i:05d}" for i in range(n)]),
        metadata=rows[metadata_columns].copy(),
        text=text.astype(str),
        image_refs=None,
        modality="dermatoscopy",
        info={
            "source": "silentscope synthetic dermatoscopy",
            "seed": seed,
            "size": size,
            "n_samples": n,
            "planted": dict(PLANTED),
            "ground_truth_prefix": GROUND_TRUTH_PREFIX,
            "test_sets": {
                "iid": "test & site == 'site_A'",
                "acq/site_B": "test & site == 'site_B'",
            },
        },
    )
