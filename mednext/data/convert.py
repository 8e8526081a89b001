"""Conversion of the extracted datasets to nnU-Net raw format, one checked case at a time.

``RawDatasetWriter`` writes into a hidden ``.<DatasetXXX_Name>.partial`` folder beside the target
and moves it into place only after every case was checked and ``dataset.json`` written, so an
nnU-Net raw folder that exists is complete. Each case is checked before it is copied
(``mednext.data.validate.check_case``: readable files, images on the label's grid, only the
expected label values). After a bad case the remaining cases are still checked (not copied), and
the conversion stops naming every bad case and its file.

The raw folder also holds ``conversion.json`` (the dataset it was converted from, and its cases). A
raw folder with it but without ``dataset.json`` is an earlier conversion that no longer counts as one
(Snakemake deletes a rule's output before it runs the rule again: a new release, other conversion
settings), and the next conversion replaces it; any other folder in the way is refused.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from nnunetv2.dataset_conversion.generate_dataset_json import generate_dataset_json

from mednext.data.validate import DatasetError, check_case, problems_error

__all__ = ["BRATS21_LABELS", "BRATS21_REGIONS", "BTCV_LABELS", "CONVERTERS", "ConversionError", "RawDatasetWriter",
           "convert_amos22", "convert_brats21", "convert_btcv", "convert_kits19"]

BTCV_LABELS = {"background": 0, "spleen": 1, "right kidney": 2, "left kidney": 3, "gallbladder": 4, "esophagus": 5,
               "liver": 6, "stomach": 7, "aorta": 8, "inferior vena cava": 9, "portal vein and splenic vein": 10,
               "pancreas": 11, "right adrenal gland": 12, "left adrenal gland": 13}
KITS19_LABELS = {"background": 0, "kidney": 1, "tumor": 2}
# BraTS21 after the official Task137 conversion (BraTS 2 -> 1, 1 -> 2, 4 -> 3): plain labels, trained with softmax
BRATS21_LABELS = {"background": 0, "edema": 1, "non-enhancing tumor": 2, "enhancing tumor": 3}
# nnU-Net v2's region-based alternative (Dataset137_BraTS21): sigmoid training on the evaluation regions
BRATS21_REGIONS = {"background": 0, "whole tumor": (1, 2, 3), "tumor core": (2, 3), "enhancing tumor": (3,)}
BRATS_MODALITIES = ("t1", "t1ce", "t2", "flair")  # channel order of nnU-Net's Dataset137_BraTS21
AMOS_FIRST_MRI_ID = 500  # AMOS22 case ids >= 500 are MRI; task 1 is the CT part


class ConversionError(DatasetError):
    """A source folder that cannot be converted; the message names the case or file."""


CONVERSION = "conversion.json"  # in a raw folder this module wrote


class RawDatasetWriter:
    """Collects checked cases in a partial folder; ``finish`` writes dataset.json and moves it into place.

    ``finish`` raises ``ConversionError`` listing every case ``add`` found bad.
    """

    def __init__(self, out_dir: str | Path, dataset: str):
        self.out_dir, self.dataset = Path(out_dir), dataset
        if (self.out_dir / "dataset.json").exists():
            raise ConversionError(f"{self.out_dir} already holds a converted dataset; delete it to convert again")
        if (self.out_dir / CONVERSION).is_file():  # an earlier conversion whose dataset.json was deleted
            shutil.rmtree(self.out_dir)
        elif self.out_dir.is_dir() and any(self.out_dir.iterdir()):
            raise ConversionError(f"{self.out_dir} exists without dataset.json and was not converted here (no "
                                  f"{CONVERSION}: left over from something else, or from a version before it "
                                  "was written); move it away or delete it, and run again")
        self.partial = self.out_dir.with_name(f".{self.out_dir.name}.partial")
        shutil.rmtree(self.partial, ignore_errors=True)
        (self.partial / "imagesTr").mkdir(parents=True)
        (self.partial / "labelsTr").mkdir()
        self.cases: list[str] = []
        self.seen: dict[str, Path] = {}  # case -> its label file, of every case added (checked or not)
        self.problems: list[str] = []

    def add(self, case: str, images: Sequence[Path], label: Path, allowed: set[int],
            write_label: Callable[[Path, Path], None] | None = None) -> None:
        try:
            check_case(list(images), label, allowed,
                       fix=f"Case {case} of {self.dataset} does not have the labels this dataset defines; the "
                           "download may be damaged or a different release (delete it and download again).")
        except DatasetError as err:
            self.problems.append(str(err))
        if case in self.seen:
            self.problems.append(f"{label}: case {case} of {self.dataset} comes twice (also {self.seen[case]}); "
                                 "the source lists it twice or two files map to one case id: remove the duplicate")
        self.seen.setdefault(case, label)
        if self.problems:  # the conversion will fail: check the remaining cases, copy nothing more
            return
        for channel, image in enumerate(images):
            shutil.copyfile(image, self.partial / "imagesTr" / f"{case}_{channel:04d}.nii.gz")
        (write_label or shutil.copyfile)(label, self.partial / "labelsTr" / f"{case}.nii.gz")
        self.cases.append(case)

    def finish(self, channel_names: dict, labels: dict, **dataset_json) -> Path:
        if self.problems:
            raise problems_error(f"converting {self.dataset}", self.problems, ConversionError)
        if not self.cases:
            raise ConversionError(f"no labelled cases found for {self.dataset}; is the download complete?")
        generate_dataset_json(str(self.partial), channel_names=channel_names, labels=labels,
                              num_training_cases=len(self.cases), file_ending=".nii.gz", **dataset_json)
        (self.partial / CONVERSION).write_text(json.dumps({"dataset": self.dataset, "cases": self.cases}, indent=2))
        if self.out_dir.is_dir():
            self.out_dir.rmdir()  # empty (checked above); Snakemake creates the output's folder
        self.partial.replace(self.out_dir)
        return self.out_dir

    def abort(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)


def _one(root: Path, pattern: str, what: str) -> Path:
    found = sorted(root.glob(pattern))
    if len(found) != 1:
        raise ConversionError(f"{root}: expected one {what} ({pattern}), found {len(found)}; is this the "
                              "expected archive?")
    return found[0]


def _numbered(folder: Path, prefix: str) -> dict[str, Path]:
    """``<prefix>NNNN.nii.gz`` of ``folder`` by number; any other NIfTI file there is refused, by name."""
    files = sorted(folder.glob("*.nii.gz"))
    odd = [p.name for p in files if not re.fullmatch(rf"{prefix}\d{{4}}\.nii\.gz", p.name)]
    if odd:
        raise ConversionError(f"{folder}: unexpected file(s) {odd}; the release names them {prefix}NNNN.nii.gz. "
                              "Remove the others (or download the archive again).")
    return {p.name[len(prefix): len(prefix) + 4]: p for p in files}


def convert_btcv(extracted: Path, writer: RawDatasetWriter) -> None:
    """``RawData/Training/{img,label}/{img,label}NNNN.nii.gz`` (Synapse syn3379050) -> BTCV_NNNN."""
    training = _one(extracted, "**/Training/img", "Training/img folder").parent
    images, labels = (_numbered(training / kind, kind) for kind in ("img", "label"))
    if set(images) != set(labels):
        odd = sorted(set(images) ^ set(labels))
        raise ConversionError(f"{training}: cases {odd} have an image or a label but not both")
    for number in sorted(labels):
        writer.add(f"BTCV_{number}", [images[number]], labels[number], set(BTCV_LABELS.values()))
    writer.finish({0: "CT"}, BTCV_LABELS, dataset_name=writer.out_dir.name,
                  reference="https://www.synapse.org/#!Synapse:syn3193805",
                  license="Synapse terms of use of syn3193805 (registration, research use)")


def convert_amos22(extracted: Path, writer: RawDatasetWriter, task: int = 1,
                   parts: Sequence[str] = ("training", "validation")) -> None:
    """``amos22/`` of Zenodo 7262581: the labelled cases of ``parts`` for AMOS22 ``task``.

    Task 1 (the default) is the CT task: case ids below 500 (ids 500 and up are MRI). With both
    labelled parts it is the case set of nnU-Net's ``Dataset218_Amos2022_task1``: the post-challenge
    release labels the validation cases too, so training (200 CT) and validation (100 CT) form one
    cross-validation pool of 300 cases. Task 2 keeps the MRI cases as well (360 with both parts).
    Config: ``datasets.amos22.cases`` (``task``, ``parts``).
    """
    if task not in (1, 2) or not parts or set(parts) - {"training", "validation"}:
        raise ConversionError(f"amos22 cases: task must be 1 (CT) or 2 (CT + MRI) and parts a non-empty subset of "
                              f"training, validation; got task={task!r}, parts={list(parts)!r}")
    base = _one(extracted, "**/imagesTr", "imagesTr folder").parent
    try:
        meta = json.loads((base / "dataset.json").read_text())
        labels = {name: int(value) for value, name in meta["labels"].items()}
    except (OSError, ValueError, KeyError, AttributeError) as err:
        raise ConversionError(f"{base / 'dataset.json'}: missing or not the release's dataset.json "
                              f"({type(err).__name__}: {err}); download the archive again") from err
    for part in parts:
        for entry in meta.get(part, []):
            image = base / entry["image"]
            case = image.name[: -len(".nii.gz")]
            if task == 1 and int(case.split("_")[-1]) >= AMOS_FIRST_MRI_ID:
                continue
            label = base / entry["label"] if entry.get("label") else base / f"labels{part[:2].title()}" / image.name
            writer.add(case, [image], label, set(labels.values()))
    channels = {0: "CT"} if task == 1 else {0: "CT or MRI"}  # not "CT": z-score normalisation, as nnU-Net's task 2
    writer.finish(channels, labels, dataset_name=writer.out_dir.name,
                  description=f"AMOS22 task {task} ({'CT' if task == 1 else 'CT and MRI'}), labelled cases of "
                              f"{' and '.join(parts)}",
                  reference="https://amos22.grand-challenge.org/", release="https://zenodo.org/records/7262581",
                  overwrite_image_reader_writer="NibabelIOWithReorient")


def convert_kits19(extracted: Path, writer: RawDatasetWriter, imaging: Path) -> None:
    """Labels ``data/case_XXXXX/segmentation.nii.gz`` of neheller/kits19 + ``imaging/case_XXXXX.nii.gz``."""
    segmentations = sorted(extracted.glob("**/data/case_*/segmentation.nii.gz"))
    for seg in segmentations:
        case = seg.parent.name
        writer.add(case, [imaging / f"{case}.nii.gz"], seg, set(KITS19_LABELS.values()))
    writer.finish({0: "CT"}, KITS19_LABELS, dataset_name=writer.out_dir.name,
                  reference="https://kits19.grand-challenge.org/",
                  license="KiTS19 challenge data terms (https://kits19.grand-challenge.org/)")


def convert_brats21(extracted: Path, writer: RawDatasetWriter, region_based: bool = False) -> None:
    """``BraTS2021_XXXXX/BraTS2021_XXXXX_{t1,t1ce,t2,flair,seg}.nii.gz`` -> labels 0-3, as the official code.

    The official MedNeXt Task137 conversion: BraTS labels 2/1/4 become 1 (edema), 2 (non-enhancing
    tumor) and 3 (enhancing tumor), and dataset.json declares these plain labels, so every model
    trains with softmax; the regions (whole tumor, tumor core, enhancing tumor) are applied only at
    evaluation (``mednext.evaluation.regions``). ``region_based=True`` declares the regions in
    dataset.json instead, as nnU-Net v2's ``Dataset137_BraTS21`` does (sigmoid region-based
    training); the label files are the same.
    """
    from nnunetv2.dataset_conversion.Dataset137_BraTS21 import copy_BraTS_segmentation_and_convert_labels_to_nnUNet

    def write_label(src: Path, dst: Path) -> None:
        copy_BraTS_segmentation_and_convert_labels_to_nnUNet(str(src), str(dst))

    for seg in sorted(extracted.glob("**/BraTS2021_*_seg.nii.gz")):
        case = seg.name[: -len("_seg.nii.gz")]
        images = [seg.with_name(f"{case}_{m}.nii.gz") for m in BRATS_MODALITIES]
        writer.add(case, images, seg, {0, 1, 2, 4}, write_label=write_label)
    labels = {"labels": BRATS21_REGIONS, "regions_class_order": (1, 2, 3)} if region_based else \
        {"labels": BRATS21_LABELS}
    writer.finish({0: "T1", 1: "T1ce", 2: "T2", 3: "Flair"}, **labels, dataset_name=writer.out_dir.name,
                  reference="https://www.synapse.org/#!Synapse:syn25829067",
                  license="BraTS 2021 data use agreement (Synapse syn25829067)")


CONVERTERS = {"btcv": convert_btcv, "amos22": convert_amos22, "kits19": convert_kits19, "brats21": convert_brats21}
