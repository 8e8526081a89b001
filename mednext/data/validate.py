"""Check an nnU-Net raw dataset case by case before anything is planned or trained.

Every case must have readable images and a readable label map on the same grid (shape and
affine), and the label map may only hold values that ``dataset.json`` declares. Every case is
checked before the check fails, and every bad case is reported, each with its file and the fix.

    python -m mednext.data.validate $nnUNet_raw/Dataset900_Phantom
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

from mednext.data.archives import check_gzip

__all__ = ["DatasetError", "check_case", "check_raw_dataset", "main", "problems_error", "read_nifti",
           "same_sitk_geometry"]


class DatasetError(ValueError):
    """A raw dataset that cannot be used; the message names the file(s) and the fix."""


def problems_error(where: str | Path, problems: list[str], error: type[DatasetError] = DatasetError) -> DatasetError:
    """One error that lists every problem found in ``where`` (one line each), so one run shows them all."""
    if len(problems) == 1:
        return error(problems[0])
    listed = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
    return error(f"{where}: {len(problems)} problems; fix each, then run again:\n{listed}")


def read_nifti(path: str | Path) -> tuple[nib.Nifti1Image, np.ndarray]:
    """The image and its voxels, read in full: a truncated or damaged file raises (nibabel's or gzip's error)."""
    img = nib.load(str(path))
    data = np.asanyarray(img.dataobj)
    if str(path).endswith(".gz"):  # nibabel stops at the data's end, before gzip's checksum: check it
        check_gzip(path)
    return img, data


def _load(path: Path) -> tuple[nib.Nifti1Image, np.ndarray]:
    try:
        return read_nifti(path)
    except Exception as err:
        raise DatasetError(f"{path}: not a readable NIfTI file ({type(err).__name__}: {err}). "
                           "Re-create or re-download this case, or remove it and update numTraining.") from err


def _declared_values(labels: dict) -> set[int]:
    values = set()
    for value in labels.values():
        values.update(int(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
    return values


def same_sitk_geometry(a: str | Path, b: str | Path) -> bool:
    """Whether SimpleITK, nnU-Net's reader and writer, gives both files one origin, spacing and direction.

    Asked where nibabel's affines differ: nibabel takes the sform first and gives a header with
    neither form (codes 0) a fallback affine, while nnU-Net reads (and exports predictions with)
    the geometry SimpleITK reads."""
    import SimpleITK as sitk

    readers = []
    for path in (a, b):
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()  # the header only
        readers.append(reader)
    return all(np.allclose(getattr(readers[0], f)(), getattr(readers[1], f)(), atol=1e-3)
               for f in ("GetOrigin", "GetSpacing", "GetDirection"))


def check_case(image_paths: list[Path], label_path: Path, allowed: set[int], fix: str = "") -> None:
    """One case: readable files, finite image voxels, images on the label's grid (shape and affine), known label
    values only."""
    label, values = _load(label_path)
    if label.ndim != 3:
        raise DatasetError(f"{label_path}: a label map must be 3D, got shape {label.shape}")
    unknown = sorted(set(np.unique(values).tolist()) - set(allowed))
    if unknown:
        raise DatasetError(f"{label_path}: unknown label value(s) {unknown}; expected only {sorted(allowed)}. {fix}")
    for image_path in image_paths:
        if not Path(image_path).is_file():
            raise DatasetError(f"{image_path}: missing image for the label {label_path}")
        image, voxels = _load(image_path)
        if voxels.dtype.kind in "fc" and not np.isfinite(voxels).all():
            bad = int(voxels.size - np.isfinite(voxels).sum())
            raise DatasetError(f"{image_path}: {bad} voxel(s) are NaN or infinite; replace them (e.g. with the "
                               "image's background value) or re-create this case, since training would diverge")
        if image.shape != label.shape:
            raise DatasetError(f"{image_path}: shape {image.shape} differs from its label {label_path} "
                               f"{label.shape}; image and label must share one 3D grid (nnU-Net's raw format "
                               "holds one channel per file: _0000, _0001, ...)")
        if not np.allclose(image.affine, label.affine, atol=1e-3) and not same_sitk_geometry(image_path, label_path):
            raise DatasetError(f"{image_path}: spacing/orientation (affine) differs from its label "
                               f"{label_path}; resample the label onto the image grid")


def check_raw_dataset(folder: str | Path) -> dict:
    """Validate ``folder`` (``imagesTr``, ``labelsTr``, ``dataset.json``); returns a summary or raises."""
    folder = Path(folder).resolve()  # a linked user dataset is reported where the user keeps it
    meta_path = folder / "dataset.json"
    if not meta_path.is_file():
        raise DatasetError(f"{meta_path}: missing; an nnU-Net raw dataset needs dataset.json")
    try:
        meta = json.loads(meta_path.read_text())
        ending = meta["file_ending"]  # nnU-Net's planning needs it (a KeyError there)
        channels = sorted(int(c) for c in meta["channel_names"])
        allowed = _declared_values(meta["labels"])
        expected = int(meta["numTraining"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DatasetError(f"{meta_path}: not a valid nnU-Net dataset.json ({type(err).__name__}: {err}); it needs "
                           "channel_names, labels (name -> integer value), numTraining and file_ending") from err
    # nnU-Net's own rules (LabelManager, verify_dataset_integrity), named here before planning reads every case
    if meta["labels"].get("background") != 0:
        raise DatasetError(f'{meta_path}: labels need "background": 0 (nnU-Net\'s rule); got {meta["labels"]}')
    if sorted(allowed) != list(range(len(allowed))):
        raise DatasetError(f"{meta_path}: label values {sorted(allowed)} are not consecutive (0, 1, 2, ...), as "
                           "nnU-Net requires; renumber the labels in dataset.json and in the label maps")
    images_dir, labels_dir = (folder / "imagesTr").resolve(), (folder / "labelsTr").resolve()  # linked: the user's
    labels = sorted(labels_dir.glob(f"*{ending}"))
    problems = []
    if len(labels) != expected:
        problems.append(f"{labels_dir}: {len(labels)} label files but dataset.json says numTraining="
                        f"{expected}; make them agree")
    for label_path in labels:
        case = label_path.name[: -len(ending)]
        try:
            check_case([images_dir / f"{case}_{c:04d}{ending}" for c in channels], label_path, allowed,
                       fix="Fix the label map or the labels in dataset.json.")
        except DatasetError as err:
            problems.append(str(err))
    if problems:
        raise problems_error(folder, problems)
    return {"folder": str(folder), "cases": len(labels), "channels": len(channels), "labels": sorted(allowed)}


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 1:
        print("usage: python -m mednext.data.validate RAW_DATASET_FOLDER [SUMMARY_JSON]", file=sys.stderr)
        return 2
    try:
        summary = check_raw_dataset(args[0])
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    text = json.dumps(summary, indent=2)
    if len(args) > 1:
        Path(args[1]).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
