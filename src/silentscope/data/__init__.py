"""Dataset adapters (MedMNIST, image folder + table, ODIR, synthetic), splits and checks.

Segmentation data (volumes and label maps) has its own contract and registry:
:mod:`silentscope.data.segmentation`, with ``mni152:tissue`` and ``folder`` loaders.
"""

from silentscope.data.dataset import MODALITIES, SPLITS, ArrayImages, ImageDataset, ImageSource
from silentscope.data.duplicates import (
    DuplicateReport,
    duplicate_report,
    find_duplicates,
    hash_pixels,
)
from silentscope.data.errors import DatasetError
from silentscope.data.files import FileImages, read_image
from silentscope.data.folder import load_folder, read_table
from silentscope.data.labels import encode_labels
from silentscope.data.medmnist import MEDMNIST_INFO, load_medmnist
from silentscope.data.mni152 import make_mni152_tissue
from silentscope.data.odir import load_odir
from silentscope.data.patient_split import check_no_patient_leakage, patient_split
from silentscope.data.preview import preview_grid, save_preview
from silentscope.data.refs import read_image_ref, write_npz
from silentscope.data.registry import available_datasets, load_dataset, register_dataset
from silentscope.data.segmentation import (
    SegmentationSet,
    SegmentationSplits,
    available_segmentation_datasets,
    load_segmentation_dataset,
    register_segmentation_dataset,
)
from silentscope.data.segmentation_folder import load_segmentation_folder
from silentscope.data.summary import summarize
from silentscope.data.synthetic import make_synthetic

__all__ = [
    "MEDMNIST_INFO",
    "MODALITIES",
    "SPLITS",
    "ArrayImages",
    "DatasetError",
    "DuplicateReport",
    "FileImages",
    "ImageDataset",
    "ImageSource",
    "SegmentationSet",
    "SegmentationSplits",
    "available_datasets",
    "available_segmentation_datasets",
    "check_no_patient_leakage",
    "duplicate_report",
    "encode_labels",
    "find_duplicates",
    "hash_pixels",
    "load_dataset",
    "load_folder",
    "load_medmnist",
    "load_odir",
    "load_segmentation_dataset",
    "load_segmentation_folder",
    "make_mni152_tissue",
    "make_synthetic",
    "patient_split",
    "preview_grid",
    "read_image",
    "read_image_ref",
    "read_table",
    "register_dataset",
    "register_segmentation_dataset",
    "save_preview",
    "summarize",
    "write_npz",
]
